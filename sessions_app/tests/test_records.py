"""Records and the Active conversation page as application tabs (REC-1, SES-3, ST-6):
fragments for htmx, pages of their own otherwise, fixed query counts, refusals explained."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.cases import conversation_case_create, conversation_case_link
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.models import Case, CaseStatus, Message, PreChatQuestion, SenderRole
from omnichannel.conversations.states import Channel, State

HTMX = {"HX-Request": "true"}


def tab(client, name, *args, **kw):
    return client.get(reverse(f"sessions_app:{name}", args=args), headers=HTMX, **kw)


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers=HTMX).status_code == 200
    return len(queries)


def test_active_conversation_shows_customer_account_case_and_summary(
    client, agent, contact, contact_chat, make_conversation, chat_workstream, sms_workstream, make_case
):
    """SES-3, REC-1: the Active conversation page names the contact and account, the case,
    and summarises the customer's earlier conversations with their first words."""
    earlier = make_conversation(sms_workstream, contact=contact)
    message_post(conversation=earlier, sender_role=SenderRole.CUSTOMER, body="My parcel is late")
    case = make_case("Parcel late", contact=contact)
    conversation_case_link(conversation=contact_chat, case=case, actor=agent)
    client.force_login(agent)
    response = tab(client, "active_conversation", contact_chat.pk)
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="record stack" id="active-conversation-')
    for text in ("Mette Larsen", contact.account.name, "Parcel late", "1 earlier conversation", "My parcel is late"):
        assert text in html
    assert f'data-open-tab="case:{case.pk}"' in html and f'data-open-tab="contact:{contact.pk}"' in html
    assert 'data-draft="active_conversation"' in html  # a typed, unsaved title survives (SES-4)
    page = client.get(reverse("sessions_app:active_conversation", args=[contact_chat.pk])).content.decode()
    assert "<html" in page and "Parcel late" in page


def test_active_conversation_of_a_visitor(client, agent, active_chat):
    """SES-3, SES-6: an anonymous visitor is "Visitor N", with no earlier conversations or account."""
    client.force_login(agent)
    html = tab(client, "active_conversation", active_chat.pk).content.decode()
    assert f"Visitor {active_chat.visitor_id}" in html
    assert "first conversation" in html
    assert "Link an existing case" not in html


def test_active_conversation_query_count_is_fixed(
    client, agent, contact, contact_chat, make_conversation, sms_workstream, make_case
):
    """SES-3: the page costs the same queries for 1 earlier conversation and for 10, with cases to link."""
    client.force_login(agent)
    url = reverse("sessions_app:active_conversation", args=[contact_chat.pk])

    def add(count):
        for _ in range(count):
            c = make_conversation(sms_workstream, contact=contact, case=make_case(contact=contact))
            message_post(conversation=c, sender_role=SenderRole.CUSTOMER, body="Hello")

    add(1)
    few = queries_for(client, url)
    add(9)
    assert queries_for(client, url) == few


def test_other_agents_conversations_are_not_shown(client, other_agent, contact_chat):
    """SEC-1: an agent does not reach a colleague's conversation or its customer's records."""
    client.force_login(other_agent)
    assert tab(client, "active_conversation", contact_chat.pk).status_code == 404
    assert tab(client, "contact", contact_chat.contact_id).status_code == 404
    assert tab(client, "account", contact_chat.contact.account_id).status_code == 404


def test_agent_creates_a_case_from_the_active_conversation(client, agent, contact_chat):
    """REC-1: the form creates and links the case; the tab comes back showing it."""
    client.force_login(agent)
    url = reverse("sessions_app:case_create", args=[contact_chat.pk])
    html = client.post(url, {"title": "Parcel lost"}, headers=HTMX).content.decode()
    assert "Case “Parcel lost” created and linked." in html
    contact_chat.refresh_from_db()
    assert contact_chat.case.title == "Parcel lost"
    timeline = client.get(reverse("conversations:detail", args=[contact_chat.pk])).content.decode()
    assert "Case created:</span> Parcel lost" in timeline


def test_a_blank_case_title_is_refused_in_the_tab(client, agent, contact_chat):
    """REC-1: bad input is explained in the tab and creates nothing; without htmx, on the page."""
    client.force_login(agent)
    url = reverse("sessions_app:case_create", args=[contact_chat.pk])
    html = client.post(url, {"title": "  "}, headers=HTMX).content.decode()
    assert "Give the case a title." in html
    page = client.post(url, {"title": ""}, follow=True).content.decode()
    assert "Give the case a title." in page
    assert not Case.objects.exists()


