"""A supervisor's actions on conversations (SUP-2 to SUP-7, seed 001): each is refused with a
clear message that changes nothing, or recorded as an event with the supervisor as actor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations import groups, worker
from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.messages import Post, message_post, messages_post
from omnichannel.conversations.actions.supervision import (
    conversation_assign,
    conversation_assign_to_queue,
    conversation_force_close,
    conversation_monitor,
    conversation_supervisor_join,
    conversation_supervisor_leave,
)
from omnichannel.conversations.actions.transfers import (
    conversation_transfer_accept,
    conversation_transfer_reject,
    conversation_transfer_request,
    conversation_transfer_to_queue,
)
from omnichannel.conversations.errors import CapacityExceeded, ConcurrentChange, ConversationError, NotPermitted
from omnichannel.conversations.models import Conversation, Message, SenderRole
from omnichannel.conversations.selectors import capacity_in_use, supervisor_actions_for
from omnichannel.conversations.states import Action, Channel, Facts, Kind, State, supervisor_actions

ALL_ON = {"allow_monitor": True, "allow_assign": True, "allow_transfer": True, "allow_force_close": True}


def used(user) -> int:
    return capacity_in_use(agent_id=user.pk, now=timezone.now())


def notices(conversation) -> list[str]:
    return [m.notice_text for m in Message.objects.filter(conversation=conversation).exclude(notice="")]


def unchanged(conversation):
    """A snapshot of what an action may change: compared before and after a refusal."""
    row = Conversation.objects.get(pk=conversation.pk)
    return (row.state, row.primary_agent_id, row.queue_id, row.version, row.transfer_agent_id, row.events.count())


# --- SUP-2: what the workstream's switches and the table allow --------------------------------


def test_supervisor_actions_follow_switches_state_and_kind():
    """SUP-2, SUP-3, SUP-5, SUP-6, SUP-7: the actions offered are those the workstream enables and
    the table allows: assign only Open; monitor Active or Wrap-up, never records nor one's own;
    transfer only accepted messaging work never escalated to a call; force close any channel."""
    active_chat = Facts(state=State.ACTIVE, kind=Kind.LIVE_CHAT, accepted=True)
    assert supervisor_actions(active_chat, switches=ALL_ON, own=False, transfer_pending=False) == {
        Action.MONITOR,
        Action.SUPERVISOR_JOIN,
        Action.TRANSFER_REQUEST,
        Action.FORCE_CLOSE,
    }
    assert supervisor_actions(active_chat, switches=ALL_ON, own=True, transfer_pending=True) == {Action.FORCE_CLOSE}
    off = {**ALL_ON, "allow_monitor": False, "allow_force_close": False}
    assert supervisor_actions(active_chat, switches=off, own=False, transfer_pending=False) == {Action.TRANSFER_REQUEST}
    open_sms = Facts(state=State.OPEN, kind=Kind.MESSAGING, has_agent=False)
    assert supervisor_actions(open_sms, switches=ALL_ON, own=False, transfer_pending=False) == {
        Action.ASSIGN,
        Action.ASSIGN_TO_QUEUE,
        Action.FORCE_CLOSE,
    }
    escalated = Facts(state=State.ACTIVE, kind=Kind.LIVE_CHAT, accepted=True, escalated=True)
    assert Action.TRANSFER_REQUEST not in supervisor_actions(
        escalated, switches=ALL_ON, own=False, transfer_pending=False
    )
    voice = Facts(state=State.ACTIVE, kind=Kind.VOICE, accepted=True)
    assert supervisor_actions(voice, switches=ALL_ON, own=False, transfer_pending=False) == {
        Action.MONITOR,
        Action.FORCE_CLOSE,
    }
    record = Facts(state=State.ACTIVE, kind=Kind.RECORD, accepted=True)
    assert supervisor_actions(record, switches=ALL_ON, own=False, transfer_pending=False) == set()
    waiting = Facts(state=State.WAITING, kind=Kind.MESSAGING, accepted=True)
    assert supervisor_actions(waiting, switches=ALL_ON, own=False, transfer_pending=False) == {
        Action.TRANSFER_REQUEST,
        Action.FORCE_CLOSE,
    }


@pytest.mark.parametrize(
    ("switch", "act", "message"),
    [
        ("allow_monitor", "monitor", "not let supervisors monitor"),
        ("allow_transfer", "transfer", "not let supervisors transfer"),
        ("allow_force_close", "force_close", "not let supervisors force close"),
        ("allow_transfer", "transfer_to_queue", "not let supervisors transfer"),
    ],
)
def test_disabled_switch_refuses_on_the_server(active_chat, supervisor, other_agent, other_queue, switch, act, message):
    """SUP-2: with the workstream's switch off, the action is refused with a clear message and
    nothing changes, whatever the page showed."""
    workstream = active_chat.workstream
    setattr(workstream, switch, False)
    workstream.save()
    run = {
        "monitor": lambda: conversation_monitor(conversation=active_chat, actor=supervisor),
        "transfer": lambda: conversation_transfer_request(
            conversation=active_chat, to_agent=other_agent, actor=supervisor
        ),
        "force_close": lambda: conversation_force_close(conversation=active_chat, actor=supervisor),
        "transfer_to_queue": lambda: conversation_transfer_to_queue(
            conversation=active_chat, queue=other_queue, actor=supervisor
        ),
    }[act]
    before = unchanged(active_chat)
    with pytest.raises(NotPermitted, match=message):
        run()
    assert unchanged(active_chat) == before
    assert act not in supervisor_actions_for(Conversation.objects.get(pk=active_chat.pk), supervisor)


def test_disabled_assign_refuses_agent_and_queue(open_chat, supervisor, agent, other_queue):
    """SUP-2, SUP-5: with Assign off, neither an agent nor a queue can be given the conversation."""
    open_chat.workstream.allow_assign = False
    open_chat.workstream.save()
    before = unchanged(open_chat)
    with pytest.raises(NotPermitted, match="not let supervisors assign"):
        conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)
    with pytest.raises(NotPermitted, match="not let supervisors assign"):
        conversation_assign_to_queue(conversation=open_chat, queue=other_queue, actor=supervisor)
    assert unchanged(open_chat) == before


def test_agents_cannot_take_supervisor_actions(active_chat, other_agent, agent):
    """SEC-1, SUP-3 to SUP-7: an agent who is not a supervisor is refused every supervisor action."""
    before = unchanged(active_chat)
    for run in (
        lambda: conversation_monitor(conversation=active_chat, actor=other_agent),
        lambda: conversation_supervisor_join(conversation=active_chat, actor=other_agent),
        lambda: conversation_force_close(conversation=active_chat, actor=other_agent),
        lambda: conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=agent),
    ):
        with pytest.raises(NotPermitted, match="Only a supervisor"):
            run()
    assert unchanged(active_chat) == before


# --- SUP-3: monitor ---------------------------------------------------------------------------


def test_monitor_records_an_event_and_moves_nothing(active_chat, supervisor):
    """SUP-3: monitoring an Active conversation is an event with the supervisor as actor; state,
    agent and version stay as they were (watching fails nobody's claim)."""
    version = Conversation.objects.get(pk=active_chat.pk).version
    event = conversation_monitor(conversation=active_chat, actor=supervisor)
    assert (event.action, event.actor, event.from_state, event.to_state) == ("monitor", supervisor, "active", "active")
    row = Conversation.objects.get(pk=active_chat.pk)
    assert (row.state, row.version) == (State.ACTIVE, version)


def test_monitor_refused_for_open_records_and_own_conversations(
    open_chat, make_workstream, make_conversation, supervisor
):
    """SUP-3: not Open work (the refusal names the state), not records, not a conversation
    assigned to the supervisor."""
    with pytest.raises(ConversationError, match="Cannot monitor it: the conversation is Open"):
        conversation_monitor(conversation=open_chat, actor=supervisor)
    case = make_conversation(make_workstream(Channel.CASE))
    conversation_pick(conversation=case, agent=supervisor)
    with pytest.raises(ConversationError, match="Not possible for Record conversations"):
        conversation_monitor(conversation=case, actor=supervisor)
    conversation_pick(conversation=open_chat, agent=supervisor)
    with pytest.raises(NotPermitted, match="assigned to you"):
        conversation_monitor(conversation=open_chat, actor=supervisor)
    assert not open_chat.events.filter(action="monitor").exists()


def test_monitor_wrap_up(active_chat, agent, supervisor):
    """SUP-3: Wrap-up conversations can be monitored too."""
    conversation_end(conversation=active_chat, agent=agent)
    assert conversation_monitor(conversation=active_chat, actor=supervisor).to_state == State.WRAP_UP


# --- SUP-4: join and leave --------------------------------------------------------------------


def test_join_notifies_both_sides_then_the_supervisor_writes_and_leaves(active_chat, supervisor):
    """SUP-4: before joining, the supervisor cannot write; joining puts a notice in the transcript
    that customer and agent both receive; the supervisor's messages go to both; leaving is a
    notice too, and then writing is refused again."""
    with pytest.raises(NotPermitted, match="Join the chat"):
        message_post(
            conversation=active_chat, sender_role=SenderRole.SUPERVISOR, sender=supervisor, body="Hello"
        )
    event = conversation_supervisor_join(conversation=active_chat, actor=supervisor)
    assert (event.action, event.actor) == ("supervisor_join", supervisor)
    assert notices(active_chat)[-1] == "Sofie (supervisor) joined the chat"
    with pytest.raises(ConversationError, match="already in this chat"):
        conversation_supervisor_join(conversation=active_chat, actor=supervisor)

    message = message_post(
        conversation=active_chat, sender_role=SenderRole.SUPERVISOR, sender=supervisor, body="I can help here."
    )
    assert (message.sender_role, message.sender) == (SenderRole.SUPERVISOR, supervisor)
    # The chat sockets' batched path applies the same rule.
    posted = messages_post(
        posts=[Post(active_chat.pk, SenderRole.SUPERVISOR, "Batched", sender=supervisor, idempotency_key="k")]
    )
    assert posted[0].message is not None

    conversation_supervisor_leave(conversation=active_chat, actor=supervisor)
    assert notices(active_chat)[-1] == "Sofie (supervisor) left the chat"
    posted = messages_post(
        posts=[Post(active_chat.pk, SenderRole.SUPERVISOR, "After", sender=supervisor, idempotency_key="k2")]
    )
    assert posted[0].error == "Join the chat before writing in it."
    with pytest.raises(ConversationError, match="not joined"):
        conversation_supervisor_leave(conversation=active_chat, actor=supervisor)


def test_join_leave_and_force_close_tell_both_sides_on_every_channel(
    active_sms, make_workstream, make_conversation, agent, supervisor
):
    """SUP-4, SUP-7: SMS and WhatsApp customers and agents are told of a supervisor joining and
    leaving, and a call's participants that a supervisor ended it, as live chat's are."""
    conversation_supervisor_join(conversation=active_sms, actor=supervisor)
    conversation_supervisor_leave(conversation=active_sms, actor=supervisor)
    conversation_force_close(conversation=active_sms, actor=supervisor)
    assert notices(active_sms) == [
        "Sofie (supervisor) joined the chat",
        "Sofie (supervisor) left the chat",
        "A supervisor ended the chat",
    ]
    call = make_conversation(make_workstream(Channel.VOICE))
    conversation_pick(conversation=call, agent=agent)
    conversation_force_close(conversation=call, actor=supervisor)
    assert notices(call) == ["A supervisor ended the chat"]


def test_join_refused_unless_active(open_chat, supervisor):
    """SUP-4: joining needs a chat an agent is working in."""
    with pytest.raises(ConversationError, match="Cannot join it: the conversation is Open"):
        conversation_supervisor_join(conversation=open_chat, actor=supervisor)


# --- SUP-5: assign ----------------------------------------------------------------------------


def test_assign_open_conversation_to_an_agent(open_chat, supervisor, agent):
    """SUP-5: an Open, unassigned conversation goes to an eligible agent, Active and accepted;
    the event names the supervisor."""
    event = conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.primary_agent, event.actor) == (State.ACTIVE, agent, supervisor)
    assert used(agent) == 10
    with pytest.raises(ConversationError, match="Cannot assign it: the conversation is Active"):
        conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)


