"""Sessions through their actions and views: opening, switching, closing, drafts (SES-1 … SES-9)."""

import json

import pytest
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_offer, conversation_pick
from omnichannel.conversations.actions.cases import case_resolve
from omnichannel.conversations.actions.ending import conversation_end
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.errors import ConversationError, InvalidInput, NotPermitted
from omnichannel.conversations.models import AgentProfile, Case, Contact, Message, SenderRole
from omnichannel.conversations.states import Channel, State
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession
from sessions_app.selectors import session_tabs, workspace_sessions

HTMX = {"HX-Request": "true"}


def customer_writes(conversation, body="Hello?"):
    message_post(conversation=conversation, sender_role=SenderRole.CUSTOMER, body=body)


def test_accept_starts_a_session_with_active_conversation_and_knowledge_tabs(client, agent, open_chat):
    """SES-3: accepting starts the conversation's session, focused, with the Active conversation
    and Knowledge base search application tabs; the workspace shows it."""
    conversation_offer(conversation=open_chat, agent=agent)
    client.force_login(agent)
    response = client.post(reverse("sessions_app:accept", args=[open_chat.pk]), headers=HTMX)
    assert response.headers["HX-Redirect"] == "/agent/"
    session = AgentSession.objects.get(agent=agent)
    assert (session.conversation, session.focused) == (open_chat, True)
    assert session.tabs == ["active_conversation", "knowledge_search"]
    assert session.active_tab == "active_conversation"


def test_pick_starts_a_session(client, agent, open_chat):
    """SES-2, SES-3: Pick on an Open work item starts its session."""
    client.force_login(agent)
    client.post(reverse("sessions_app:pick", args=[open_chat.pk]), headers=HTMX)
    assert AgentSession.objects.get(agent=agent).conversation == open_chat


def test_open_work_items_need_picking_and_others_conversations_stay_closed(agent, other_agent, open_chat, active_chat):
    """SES-2, SEC-1: Open work items are picked, not opened; a colleague's conversation never opens."""
    with pytest.raises(NotPermitted):
        session_actions.session_open(agent=other_agent, conversation=active_chat)
    assert not AgentSession.objects.exists()


def test_an_offer_opens_as_a_session_only_once_accepted(client, agent, open_chat):
    """RT-3, SEC-1: a conversation offered to the agent (Active, not accepted) does not open as a
    session by Open; Accept starts it."""
    conversation_offer(conversation=open_chat, agent=agent)
    with pytest.raises(NotPermitted):
        session_actions.session_open(agent=agent, conversation=open_chat)
    client.force_login(agent)
    response = client.post(
        reverse("sessions_app:session_open"), {"target": f"conversation:{open_chat.pk}"}, headers=HTMX
    )
    assert "accept" in response.content.decode().lower()
    assert not AgentSession.objects.exists()
    open_chat.refresh_from_db()
    assert open_chat.accepted_at is None


def test_opening_twice_focuses_the_same_session(agent, active_chat):
    first = session_actions.session_open(agent=agent, conversation=active_chat)
    again = session_actions.session_open(agent=agent, conversation=active_chat)
    assert first.pk == again.pk and AgentSession.objects.count() == 1


def test_switching_moves_the_focus_and_home_is_no_session(agent, active_chat, active_sms):
    """SES-1: one session has the focus; Home has it when none does."""
    chat = session_actions.session_open(agent=agent, conversation=active_chat)
    sms = session_actions.session_open(agent=agent, conversation=active_sms)
    assert list(AgentSession.objects.filter(focused=True)) == [sms]
    session_actions.session_focus(agent=agent, session=chat)
    assert list(AgentSession.objects.filter(focused=True)) == [chat]
    session_actions.session_focus(agent=agent, session=None)
    assert not AgentSession.objects.filter(focused=True).exists()


