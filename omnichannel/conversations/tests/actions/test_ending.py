"""Ending and closing (actions/ending.py): the customer or agent ends (ST-2, ST-3, ST-7, ST-8), and
Active work returns to Open (ST-4) when the agent leaves, releases it, or closes a live chat's session."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_offer
from omnichannel.conversations.actions.ending import (
    conversation_agent_reconnect_timeout,
    conversation_close_session,
    conversation_customer_disconnect,
    conversation_customer_end,
    conversation_end,
    conversation_release,
)
from omnichannel.conversations.actions.presence import agent_connect, agent_disconnect
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.errors import ConversationError, InvalidInput
from omnichannel.conversations.models import AgentProfile
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import State


def test_customer_ends_before_assignment_closes_it(open_chat):
    """ST-2: the customer ends the chat while it is still Open: abandoned, Closed."""
    conversation_customer_end(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED


def test_customer_disconnects_before_assignment_closes_it(open_chat):
    """ST-2: the customer disconnects while Open: Closed."""
    conversation_customer_disconnect(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED


def test_agent_end_moves_active_to_wrap_up(active_chat, agent):
    """ST-3: the agent selects End: Wrap-up."""
    conversation_end(conversation=active_chat, agent=agent)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP
    assert active_chat.primary_agent == agent


def test_customer_end_moves_active_to_wrap_up(active_chat):
    """ST-3: the customer selects End in the widget: Wrap-up."""
    conversation_customer_end(conversation=active_chat)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP


def test_customer_disconnect_moves_live_chat_to_wrap_up(active_chat):
    """ST-21 (ST-3): a live chat whose customer disconnects moves from Active to Wrap-up automatically."""
    conversation_customer_disconnect(conversation=active_chat)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP
    assert active_chat.events.last().action == "customer_disconnect"


def test_customer_leaves_before_accepting_closes_it(open_chat, agent):
    """ST-7: the customer ends or disconnects before the agent accepted the offer: Closed, capacity freed."""
    conversation_offer(conversation=open_chat, agent=agent)
    conversation_customer_disconnect(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED
    assert open_chat.capacity_units == 0


def test_wrap_up_then_close_session_closes(active_sms, agent):
    """ST-8: the agent ends, then closes the session: Closed."""
    conversation_end(conversation=active_sms, agent=agent)
    conversation_close_session(conversation=active_sms, agent=agent)
    active_sms.refresh_from_db()
    assert active_sms.state == State.CLOSED
    assert active_sms.capacity_units == 0


def assert_back_in_queue(conversation, agent, queue=None):
    conversation.refresh_from_db()
    assert conversation.state == State.OPEN
    assert conversation.primary_agent is None
    assert conversation.accepted_at is None
    assert capacity_in_use(agent_id=agent.pk, now=timezone.now()) == 0
    if queue is not None:
        assert conversation.queue == queue


def test_agent_reconnect_timeout_returns_it_to_open(active_chat, agent):
    """ST-4: the agent disconnected and did not reconnect within the workstream's timeout."""
    agent_connect(agent=agent, channel_name="tab-1")
    with pytest.raises(ConversationError, match="may still reconnect"):
        conversation_agent_reconnect_timeout(conversation=active_chat)
    agent_disconnect(channel_name="tab-1")
    with pytest.raises(ConversationError, match="may still reconnect"):
        conversation_agent_reconnect_timeout(conversation=active_chat)
    timeout = timedelta(seconds=active_chat.workstream.agent_reconnect_timeout_seconds)
    AgentProfile.objects.filter(user=agent).update(disconnected_at=timezone.now() - timeout)
    conversation_agent_reconnect_timeout(conversation=active_chat)
    assert_back_in_queue(active_chat, agent)
    assert active_chat.events.last().detail["disconnected_agent"] == agent.pk


def test_agent_release_returns_it_to_open(active_sms, agent):
    """ST-4: the agent releases the conversation to the queue."""
    conversation_release(conversation=active_sms, agent=agent)
    assert_back_in_queue(active_sms, agent)


def test_transfer_to_another_queue_opens_it_there(active_chat, agent, other_queue):
    """ST-4: the agent transfers it to another queue; it waits there, Open."""
    conversation_transfer_to_queue(conversation=active_chat, queue=other_queue, actor=agent)
    assert_back_in_queue(active_chat, agent, other_queue)


def test_transfer_to_the_same_queue_is_refused(active_chat, agent):
    """ST-4: a transfer must go somewhere else; the refusal changes nothing."""
    with pytest.raises(InvalidInput, match="already in the queue"):
        conversation_transfer_to_queue(conversation=active_chat, queue=active_chat.queue, actor=agent)
    active_chat.refresh_from_db()
    assert active_chat.state == State.ACTIVE


def test_closing_an_active_live_chat_session_returns_it_to_open(active_chat, agent):
    """ST-4: the agent closes the session while the live chat is Active: it goes back to the queue."""
    conversation_close_session(conversation=active_chat, agent=agent)
    assert_back_in_queue(active_chat, agent)