def test_assign_override_of_presence_and_capacity_records_units_over(
    make_agent, make_conversation, chat_workstream, supervisor
):
    """SUP-5: an agent showing a presence the workstream does not allow, or without free
    capacity, is refused unless the supervisor overrides; the override records the units over."""
    away = make_agent(presence="away")
    first = make_conversation(chat_workstream)
    with pytest.raises(NotPermitted, match="which this workstream does not allow"):
        conversation_assign(conversation=first, agent=away, actor=supervisor)
    conversation_assign(conversation=first, agent=away, actor=supervisor, override=True)
    assert Conversation.objects.get(pk=first.pk).primary_agent == away

    full = make_agent(capacity=15)
    conversation_assign(conversation=make_conversation(chat_workstream), agent=full, actor=supervisor)
    second = make_conversation(chat_workstream)
    with pytest.raises(CapacityExceeded, match="5 free capacity units; this conversation needs 10"):
        conversation_assign(conversation=second, agent=full, actor=supervisor)
    event = conversation_assign(conversation=second, agent=full, actor=supervisor, override=True)
    assert event.detail["units_over_capacity"] == 5
    assert used(full) == 20
    assert Conversation.objects.get(pk=second.pk).capacity_override


def test_assign_to_another_queue(open_chat, supervisor, other_queue, queue):
    """SUP-5: to another queue, where it stays Open; not to the queue it is in."""
    with pytest.raises(ConversationError, match="already in the queue"):
        conversation_assign_to_queue(conversation=open_chat, queue=queue, actor=supervisor)
    event = conversation_assign_to_queue(conversation=open_chat, queue=other_queue, actor=supervisor)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.queue, event.actor) == (State.OPEN, other_queue, supervisor)
    assert event.detail["to_queue"] == other_queue.name


