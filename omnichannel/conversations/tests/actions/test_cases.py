"""Records: cases created, linked and edited from conversations (REC-1); record work items (ST-6)."""

import json

import pytest

from omnichannel.conversations import groups
from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.cases import (
    case_create,
    case_resolve,
    case_route,
    case_update,
    conversation_case_create,
    conversation_case_link,
)
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.errors import ConversationError, InvalidInput, NotPermitted
from omnichannel.conversations.models import Case, CaseStatus
from omnichannel.conversations.states import Action, Channel, IllegalTransition, State


def test_resolving_the_case_and_closing_the_session_closes_the_record(make_workstream, make_conversation, agent):
    """ST-6: a record closes when its case is resolved and the session closed; not before."""
    case = Case.objects.create(title="Broken delivery")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    with pytest.raises(IllegalTransition, match="Resolve or deactivate the case first"):
        conversation_close_session(conversation=record, agent=agent)
    record.refresh_from_db()
    assert record.state == State.ACTIVE

    case_resolve(case=case, actor=agent)
    conversation_close_session(conversation=record, agent=agent)
    record.refresh_from_db()
    assert record.state == State.CLOSED
    assert record.events.last().detail["rule"] == "ST-6"


def test_only_the_cases_agent_or_a_supervisor_resolves_it(make_workstream, make_conversation, agent, other_agent):
    """REC-1, SEC-1: an agent cannot resolve a case they do not work on; nothing changes."""
    case = Case.objects.create(title="Someone else's")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    with pytest.raises(NotPermitted):
        case_resolve(case=case, actor=other_agent)
    case.refresh_from_db()
    assert not case.is_closed


# --- creating and linking cases from a conversation (REC-1) -------------------------------


def case_events(conversation):
    return list(conversation.events.filter(action__startswith="case_").order_by("id"))


def test_agent_creates_a_case_from_a_conversation(contact_chat, contact, agent):
    """REC-1: the case belongs to the conversation's contact and account; the conversation
    links to it; the timeline records who created it; the state does not move."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="  Parcel never arrived ")
    contact_chat.refresh_from_db()
    assert contact_chat.case == case
    assert (case.title, case.status, case.contact, case.account) == (
        "Parcel never arrived",
        CaseStatus.ACTIVE,
        contact,
        contact.account,
    )
    [event] = case_events(contact_chat)
    assert (event.action, event.actor, event.from_state, event.to_state) == (
        Action.CASE_CREATE,
        agent,
        State.ACTIVE,
        State.ACTIVE,
    )
    assert event.detail == {"case": case.pk, "case_title": "Parcel never arrived"}
    assert contact_chat.state == State.ACTIVE


def test_a_visitors_case_has_no_customer_and_the_session_stays_visitor_n(active_chat, agent):
    """REC-1, SES-6: an anonymous chat's case has no contact; the chat is still "Visitor N"."""
    case = conversation_case_create(conversation=active_chat, actor=agent, title="Question about sizes")
    active_chat.refresh_from_db()
    assert case.contact is None and case.account is None
    assert active_chat.title == f"Visitor {active_chat.visitor_id}"


@pytest.mark.parametrize(
    ("title", "error"),
    [("   ", "Give the case a title."), ("x" * 201, "at most 200 characters; this one has 201")],
)
def test_a_case_needs_a_title_of_at_most_200_characters(contact_chat, agent, title, error):
    """REC-1: bad input gets a clear error and changes nothing."""
    with pytest.raises(InvalidInput, match=error):
        conversation_case_create(conversation=contact_chat, actor=agent, title=title)
    contact_chat.refresh_from_db()
    assert contact_chat.case is None
    assert not Case.objects.exists()
    assert case_events(contact_chat) == []


def test_only_the_conversations_agents_or_a_supervisor_change_its_case(contact_chat, other_agent, supervisor):
    """REC-1, SEC-1: another agent is refused; a supervisor may."""
    with pytest.raises(NotPermitted):
        conversation_case_create(conversation=contact_chat, actor=other_agent, title="Not mine")
    assert not Case.objects.exists()
    contact_chat.consultants.add(other_agent)
    conversation_case_create(conversation=contact_chat, actor=other_agent, title="As consultant")
    conversation_case_create(conversation=contact_chat, actor=supervisor, title="As supervisor")
    contact_chat.refresh_from_db()
    assert contact_chat.case.title == "As supervisor"