def test_refused_saves_answer_unprocessable_so_the_draft_is_kept(client, agent, contact_chat):
    """SES-4, REC-1: a refused case save answers htmx 422 (the tab still shows the refusal), so
    the workspace keeps the unsaved draft; only a 2xx answer means saved."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="First title")
    client.force_login(agent)
    refused = [
        (reverse("sessions_app:case_create", args=[contact_chat.pk]), {"title": "  "}, "Give the case a title."),
        (reverse("sessions_app:case_link", args=[contact_chat.pk]), {"case": "x"}, "Choose one of the listed cases."),
        (reverse("sessions_app:case", args=[case.pk]), {"title": "Typed", "status": "bogus"}, "is not a case status"),
    ]
    for url, data, message in refused:
        response = client.post(url, data, headers=HTMX)
        assert response.status_code == 422 and message in response.content.decode()
    saved = client.post(
        reverse("sessions_app:case", args=[case.pk]), {"title": "Typed", "status": "active"}, headers=HTMX
    )
    assert saved.status_code == 200


def test_agent_links_an_existing_case(client, agent, contact, contact_chat, make_case):
    """REC-1: the customer's active cases are offered; linking one is confirmed; a bad choice is refused."""
    case = make_case("Old invoice", contact=contact)
    make_case("Resolved one", contact=contact, status=CaseStatus.RESOLVED)
    client.force_login(agent)
    html = tab(client, "active_conversation", contact_chat.pk).content.decode()
    assert f'<option value="{case.pk}">Old invoice</option>' in html
    assert "Resolved one" not in html
    url = reverse("sessions_app:case_link", args=[contact_chat.pk])
    assert "Choose one of the listed cases." in client.post(url, {"case": "x"}, headers=HTMX).content.decode()
    html = client.post(url, {"case": case.pk}, headers=HTMX).content.decode()
    assert "Linked to the case “Old invoice”." in html
    contact_chat.refresh_from_db()
    assert contact_chat.case == case


def test_linking_a_case_not_offered_is_refused_without_its_title(client, agent, contact, contact_chat, make_case):
    """SEC-1, REC-1: a case id not among the listed ones (another customer's, or resolved) is
    refused with the same message, naming nothing, and nothing changes."""
    client.force_login(agent)
    url = reverse("sessions_app:case_link", args=[contact_chat.pk])
    for case in (make_case("Secret merger"), make_case("Closed secret", contact=contact, status=CaseStatus.RESOLVED)):
        response = client.post(url, {"case": case.pk}, headers=HTMX)
        html = response.content.decode()
        assert "Choose one of the listed cases." in html and "secret" not in html.lower()
    contact_chat.refresh_from_db()
    assert contact_chat.case is None


def test_case_tab_edits_title_and_status(client, agent, contact_chat):
    """REC-1: the case form saves title and status; a refused save keeps what was typed."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="First title")
    client.force_login(agent)
    html = tab(client, "case", case.pk).content.decode()
    assert f'data-draft="case:{case.pk}"' in html and 'value="First title"' in html
    url = reverse("sessions_app:case", args=[case.pk])
    html = client.post(url, {"title": "Better title", "status": "resolved"}, headers=HTMX).content.decode()
    assert "Case saved." in html
    case.refresh_from_db()
    assert (case.title, case.status) == ("Better title", CaseStatus.RESOLVED)
    html = client.post(url, {"title": "Typed but bad", "status": "bogus"}, headers=HTMX).content.decode()
    assert "“bogus” is not a case status." in html and 'value="Typed but bad"' in html
    case.refresh_from_db()
    assert case.title == "Better title"


def test_case_tab_is_read_only_for_agents_not_working_it(client, other_agent, supervisor, contact_chat):
    """REC-1, SEC-1: a supervisor sees the form; a colleague is refused saving."""
    case = conversation_case_create(conversation=contact_chat, actor=contact_chat.primary_agent, title="X")
    client.force_login(supervisor)
    assert 'data-draft="case:' in tab(client, "case", case.pk).content.decode()
    client.force_login(other_agent)
    assert tab(client, "case", case.pk).status_code == 404
    response = client.post(reverse("sessions_app:case", args=[case.pk]), {"title": "Y", "status": "active"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.title == "X"


def test_record_session_closes_after_the_case_is_resolved(client, agent, make_workstream, make_conversation, make_case):
    """ST-6: a record work item's tab offers Close session; it closes once its case is resolved."""
    case = make_case("Record to close")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    client.force_login(agent)
    html = tab(client, "active_conversation", record.pk).content.decode()
    assert "Close session" in html and "Create case" not in html
    client.post(reverse("sessions_app:close_session", args=[record.pk]))
    record.refresh_from_db()
    assert record.state == State.ACTIVE
    client.post(reverse("sessions_app:case", args=[case.pk]), {"title": case.title, "status": "resolved"})
    client.post(reverse("sessions_app:close_session", args=[record.pk]))
    record.refresh_from_db()
    assert record.state == State.CLOSED