# --- SUP-6: transfer --------------------------------------------------------------------------


def test_transfer_accepted_makes_the_first_agent_a_consultant(active_chat, supervisor, agent, other_agent):
    """SUP-6: the second agent gets the transfer and accepts: they are primary with the capacity,
    the first agent a consultant who can still write; every step is an event with its actor."""
    request = conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    assert (request.action, request.actor, request.detail["to_agent"]) == (
        "transfer_request",
        supervisor,
        other_agent.pk,
    )
    row = Conversation.objects.get(pk=active_chat.pk)
    assert (row.primary_agent, row.transfer_agent) == (agent, other_agent)
    with pytest.raises(ConversationError, match="already waiting"):
        conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    with pytest.raises(NotPermitted, match="No transfer"):
        conversation_transfer_accept(conversation=active_chat, agent=agent)

    accept = conversation_transfer_accept(conversation=active_chat, agent=other_agent)
    row = Conversation.objects.get(pk=active_chat.pk)
    assert (row.state, row.primary_agent, row.transfer_agent) == (State.ACTIVE, other_agent, None)
    assert list(row.consultants.all()) == [agent]
    assert (accept.actor, accept.detail["from_agent"]) == (other_agent, agent.pk)
    assert (used(agent), used(other_agent)) == (0, 10)
    assert notices(active_chat)[-1] == "Bo joined the chat"
    message_post(conversation=row, sender_role=SenderRole.AGENT, sender=agent, body="Still here to help")


