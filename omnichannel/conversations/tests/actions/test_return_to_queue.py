"""Active → Open (ST-4): the conversation returns to a queue and frees the agent's capacity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.ending import (
    conversation_agent_reconnect_timeout,
    conversation_close_session,
    conversation_release,
)
from omnichannel.conversations.actions.presence import agent_connect, agent_disconnect
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.errors import ConversationError, InvalidInput
from omnichannel.conversations.models import AgentProfile
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import State


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