def test_unread_counts_customer_messages_outside_the_focus_and_focus_clears(agent, active_chat, active_sms):
    """SES-8: messages to a session not in focus count as unread; focusing it clears the count."""
    chat = session_actions.session_open(agent=agent, conversation=active_chat)
    session_actions.session_open(agent=agent, conversation=active_sms)
    for n in range(11):
        customer_writes(active_chat, f"message {n}")
    customer_writes(active_sms, "focused, so read")
    items = {item.session.conversation_id: item for item in workspace_sessions(agent)}
    assert (items[active_chat.pk].unread, items[active_chat.pk].unread_badge) == (11, "9+")
    assert items[active_sms.pk].unread == 0
    session_actions.session_focus(agent=agent, session=chat)
    items = {item.session.conversation_id: item for item in workspace_sessions(agent)}
    assert items[active_chat.pk].unread == 0
    # What came while the SMS session had the focus was seen there.
    assert items[active_sms.pk].unread == 0


def test_sentiment_alert_at_the_workstreams_threshold(agent, active_chat):
    """SES-7: a session whose sentiment reaches the threshold shows the alert with its tooltip."""
    session_actions.session_open(agent=agent, conversation=active_chat)
    customer_writes(active_chat, "This is terrible, awful, the worst service ever. I hate it.")
    (item,) = workspace_sessions(agent)
    assert item.alert
    assert item.alert_tooltip == f"{item.title}. It's important that you are very attentive in your conversation."


@pytest.mark.parametrize(
    ("fixture", "end_first", "persistent", "moved_to"),
    [
        ("active_chat", False, False, State.OPEN),  # ST-4
        ("active_chat", False, True, State.WAITING),  # ST-24
        ("active_sms", False, False, State.WAITING),  # ST-5
        ("active_chat", True, False, State.CLOSED),  # ST-8
    ],
)
def test_closing_a_session_moves_the_conversation_by_its_kind(request, agent, fixture, end_first, persistent, moved_to):
    """SES-5: closing the session moves the conversation as section 1 says for its kind."""
    conversation = request.getfixturevalue(fixture)
    if persistent:
        conversation.workstream.persistent_chat = True
        conversation.workstream.save()
    if end_first:
        conversation_end(conversation=conversation, agent=agent)
    session = session_actions.session_open(agent=agent, conversation=conversation)
    session_actions.session_close(agent=agent, session=session)
    conversation.refresh_from_db()
    assert conversation.state == moved_to
    assert not AgentSession.objects.exists()


def test_closing_a_record_session_with_an_active_case_is_refused(agent, make_workstream, make_conversation):
    """SES-5, ST-6, ST-13: a record's session closes its work item only once the case is resolved;
    before that the refusal says why and the session stays."""
    case = Case.objects.create(title="Broken tent pole")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    session = session_actions.session_open(agent=agent, conversation=record)
    with pytest.raises(ConversationError, match="Active"):
        session_actions.session_close(agent=agent, session=session)
    assert AgentSession.objects.filter(pk=session.pk).exists()
    case_resolve(case=case, actor=agent)
    session_actions.session_close(agent=agent, session=session)
    record.refresh_from_db()
    assert record.state == State.CLOSED


def test_case_and_contact_sessions_open_their_record_tab(agent, other_agent, make_conversation, sms_workstream):
    """SES-2, SEC-1: a case or contact of the agent's conversations starts its own session
    showing its record; a colleague cannot open them."""
    case = Case.objects.create(title="Refund")
    contact = Contact.objects.create(first_name="Kenny", last_name="Smith")
    conversation_pick(conversation=make_conversation(sms_workstream, contact=contact, case=case), agent=agent)
    for target in ({"case": case}, {"contact": contact}):
        with pytest.raises(NotPermitted):
            session_actions.session_open(agent=other_agent, **target)
    case_session = session_actions.session_open(agent=agent, case=case)
    contact_session = session_actions.session_open(agent=agent, contact=contact)
    assert case_session.tabs == [f"case:{case.pk}"] and contact_session.tabs == [f"contact:{contact.pk}"]
    assert [item.title for item in workspace_sessions(agent)] == ["Refund", "Kenny Smith"]
    assert [item.icon for item in workspace_sessions(agent)] == ["Re", "Ke"]