def test_closed_conversations_and_record_work_items_keep_their_case(
    contact_chat, agent, make_workstream, make_conversation, make_case
):
    """REC-1, ST-12: nothing changes a Closed conversation; a record work item is its case."""
    conversation_end(conversation=contact_chat, agent=agent)
    conversation_close_session(conversation=contact_chat, agent=agent)
    with pytest.raises(IllegalTransition, match="Cannot create a case for it: the conversation is Closed."):
        conversation_case_create(conversation=contact_chat, actor=agent, title="Too late")
    record = make_conversation(make_workstream(Channel.CASE), case=make_case())
    conversation_pick(conversation=record, agent=agent)
    with pytest.raises(InvalidInput, match="is its case"):
        conversation_case_create(conversation=record, actor=agent, title="Another")
    assert Case.objects.count() == 1


def test_agent_links_an_active_case_of_the_same_customer(contact_chat, contact, agent, make_case):
    """REC-1: the contact's own cases and their account's can be linked; the link is recorded."""
    own = make_case("Own case", contact=contact)
    accounts = make_case("Account's case", account=contact.account)
    conversation_case_link(conversation=contact_chat, case=own, actor=agent)
    conversation_case_link(conversation=contact_chat, case=accounts, actor=agent)
    contact_chat.refresh_from_db()
    assert contact_chat.case == accounts
    first, second = case_events(contact_chat)
    assert (first.action, first.detail["case_title"]) == (Action.CASE_LINK, "Own case")
    assert second.detail == {"case": accounts.pk, "case_title": "Account's case", "previous_case_title": "Own case"}


def test_linking_refuses_other_customers_inactive_and_already_linked_cases(
    contact_chat, contact, agent, make_case, active_chat
):
    """REC-1: each refusal says why and changes nothing."""
    stranger = make_case("Someone else's")
    resolved = make_case("Done", contact=contact, status=CaseStatus.RESOLVED)
    own = make_case("Own", contact=contact)
    with pytest.raises(NotPermitted, match="belongs to another customer"):
        conversation_case_link(conversation=contact_chat, case=stranger, actor=agent)
    with pytest.raises(ConversationError, match="“Done” is Resolved; only active cases can be linked"):
        conversation_case_link(conversation=contact_chat, case=resolved, actor=agent)
    with pytest.raises(NotPermitted, match="belongs to another customer"):
        conversation_case_link(conversation=active_chat, case=own, actor=agent)  # an anonymous visitor
    conversation_case_link(conversation=contact_chat, case=own, actor=agent)
    with pytest.raises(InvalidInput, match="already linked"):
        conversation_case_link(conversation=contact_chat, case=own, actor=agent)
    assert len(case_events(contact_chat)) == 1


def test_case_change_is_pushed_after_commit(contact_chat, agent, django_capture_on_commit_callbacks, sent_pushes):
    """REC-1: the workspace and the conversation page hear of the new case once it is committed."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation_case_create(conversation=contact_chat, actor=agent, title="Pushed")
        assert sent_pushes == []
    for callback in callbacks:
        callback()
    assert (groups.agent_group(agent.pk),) in {names for names, _ in sent_pushes}
    payload = sent_pushes[-1][1]
    assert json.loads(json.dumps(payload)) == payload
    assert payload["type"] == "conversation.changed" and payload["conversation_ids"] == [contact_chat.pk]


# --- editing cases (REC-1, ST-6) ----------------------------------------------------------


def test_agent_edits_the_title_and_status_of_their_case(contact_chat, agent, make_case, contact):
    """REC-1: title and status change together; the conversation's timeline records what changed."""
    case = make_case("Old title", contact=contact)
    conversation_case_link(conversation=contact_chat, case=case, actor=agent)
    case_update(case=case, actor=agent, title="New title", status=CaseStatus.CANCELLED)
    case.refresh_from_db()
    assert (case.title, case.status) == ("New title", CaseStatus.CANCELLED)
    event = case_events(contact_chat)[-1]
    assert event.action == Action.CASE_UPDATE and event.actor == agent
    assert event.detail["changes"] == {"title": ["Old title", "New title"], "status": ["active", "cancelled"]}
    assert event.detail["status_label"] == "Cancelled"