@pytest.mark.parametrize("rows", [1, 10])
def test_record_tabs_have_fixed_query_counts(client, agent, contact, make_conversation, sms_workstream, rows):
    """REC-1: contact, account and case tabs cost the same queries for 1 and for 10 rows."""
    case = Case.objects.create(title="Shared", contact=contact, account=contact.account)
    for _ in range(rows):
        # Open in the agent's queue: visible to them (SEC-1) without holding their capacity.
        c = make_conversation(sms_workstream, contact=contact, case=case)
        Message.objects.create(conversation=c, sequence=1, sender_role=SenderRole.CUSTOMER, body="Hi")
        Case.objects.create(title="More", contact=contact, account=contact.account)
    client.force_login(agent)
    counts = {
        name: queries_for(client, reverse(f"sessions_app:{name}", args=[pk]))
        for name, pk in (("contact", contact.pk), ("account", contact.account_id), ("case", case.pk))
    }
    # One row or ten: the same numbers (the expected values are what one row costs).
    assert counts == EXPECTED_RECORD_QUERIES, counts


# Session, user, the user's and groups' permissions, then the record and its lists.
EXPECTED_RECORD_QUERIES = {"contact": 7, "account": 7, "case": 6}


def test_a_case_created_in_the_tab_is_a_work_item_and_the_tab_says_where(client, agent, contact_chat, make_workstream):
    """MSG-2, REC-1: creating the case in the Active conversation tab makes its record work item
    and says which queue it waits in; the case tab then shows the work item, not Route case."""
    cases = make_workstream(Channel.CASE)
    client.force_login(agent)
    url = reverse("sessions_app:case_create", args=[contact_chat.pk])
    html = client.post(url, {"title": "Back office"}, headers=HTMX).content.decode()
    assert f"Case “Back office” created and linked. It waits in {cases.default_queue} as a work item." in html
    contact_chat.refresh_from_db()
    html = tab(client, "case", contact_chat.case_id).content.decode()
    assert "Work item" in html and "Send to a queue as a work item" not in html


def test_without_a_case_workstream_the_tab_says_the_case_is_no_work_item(client, agent, contact_chat):
    """MSG-2: the agent is told when there is nowhere to route a new case."""
    client.force_login(agent)
    url = reverse("sessions_app:case_create", args=[contact_chat.pk])
    html = client.post(url, {"title": "Stays here"}, headers=HTMX).content.decode()
    assert "No case workstream is configured, so it is not a work item." in html


def test_case_tab_routes_a_case_without_a_work_item(client, agent, contact_chat, make_workstream, make_case):
    """MSG-2, REC-1: a linked case that is no work item is sent to a queue once from its tab;
    then the tab shows the work item."""
    case = make_case("Back office", contact=contact_chat.contact)
    conversation_case_link(conversation=contact_chat, case=case, actor=agent)
    cases = make_workstream(Channel.CASE)
    client.force_login(agent)
    html = tab(client, "case", case.pk).content.decode()
    assert "Send to a queue as a work item" in html
    url = reverse("sessions_app:case_route", args=[case.pk])
    assert (
        "Choose one of the listed workstreams." in client.post(url, {"workstream": "x"}, headers=HTMX).content.decode()
    )
    html = client.post(url, {"workstream": cases.pk}, headers=HTMX).content.decode()
    assert f"The case waits in {cases.default_queue} as a work item." in html
    assert "Send to a queue as a work item" not in html and "Work item" in html
    assert case.conversations.filter(workstream=cases, state=State.OPEN).count() == 1


def test_what_customers_typed_is_shown_escaped(client, agent, chat_workstream, make_conversation):
    """SEC-1, SES-3: pre-chat answers (under their questions) and earlier messages appear as
    text, never as markup."""
    from omnichannel.conversations.models import Visitor

    visitor = Visitor.objects.create()
    earlier = make_conversation(chat_workstream, visitor=visitor)
    message_post(conversation=earlier, sender_role=SenderRole.CUSTOMER, body="<img src=x onerror=alert(1)>")
    PreChatQuestion.objects.create(workstream=chat_workstream, key="order", label="Order number")
    current = make_conversation(chat_workstream, visitor=visitor, context={"prechat": {"order": "<script>x</script>"}})
    conversation_pick(conversation=current, agent=agent)
    client.force_login(agent)
    html = tab(client, "active_conversation", current.pk).content.decode()
    assert "<dt>Order number</dt><dd>&lt;script&gt;x&lt;/script&gt;</dd>" in html and "<script>x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