def test_drafts_are_kept_per_session_and_bad_ones_change_nothing(client, agent, active_chat):
    """SES-4: unsaved fields are stored as typed; a malformed draft is refused and nothing changes."""
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    client.force_login(agent)
    url = reverse("sessions_app:session_drafts", args=[session.pk])
    ok = client.post(url, {"drafts": json.dumps({"active_conversation": {"title": "Tent pole"}})})
    assert ok.status_code == 204
    for bad in ("not json", json.dumps({"active_conversation": {"title": 5}}), json.dumps(["x"]), json.dumps({"": {}})):
        response = client.post(url, {"drafts": bad})
        assert response.status_code == 400 and response.content
    session.refresh_from_db()
    assert session.draft == {"active_conversation": {"title": "Tent pole"}}
    client.post(url, {"drafts": json.dumps({"active_conversation": None})})
    session.refresh_from_db()
    assert session.draft == {}


def test_closing_a_tab_drops_its_draft_and_drafts_belong_to_open_tabs(client, agent, active_chat):
    """SES-4, SES-9: a draft is kept under its application tab's key, the key the tab's form
    carries; closing the tab drops it, and a draft for a tab not open is refused, so drafts
    never pile up."""
    case = Case.objects.create(title="Refund")
    type(active_chat).objects.filter(pk=active_chat.pk).update(case=case)
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    session = session_actions.session_tab_open(agent=agent, session=session, tab=f"case:{case.pk}")
    client.force_login(agent)
    form = client.get(reverse("sessions_app:case", args=[case.pk]), headers=HTMX).content.decode()
    assert f'data-draft="case:{case.pk}"' in form
    url = reverse("sessions_app:session_drafts", args=[session.pk])
    drafts = {f"case:{case.pk}": {"title": "Refund twice"}, "active_conversation": {"title": "New one"}}
    assert client.post(url, {"drafts": json.dumps(drafts)}).status_code == 204
    session_actions.session_tab_close(agent=agent, session=session, tab=f"case:{case.pk}")
    session.refresh_from_db()
    assert session.draft == {"active_conversation": {"title": "New one"}}
    late = client.post(url, {"drafts": json.dumps({f"case:{case.pk}": {"title": "Too late"}})})
    assert late.status_code == 400 and b"open tab" in late.content
    session.refresh_from_db()
    assert session.draft == {"active_conversation": {"title": "New one"}}


def test_tabs_open_and_close_per_session(agent, active_chat, active_sms):
    """SES-9: each session keeps its own application tabs; the first tab stays."""
    chat = session_actions.session_open(agent=agent, conversation=active_chat)
    sms = session_actions.session_open(agent=agent, conversation=active_sms)
    case = Case.objects.create(title="Refund")
    type(active_chat).objects.filter(pk=active_chat.pk).update(case=case)
    chat = session_actions.session_tab_open(agent=agent, session=chat, tab=f"case:{case.pk}")
    assert chat.tabs[-1] == f"case:{case.pk}" and chat.active_tab == f"case:{case.pk}"
    sms.refresh_from_db()
    assert f"case:{case.pk}" not in sms.tabs
    with pytest.raises(InvalidInput):
        session_actions.session_tab_open(agent=agent, session=chat, tab="settings")
    with pytest.raises(ConversationError):
        session_actions.session_tab_close(agent=agent, session=chat, tab="active_conversation")
    chat = session_actions.session_tab_close(agent=agent, session=chat, tab=f"case:{case.pk}")
    assert chat.tabs == ["active_conversation", "knowledge_search"]


def test_another_agents_session_is_not_found(client, agent, other_agent, active_chat):
    """SEC-1: an agent reaches only their own sessions."""
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    client.force_login(other_agent)
    for name in ("session_focus", "session_close", "session_tab", "session_drafts"):
        assert client.post(reverse(f"sessions_app:{name}", args=[session.pk]), headers=HTMX).status_code == 404
    assert AgentSession.objects.filter(pk=session.pk).exists()