def test_saving_an_unchanged_case_records_nothing(contact_chat, agent):
    """REC-1: no change, no event."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Same")
    case_update(case=case, actor=agent, title="Same", status=CaseStatus.ACTIVE)
    assert len(case_events(contact_chat)) == 1


@pytest.mark.parametrize(
    ("title", "status", "error"),
    [("", "active", "Give the case a title."), ("Fine", "closed", "“closed” is not a case status.")],
)
def test_bad_case_edits_are_refused(contact_chat, agent, title, status, error):
    """REC-1: bad input gets a clear error and changes nothing."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Keep me")
    with pytest.raises(InvalidInput, match=error):
        case_update(case=case, actor=agent, title=title, status=status)
    case.refresh_from_db()
    assert (case.title, case.status) == ("Keep me", CaseStatus.ACTIVE)


def test_only_the_cases_agents_or_a_supervisor_edit_it(contact_chat, agent, other_agent, supervisor):
    """REC-1, SEC-1: an agent with no conversation of the case is refused."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Mine")
    with pytest.raises(NotPermitted):
        case_update(case=case, actor=other_agent, title="Theirs", status=CaseStatus.ACTIVE)
    case_update(case=case, actor=supervisor, title="Supervised", status=CaseStatus.ACTIVE)
    case.refresh_from_db()
    assert case.title == "Supervised"


def test_making_the_case_inactive_and_closing_the_session_closes_the_record(
    make_workstream, make_conversation, agent, make_case
):
    """ST-6: a cancelled (inactive) case closes its record work item with the session, and a
    resolved case made active again keeps it open."""
    case = make_case("Reactivated")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    case_resolve(case=case, actor=agent)
    case_update(case=case, actor=agent, title=case.title, status=CaseStatus.ACTIVE)
    with pytest.raises(IllegalTransition, match="Resolve or deactivate the case first"):
        conversation_close_session(conversation=record, agent=agent)
    case_update(case=case, actor=agent, title=case.title, status=CaseStatus.CANCELLED)
    conversation_close_session(conversation=record, agent=agent)
    record.refresh_from_db()
    assert record.state == State.CLOSED
    assert [e.detail.get("status_label") for e in case_events(record)] == ["Resolved", "Active", "Cancelled"]


def test_resolving_twice_is_refused(make_workstream, make_conversation, agent, make_case):
    """ST-6: only an active case can be resolved."""
    case = make_case("Once")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    conversation_pick(conversation=record, agent=agent)
    case_resolve(case=case, actor=agent)
    with pytest.raises(ConversationError, match="is not active"):
        case_resolve(case=case, actor=agent)


# --- cases as record work items (MSG-2) -----------------------------------------------------


def test_a_case_created_from_a_conversation_is_a_record_work_item_routed_like_any_other(
    contact_chat, agent, make_workstream, other_queue
):
    """MSG-2, ST-6: creating the case makes its record work item at once, in the first case
    workstream by name, sent to a queue by that workstream's rules; Open there with the case
    and its contact, created by the agent, who is its first agent (RT-5)."""
    from omnichannel.conversations.models import RoutingCondition, RoutingRule

    cases = make_workstream(Channel.CASE, name="A cases")
    make_workstream(Channel.CASE, name="B cases")
    rule = RoutingRule.objects.create(workstream=cases, name="Invoices", queue=other_queue)
    RoutingCondition.objects.create(rule=rule, field="customer", key="case_title", operator="contains", value="nvoice")
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Invoice wrong")
    record = case.conversations.get(workstream__channel=Channel.CASE)
    assert (record.workstream, record.state, record.queue, record.contact, record.last_agent) == (
        cases,
        State.OPEN,
        other_queue,
        contact_chat.contact,
        agent,
    )
    assert record.kind == "record"
    assert record.events.get().actor == agent


def test_the_agent_who_created_the_case_is_offered_its_work_item_first(
    contact_chat, agent, make_agent, make_workstream, connect
):
    """MSG-2, RT-5: distribution offers the new record work item to the agent who created the
    case while they have room, although a colleague has more free capacity."""
    from omnichannel.conversations.distribution import distribute

    make_workstream(Channel.CASE)
    roomy = make_agent(capacity=100)
    connect(agent, roomy)
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Mine first")
    distribute()
    record = case.conversations.get(workstream__channel=Channel.CASE)
    assert (record.state, record.primary_agent) == (State.ACTIVE, agent)
    assert record.events.last().detail["reason"] == "last agent (affinity)"


def test_without_a_case_workstream_the_case_is_created_without_a_work_item(contact_chat, agent):
    """MSG-2: where no case workstream is configured there is nowhere to route it; the case is made all the same."""
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Nowhere to go")
    assert list(case.conversations.all()) == [contact_chat]


def test_case_create_makes_the_record_work_item_without_a_first_agent(administrator, contact, make_workstream):
    """MSG-2, REC-1: a case created outside a conversation (admin) is a work item of the default
    case workstream too, with the contact's account; who may not add cases is refused."""
    cases = make_workstream(Channel.CASE)
    case = case_create(title=" Damaged tent ", contact=contact, actor=administrator)
    assert (case.title, case.account, case.status) == ("Damaged tent", contact.account, CaseStatus.ACTIVE)
    record = case.conversations.get()
    assert (record.workstream, record.state, record.last_agent) == (cases, State.OPEN, None)
    assert record.events.get().actor == administrator


