"""Closed is final (ST-12) and illegal moves change nothing (ST-13)."""

import pytest

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
from omnichannel.conversations.errors import ConversationError, NotPermitted
from omnichannel.conversations.models import Conversation, ConversationEvent, SenderRole
from omnichannel.conversations.states import IllegalTransition, State


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