def test_closing_in_the_communication_panel_closes_the_session(client, agent, active_chat):
    """SES-5: Close session in the communication panel also takes the session off the panel."""
    session_actions.session_open(agent=agent, conversation=active_chat)
    client.force_login(agent)
    client.post(reverse("sessions_app:close_session", args=[active_chat.pk]), headers=HTMX)
    active_chat.refresh_from_db()
    assert active_chat.state == State.OPEN and not AgentSession.objects.exists()


def test_opening_a_session_counts_what_is_there_as_seen(agent, active_chat):
    """SES-8: a session opens with nothing unread: the agent sees the transcript."""
    customer_writes(active_chat)
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    session.refresh_from_db()
    assert session.seen_sequence == Message.objects.filter(conversation=active_chat).count()


@pytest.mark.parametrize("target", ["", "case", "case:abc", "conversation:999999", "settings:1", "contact:-1"])
def test_opening_a_session_for_nothing_is_explained(client, agent, target):
    """SES-2: a malformed or unknown target is refused with a clear message; nothing opens."""
    client.force_login(agent)
    response = client.post(reverse("sessions_app:session_open"), {"target": target}, headers=HTMX)
    assert "Choose a conversation, case or contact to open." in response.content.decode()
    assert not AgentSession.objects.exists()


def test_a_conversation_taken_from_the_agent_shows_nothing_in_their_session(
    client, agent, other_agent, supervisor, active_sms, other_queue
):
    """SEC-1, SES-5: after a transfer the agent's session stays until closed but shows neither
    transcript nor tabs; closing it moves nothing."""
    message_post(conversation=active_sms, sender_role=SenderRole.CUSTOMER, body="Secret order 42")
    session = session_actions.session_open(agent=agent, conversation=active_sms)
    conversation_transfer_to_queue(conversation=active_sms, queue=other_queue, actor=agent)
    other_queue.members.add(other_agent)
    conversation_pick(conversation=active_sms, agent=other_agent)
    client.force_login(agent)
    page = client.get(reverse("sessions_app:home")).content.decode()
    assert "This conversation is no longer yours" in page and "Secret order 42" not in page
    session_actions.session_close(agent=agent, session=session)
    active_sms.refresh_from_db()
    assert active_sms.state == State.ACTIVE and active_sms.primary_agent == other_agent


def test_a_conversation_transferred_away_leaks_nothing_through_the_session_panel(
    client, agent, other_agent, active_sms, active_chat, other_queue
):
    """SEC-1: the old agent's session of a transferred conversation keeps its title but shows
    neither its state and sentiment in the header nor an alert or unread count on its icon."""
    session = session_actions.session_open(agent=agent, conversation=active_sms)
    session_actions.session_open(agent=agent, conversation=active_chat)
    conversation_transfer_to_queue(conversation=active_sms, queue=other_queue, actor=agent)
    other_queue.members.add(other_agent)
    conversation_pick(conversation=active_sms, agent=other_agent)
    customer_writes(active_sms, "This is terrible, awful, the worst service ever. I hate it.")
    item = next(item for item in workspace_sessions(agent) if item.pk == session.pk)
    assert (item.unread, item.unread_badge, item.alert, item.conversation) == (0, "", False, None)
    session_actions.session_focus(agent=agent, session=session)
    client.force_login(agent)
    page = client.get(reverse("sessions_app:home")).content.decode()
    header = page[page.index(f'id="session-header-{session.pk}"') :].split("</header>")[0]
    assert "badge" not in header and "sentiment" not in header and "SMS" not in header


def test_open_on_a_waiting_work_item_resumes_it(agent, active_sms):
    """SES-2, ST-10: Open on a Waiting conversation in My work items resumes it to Active."""
    session = session_actions.session_open(agent=agent, conversation=active_sms)
    session_actions.session_close(agent=agent, session=session)
    active_sms.refresh_from_db()
    assert active_sms.state == State.WAITING
    session_actions.session_open(agent=agent, conversation=active_sms)
    active_sms.refresh_from_db()
    assert active_sms.state == State.ACTIVE and AgentSession.objects.filter(conversation=active_sms).exists()


