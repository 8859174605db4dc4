"""Closed is final (ST-12) and illegal moves change nothing (ST-13)."""

import pytest

from omnichannel.conversations import actions
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Conversation, ConversationEvent, SenderRole
from omnichannel.conversations.states import IllegalTransition, State


def snapshot(conversation):
    row = Conversation.objects.filter(pk=conversation.pk).values().get()
    return row, ConversationEvent.objects.filter(conversation=conversation).count()


def test_closed_is_final_and_a_new_message_starts_a_new_conversation(open_chat, agent, other_queue):
    """ST-12: nothing reopens a Closed conversation; the customer's next message starts a new one."""
    actions.conversation_customer_end(conversation=open_chat)
    before = snapshot(open_chat)
    for attempt in (
        lambda: actions.conversation_pick(conversation=open_chat, agent=agent),
        lambda: actions.conversation_resume(conversation=open_chat, agent=agent),
        lambda: actions.conversation_transfer_to_queue(conversation=open_chat, queue=other_queue, actor=agent),
        lambda: actions.conversation_customer_end(conversation=open_chat),
        lambda: actions.conversation_inactivity_timeout(conversation=open_chat),
    ):
        with pytest.raises(ConversationError):
            attempt()
    assert snapshot(open_chat) == before

    message = actions.message_post(conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Hello again")
    assert message.conversation_id != open_chat.pk
    assert message.conversation.state == State.OPEN
    assert message.conversation.visitor_id == open_chat.visitor_id
    assert message.conversation.events.get().detail == {"follows": open_chat.pk}
    # Later messages to the Closed one continue the conversation it started, not a third one.
    follow_up = actions.message_post(conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Anyone?")
    assert follow_up.conversation_id == message.conversation_id
    keyed = actions.message_post(
        conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Once", idempotency_key="k-1"
    )
    again = actions.message_post(
        conversation=open_chat, sender_role=SenderRole.CUSTOMER, body="Once", idempotency_key="k-1"
    )
    assert again.pk == keyed.pk


def test_illegal_move_is_refused_with_state_and_action_and_changes_nothing(active_chat, agent):
    """ST-13: resuming an Active conversation is refused; the message names both; nothing changes."""
    before = snapshot(active_chat)
    with pytest.raises(IllegalTransition) as refused:
        actions.conversation_resume(conversation=active_chat, agent=agent)
    assert "Active" in str(refused.value) and "resumed from My work items" in str(refused.value)
    assert snapshot(active_chat) == before


def test_illegal_move_after_a_race_names_the_state_found(open_chat, agent, other_agent):
    """ST-13: a stale copy loses cleanly: the loser's error names the state the winner left."""
    stale = Conversation.objects.get(pk=open_chat.pk)
    actions.conversation_pick(conversation=open_chat, agent=agent)
    with pytest.raises(IllegalTransition, match="Active"):
        actions.conversation_pick(conversation=stale, agent=other_agent)
    open_chat.refresh_from_db()
    assert open_chat.primary_agent == agent
    assert open_chat.events.count() == 2