def test_transfer_rejected_or_timed_out_stays_where_it_was(active_sms, supervisor, agent, other_agent):
    """SUP-6: on Reject, and on timeout (applied by the worker), the conversation stays with the
    first agent, and the outcome is on the timeline for the supervisor."""
    conversation_transfer_request(conversation=active_sms, to_agent=other_agent, actor=supervisor)
    conversation_transfer_reject(conversation=active_sms, agent=other_agent)
    row = Conversation.objects.get(pk=active_sms.pk)
    assert (row.state, row.primary_agent, row.transfer_agent, used(agent)) == (State.ACTIVE, agent, None, 10)

    conversation_transfer_request(conversation=active_sms, to_agent=other_agent, actor=supervisor)
    assert worker.expire_transfers(timezone.now()) == 0  # not yet due
    Conversation.objects.filter(pk=active_sms.pk).update(transfer_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ConversationError, match="timed out"):
        conversation_transfer_accept(conversation=active_sms, agent=other_agent)
    assert worker.expire_transfers(timezone.now()) == 1
    row = Conversation.objects.get(pk=active_sms.pk)
    assert (row.primary_agent, row.transfer_agent) == (agent, None)
    assert [e.action for e in row.events.filter(action__startswith="transfer")] == [
        "transfer_request",
        "transfer_reject",
        "transfer_request",
        "transfer_timeout",
    ]