def test_case_create_is_refused_to_whoever_may_not_add_cases(django_user_model, contact, make_workstream):
    """REC-1, SEC-1: a user without the right creates nothing."""
    make_workstream(Channel.CASE)
    with pytest.raises(NotPermitted):
        case_create(title="Sneaky", contact=contact, actor=django_user_model.objects.create_user(username="nobody"))
    assert not Case.objects.exists()


def test_routing_a_case_is_refused_clearly(contact_chat, agent, other_agent, make_workstream, sms_workstream, make_case):
    """MSG-2: a linked case with no work item is routed once; not to a non-case workstream, not
    twice (a created case already is one), not for inactive cases, not by strangers."""
    case = make_case("Route me", contact=contact_chat.contact)
    conversation_case_link(conversation=contact_chat, case=case, actor=agent)
    cases = make_workstream(Channel.CASE)
    with pytest.raises(InvalidInput, match="does not handle cases"):
        case_route(case=case, actor=agent, workstream=sms_workstream)
    with pytest.raises(NotPermitted):
        case_route(case=case, actor=other_agent, workstream=cases)
    case_route(case=case, actor=agent, workstream=cases)
    with pytest.raises(ConversationError, match="already a work item"):
        case_route(case=case, actor=agent, workstream=cases)
    created = conversation_case_create(conversation=contact_chat, actor=agent, title="Made one already")
    with pytest.raises(ConversationError, match="already a work item"):
        case_route(case=created, actor=agent, workstream=cases)
    other = make_case("Done already", contact=contact_chat.contact)
    conversation_case_link(conversation=contact_chat, case=other, actor=agent)
    case_resolve(case=other, actor=agent)
    with pytest.raises(ConversationError, match="only active cases become work items"):
        case_route(case=other, actor=agent, workstream=cases)
    assert case.conversations.filter(workstream=cases).count() == 1


def test_a_case_made_active_again_after_its_work_item_closed_is_routed_anew(
    contact_chat, agent, make_workstream
):
    """MSG-2, ST-6: the record work item closed with its resolved case; made active again, the
    case goes back to a queue by Route case."""
    cases = make_workstream(Channel.CASE)
    case = conversation_case_create(conversation=contact_chat, actor=agent, title="Came back")
    record = case.conversations.get(workstream=cases)
    conversation_pick(conversation=record, agent=agent)
    case_resolve(case=case, actor=agent)
    conversation_close_session(conversation=record, agent=agent)
    case_update(case=case, actor=agent, title=case.title, status=CaseStatus.ACTIVE)
    again = case_route(case=case, actor=agent, workstream=cases)
    assert again.pk != record.pk and again.state == State.OPEN


def test_linking_another_customers_case_never_names_it(contact_chat, agent, make_case):
    """SEC-1, REC-1: a case of another customer is refused without its title, whatever its status."""
    for status in (CaseStatus.ACTIVE, CaseStatus.RESOLVED):
        stranger = make_case("Secret merger", status=status)
        with pytest.raises(NotPermitted) as refused:
            conversation_case_link(conversation=contact_chat, case=stranger, actor=agent)
        assert "Secret merger" not in str(refused.value)
        assert "belongs to another customer" in str(refused.value)
    assert case_events(contact_chat) == []
