"""The transition engine (actions/transitions.py): capacity held and freed by moves (ST-20), Closed is
final (ST-12), and an illegal move is refused naming state and action and changes nothing (ST-13)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_pick, conversation_resume
from omnichannel.conversations.actions.ending import (
    conversation_close_session,
    conversation_customer_end,
    conversation_end,
    conversation_inactivity_timeout,
    conversation_release,
)
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.errors import CapacityExceeded, ConversationError, NotPermitted
from omnichannel.conversations.models import Conversation, ConversationEvent, SenderRole
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, IllegalTransition, State


def in_use(agent, *, later=timedelta(0)):
    return capacity_in_use(agent_id=agent.pk, now=timezone.now() + later)


@pytest.mark.parametrize(
    ("block", "minutes", "during", "after_an_hour"),
    [(WrapUpBlock.ALWAYS, None, 10, 10), (WrapUpBlock.NEVER, None, 0, 0), (WrapUpBlock.MINUTES, 5, 10, 0)],
)
def test_wrap_up_blocks_capacity_as_the_workstream_says(
    make_workstream, make_conversation, agent, block, minutes, during, after_an_hour
):
    """ST-20: Active consumes; Wrap-up per Block capacity for wrap-up (always, never, N minutes)."""
    workstream = make_workstream(Channel.SMS, wrap_up_block=block, wrap_up_block_minutes=minutes)
    conversation = make_conversation(workstream)
    assert in_use(agent) == 0  # Open consumes nothing
    conversation_pick(conversation=conversation, agent=agent)
    assert in_use(agent) == 10
    conversation_end(conversation=conversation, agent=agent)
    assert conversation.state == State.WRAP_UP
    assert in_use(agent) == during
    assert in_use(agent, later=timedelta(hours=1)) == after_an_hour
    conversation_close_session(conversation=conversation, agent=agent)
    assert in_use(agent) == 0


def test_no_assignment_over_capacity_without_override(make_workstream, make_conversation, make_agent, supervisor):
    """ST-20, RT-6: a full agent is refused with a clear message and nothing changes; a supervisor may override."""
    agent = make_agent(capacity=20)
    workstream = make_workstream(Channel.SMS)
    first, second, third = (make_conversation(workstream) for _ in range(3))
    conversation_pick(conversation=first, agent=agent)
    conversation_pick(conversation=second, agent=agent)
    with pytest.raises(CapacityExceeded, match="0 free capacity units; this conversation needs 10"):
        conversation_pick(conversation=third, agent=agent)
    third.refresh_from_db()
    assert third.state == State.OPEN and third.events.count() == 1
    conversation_assign(conversation=third, agent=agent, actor=supervisor, override=True)
    assert in_use(agent) == 30
    assert third.capacity_override


def test_waiting_frees_capacity_for_new_work(make_workstream, make_conversation, make_agent):
    """ST-20: a Waiting conversation does not consume, so the agent can take another."""
    agent = make_agent(capacity=10)
    workstream = make_workstream(Channel.SMS)
    first, second = make_conversation(workstream), make_conversation(workstream)
    conversation_pick(conversation=first, agent=agent)
    conversation_close_session(conversation=first, agent=agent)
    conversation_pick(conversation=second, agent=agent)
    with pytest.raises(CapacityExceeded):
        conversation_resume(conversation=first, agent=agent)
    first.refresh_from_db()
    assert first.state == State.WAITING


def snapshot(conversation):
    row = Conversation.objects.filter(pk=conversation.pk).values().get()
    return row, ConversationEvent.objects.filter(conversation=conversation).count()


def test_closed_is_final_and_a_new_message_starts_a_new_conversation(active_chat, agent, supervisor, other_queue):
    """ST-12: nothing reopens a Closed conversation, even for its own agent or a supervisor;
    the customer's next message starts a new one."""
    open_chat = active_chat
    conversation_end(conversation=open_chat, agent=agent)
    conversation_close_session(conversation=open_chat, agent=agent)
    before = snapshot(open_chat)
    for attempt in (
        lambda: conversation_pick(conversation=open_chat, agent=agent),
        lambda: conversation_resume(conversation=open_chat, agent=agent),
        lambda: conversation_close_session(conversation=open_chat, agent=agent),
        lambda: conversation_transfer_to_queue(conversation=open_chat, queue=other_queue, actor=supervisor),
        lambda: conversation_assign(conversation=open_chat, agent=agent, actor=supervisor, override=True),
        lambda: conversation_customer_end(conversation=open_chat),
        lambda: conversation_inactivity_timeout(conversation=open_chat),
    ):
        with pytest.raises(IllegalTransition, match="Closed conversations are final"):
            attempt()
    with pytest.raises(ConversationError, match="Closed"):
        message_post(conversation=open_chat, sender_role=SenderRole.AGENT, sender=agent, body="late")
    assert snapshot(open_chat) == before

    message = message_post(conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Hello again")
    assert message.conversation_id != open_chat.pk
    assert message.conversation.state == State.OPEN
    assert message.conversation.visitor_id == open_chat.visitor_id
    assert message.conversation.events.get().detail["follows"] == open_chat.pk
    # Later messages to the Closed one continue the conversation it started, not a third one.
    follow_up = message_post(conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Anyone?")
    assert follow_up.conversation_id == message.conversation_id
    keyed = message_post(
        conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Once", idempotency_key="k-1"
    )
    again = message_post(
        conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Once", idempotency_key="k-1"
    )
    assert again.pk == keyed.pk


def test_illegal_move_is_refused_with_state_and_action_and_changes_nothing(active_chat, agent, other_agent):
    """ST-13: resuming an Active conversation is refused, whoever asks; the message names the
    action and the state; nothing changes."""
    before = snapshot(active_chat)
    for who in (agent, other_agent):
        with pytest.raises(IllegalTransition) as refused:
            conversation_resume(conversation=active_chat, agent=who)
        assert str(refused.value) == "Cannot resume it: the conversation is Active."
    assert snapshot(active_chat) == before


def test_stale_tab_cannot_close_a_colleagues_session(active_chat, agent, other_agent):
    """RT-6: agent A released the chat and B picked it; A's old tab closing the session is refused."""
    stale = Conversation.objects.get(pk=active_chat.pk)
    conversation_release(conversation=active_chat, agent=agent)
    conversation_pick(conversation=active_chat, agent=other_agent)
    with pytest.raises(NotPermitted):
        conversation_close_session(conversation=stale, agent=agent)
    active_chat.refresh_from_db()
    assert (active_chat.state, active_chat.primary_agent) == (State.ACTIVE, other_agent)


def test_illegal_move_after_a_race_names_the_state_found(open_chat, agent, other_agent):
    """ST-13: a stale copy loses cleanly: the loser's error names the state the winner left."""
    stale = Conversation.objects.get(pk=open_chat.pk)
    conversation_pick(conversation=open_chat, agent=agent)
    with pytest.raises(IllegalTransition, match="Active"):
        conversation_pick(conversation=stale, agent=other_agent)
    open_chat.refresh_from_db()
    assert open_chat.primary_agent == agent
    assert open_chat.events.count() == 2