@pytest.mark.parametrize("kind", ["case", "contact", "account"])
def test_a_record_tab_opens_only_for_records_the_agent_may_see(agent, active_chat, kind):
    """SEC-1, SES-9: a tab for a colleague's case, contact or account is refused and its name
    never shows in the tab strip, even when the tab got into the session before."""
    from omnichannel.conversations.models import Account

    account = Account.objects.create(name="Secret Holdings")
    record = {
        "case": lambda: Case.objects.create(title="Secret merger"),
        "contact": lambda: Contact.objects.create(first_name="Secret", last_name="Person"),
        "account": lambda: account,
    }[kind]()
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    with pytest.raises(NotPermitted):
        session_actions.session_tab_open(agent=agent, session=session, tab=f"{kind}:{record.pk}")
    session.refresh_from_db()
    assert session.tabs == ["active_conversation", "knowledge_search"]
    # A tab kept from before the record stopped being the agent's shows no name.
    AgentSession.objects.filter(pk=session.pk).update(tabs=[*session.tabs, f"{kind}:{record.pk}"])
    session.refresh_from_db()
    labels = [tab.label for tab in session_tabs(session, agent=agent)]
    assert not any("Secret" in label for label in labels)


@pytest.mark.parametrize(
    ("act", "extra"),
    [
        (session_actions.session_focus, {}),
        (session_actions.session_close, {}),
        (session_actions.session_tab_open, {"tab": "knowledge_search"}),
        (session_actions.session_tab_close, {"tab": "knowledge_search"}),
        (session_actions.session_drafts_save, {"drafts": {"active_conversation": {"title": "x"}}}),
    ],
)
def test_every_session_action_refuses_another_agents_session(agent, other_agent, active_chat, act, extra):
    """SEC-1: an agent acts only on their own sessions; the refusal changes nothing."""
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    with pytest.raises(NotPermitted, match="This is not your session."):
        act(agent=other_agent, session=session, **extra)
    assert AgentSession.objects.get(pk=session.pk).tabs == ["active_conversation", "knowledge_search"]
    assert AgentSession.objects.get(pk=session.pk).draft == {}


def test_assigned_work_gets_its_session_without_taking_the_focus(
    agent, supervisor, active_chat, active_sms, make_conversation, chat_workstream
):
    """SES-3, SUP-5: an Active conversation that is the agent's by an assignment gets its
    session, appended unfocused, once; work they picked (opened when picked), an offer not yet
    accepted and work no longer Active get none."""
    AgentProfile.objects.filter(user=agent).update(capacity=100)
    focused = session_actions.session_open(agent=agent, conversation=active_chat)
    assigned = make_conversation(chat_workstream)
    conversation_assign(conversation=assigned, agent=agent, actor=supervisor)
    offered = make_conversation(chat_workstream)
    conversation_offer(conversation=offered, agent=agent)
    conversation_end(conversation=active_chat, agent=agent)  # Wrap-up, and its session stays
    started = session_actions.sessions_open_assigned(agent=agent)
    assert [(s.conversation, s.focused, s.position) for s in started] == [(assigned, False, focused.position + 1)]
    assert AgentSession.objects.get(focused=True) == focused
    assert session_actions.sessions_open_assigned(agent=agent) == []
    assert AgentSession.objects.filter(agent=agent).count() == 2  # not active_sms: picked, not assigned


def test_a_full_panel_leaves_assigned_work_in_my_work_items(agent, supervisor, open_chat, monkeypatch):
    """SES-3: with the panel full, nothing more opens; the work stays in My work items."""
    conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)
    monkeypatch.setattr(session_actions, "MAX_SESSIONS", 0)
    assert session_actions.sessions_open_assigned(agent=agent) == []
    assert not AgentSession.objects.exists()