def test_a_pending_transfer_can_be_rejected_or_time_out_after_an_escalation(
    active_chat, make_conversation, chat_workstream, supervisor, agent, other_agent
):
    """SUP-6: escalating to a call stops a transfer being accepted, never being rejected or timing
    out: those need only an Active or Waiting conversation."""
    conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    Conversation.objects.filter(pk=active_chat.pk).update(escalated_at=timezone.now())
    with pytest.raises(ConversationError, match="escalated to a voice or video call"):
        conversation_transfer_accept(conversation=active_chat, agent=other_agent)
    assert conversation_transfer_reject(conversation=active_chat, agent=other_agent).action == "transfer_reject"

    second = make_conversation(chat_workstream)
    conversation_pick(conversation=second, agent=agent)
    conversation_transfer_request(conversation=second, to_agent=other_agent, actor=supervisor)
    Conversation.objects.filter(pk=second.pk).update(
        escalated_at=timezone.now(), transfer_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert worker.expire_transfers(timezone.now()) == 1
    assert Conversation.objects.get(pk=second.pk).transfer_agent is None


def test_transfer_of_a_waiting_conversation(active_sms, supervisor, agent, other_agent):
    """SUP-6: a Waiting messaging conversation is transferred too, and stays Waiting with the new agent."""
    conversation_close_session(conversation=active_sms, agent=agent)
    conversation_transfer_request(conversation=active_sms, to_agent=other_agent, actor=supervisor)
    conversation_transfer_accept(conversation=active_sms, agent=other_agent)
    row = Conversation.objects.get(pk=active_sms.pk)
    assert (row.state, row.primary_agent, used(other_agent)) == (State.WAITING, other_agent, 0)


def test_transfer_refusals(active_chat, supervisor, agent, make_agent, other_queue, make_workstream, make_conversation):
    """SUP-6: only to agents of the same queue with an allowed presence, never once escalated to
    a call, not voice, not Open work; each refusal says why and changes nothing."""
    stranger = make_agent(queues=[other_queue], first_name="Cai")
    away = make_agent(presence="away", first_name="Dan")
    before = unchanged(active_chat)
    with pytest.raises(NotPermitted, match="not a member of the queue"):
        conversation_transfer_request(conversation=active_chat, to_agent=stranger, actor=supervisor)
    with pytest.raises(NotPermitted, match="which this workstream does not allow"):
        conversation_transfer_request(conversation=active_chat, to_agent=away, actor=supervisor)
    with pytest.raises(ConversationError, match="already has this conversation"):
        conversation_transfer_request(conversation=active_chat, to_agent=agent, actor=supervisor)
    Conversation.objects.filter(pk=active_chat.pk).update(escalated_at=timezone.now())
    with pytest.raises(ConversationError, match="escalated to a voice or video call"):
        conversation_transfer_request(conversation=active_chat, to_agent=supervisor, actor=supervisor)
    assert unchanged(active_chat) == before
    call = make_conversation(make_workstream(Channel.VOICE))
    conversation_pick(conversation=call, agent=agent)
    with pytest.raises(ConversationError, match="Not possible for Voice conversations"):
        conversation_transfer_request(conversation=call, to_agent=supervisor, actor=supervisor)
    waiting_for_agent = make_conversation(make_workstream(Channel.SMS))
    with pytest.raises(ConversationError, match="the conversation is Open"):
        conversation_transfer_request(conversation=waiting_for_agent, to_agent=agent, actor=supervisor)


def test_a_move_cancels_a_pending_transfer(active_chat, supervisor, agent, other_agent):
    """SUP-6: if the first agent ends the chat before the second accepts, the transfer lapses
    and its accept is refused naming the state."""
    conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    conversation_end(conversation=active_chat, agent=agent)
    assert Conversation.objects.get(pk=active_chat.pk).transfer_agent is None
    with pytest.raises(ConversationError, match="Cannot accept the transfer: the conversation is Wrap-up"):
        conversation_transfer_accept(conversation=active_chat, agent=other_agent)


def test_a_move_that_cancels_a_transfer_records_it_and_tells_the_second_agent(
    active_chat,
    chat_workstream,
    make_conversation,
    supervisor,
    agent,
    other_agent,
    sent_pushes,
    django_capture_on_commit_callbacks,
):
    """SUP-6: the move that cancels a pending transfer names it in its event, and its push reaches
    the agent the transfer waited for (their Accept and Reject go)."""
    conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        event = conversation_end(conversation=active_chat, agent=agent)
    assert event.detail["transfer_cancelled_for"] == other_agent.pk
    told = {names[0] for names, payload in sent_pushes if payload["type"] == "conversation.changed"}
    assert groups.agent_group(other_agent.pk) in told
    # An answered transfer is no cancellation.
    second = make_conversation(chat_workstream)
    conversation_pick(conversation=second, agent=agent)
    conversation_transfer_request(conversation=second, to_agent=other_agent, actor=supervisor)
    assert (
        "transfer_cancelled_for"
        not in conversation_transfer_accept(conversation=second, agent=other_agent).detail
    )


# --- SUP-7: force close -----------------------------------------------------------------------


def test_force_close_ends_it_and_tells_everyone(active_chat, supervisor, agent):
    """SUP-7: the conversation is Closed, the agent's capacity released, the transcript says a
    supervisor ended it, and the event names the supervisor."""
    event = conversation_force_close(conversation=active_chat, actor=supervisor)
    row = Conversation.objects.get(pk=active_chat.pk)
    assert (row.state, event.actor, event.action) == (State.CLOSED, supervisor, "force_close")
    assert used(agent) == 0
    assert notices(active_chat)[-1] == "A supervisor ended the chat"
    with pytest.raises(ConversationError, match="Closed conversations are final"):
        conversation_force_close(conversation=active_chat, actor=supervisor)


def test_force_close_refuses_what_changed_since_the_confirmation(active_sms, supervisor, agent):
    """SUP-7: the confirmation confirms the conversation as it was shown; if it moved meanwhile,
    the force close is refused and the supervisor looks again."""
    seen = Conversation.objects.get(pk=active_sms.pk).version
    conversation_close_session(conversation=active_sms, agent=agent)
    with pytest.raises(ConcurrentChange, match="it is Waiting now"):
        conversation_force_close(conversation=active_sms, actor=supervisor, seen_version=seen)
    conversation_force_close(
        conversation=active_sms, actor=supervisor, seen_version=Conversation.objects.get(pk=active_sms.pk).version
    )
    assert Conversation.objects.get(pk=active_sms.pk).state == State.CLOSED


def test_force_close_refused_for_records(make_workstream, make_conversation, agent, supervisor):
    """SUP-7: voice and messaging conversations only, not records."""
    case = make_conversation(make_workstream(Channel.CASE))
    conversation_pick(conversation=case, agent=agent)
    with pytest.raises(ConversationError, match="Not possible for Record conversations"):
        conversation_force_close(conversation=case, actor=supervisor)
