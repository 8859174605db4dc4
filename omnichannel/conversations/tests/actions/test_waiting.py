"""Waiting and back (ST-5, ST-9, ST-10, ST-11) and persistent chat (ST-24)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_pick, conversation_resume
from omnichannel.conversations.actions.ending import (
    conversation_close_session,
    conversation_end,
    conversation_inactivity_timeout,
)
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Conversation, SenderRole
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, State


@pytest.fixture
def waiting_sms(active_sms, agent):
    conversation_close_session(conversation=active_sms, agent=agent)
    return active_sms


def test_closing_a_messaging_session_parks_it_waiting(waiting_sms, agent):
    """ST-5: the agent closes the session without ending: Waiting, no capacity used, still theirs."""
    waiting_sms.refresh_from_db()
    assert waiting_sms.state == State.WAITING
    assert waiting_sms.primary_agent == agent
    assert capacity_in_use(agent_id=agent.pk, now=timezone.now()) == 0
    expected = timedelta(minutes=waiting_sms.workstream.waiting_timeout_minutes)
    assert waiting_sms.waiting_until - waiting_sms.state_changed_at == expected


def test_inactivity_timeout_closes_waiting(waiting_sms):
    """ST-9: no activity within the inactivity timeout: Closed; before the deadline it is refused."""
    with pytest.raises(ConversationError, match="activity within"):
        conversation_inactivity_timeout(conversation=waiting_sms)
    Conversation.objects.filter(pk=waiting_sms.pk).update(waiting_until=timezone.now() - timedelta(seconds=1))
    waiting_sms.refresh_from_db()
    conversation_inactivity_timeout(conversation=waiting_sms)
    waiting_sms.refresh_from_db()
    assert waiting_sms.state == State.CLOSED


def test_agent_activity_restarts_the_inactivity_clock(waiting_sms, agent):
    """ST-9: an agent writing while Waiting counts as activity."""
    Conversation.objects.filter(pk=waiting_sms.pk).update(waiting_until=timezone.now() + timedelta(seconds=5))
    message_post(conversation=waiting_sms, sender_role=SenderRole.AGENT, sender=agent, body="Any news?")
    waiting_sms.refresh_from_db()
    assert waiting_sms.waiting_until > timezone.now() + timedelta(minutes=10)


def test_timer_with_an_old_deadline_loses_to_agent_activity(waiting_sms, agent):
    """ST-9: a timer that read the deadline before the agent wrote re-checks it and does not close."""
    Conversation.objects.filter(pk=waiting_sms.pk).update(waiting_until=timezone.now() - timedelta(seconds=1))
    stale = Conversation.objects.get(pk=waiting_sms.pk)
    message_post(conversation=waiting_sms, sender_role=SenderRole.AGENT, sender=agent, body="Still there?")
    with pytest.raises(ConversationError, match="activity within"):
        conversation_inactivity_timeout(conversation=stale)
    waiting_sms.refresh_from_db()
    assert waiting_sms.state == State.WAITING


def test_customer_message_racing_a_session_close_reopens_it(active_sms, agent):
    """ST-11: a message sent from a copy that still says Active lands after the close and reopens it."""
    stale = Conversation.objects.get(pk=active_sms.pk)
    conversation_close_session(conversation=active_sms, agent=agent)
    message_post(conversation=stale, sender_role=SenderRole.CUSTOMER, body="One more thing")
    active_sms.refresh_from_db()
    assert active_sms.state == State.OPEN
    assert active_sms.last_agent == agent


def test_agent_resumes_waiting_from_my_work_items(waiting_sms, agent):
    """ST-10: the agent resumes it: Active again, capacity held."""
    conversation_resume(conversation=waiting_sms, agent=agent)
    waiting_sms.refresh_from_db()
    assert waiting_sms.state == State.ACTIVE
    assert waiting_sms.waiting_until is None
    assert capacity_in_use(agent_id=agent.pk, now=timezone.now()) == waiting_sms.workstream.capacity_units


def test_customer_writing_again_reopens_waiting(waiting_sms):
    """ST-11: the customer writes within the timeout: Open, to be routed again."""
    message_post(conversation=waiting_sms, sender_role=SenderRole.CUSTOMER, body="Here is the number: 42")
    waiting_sms.refresh_from_db()
    assert waiting_sms.state == State.OPEN
    assert waiting_sms.messages.count() == 1


def test_persistent_chat_close_keeps_history_and_end_starts_afresh(make_workstream, make_conversation, agent):
    """ST-24: with persistent chat, closing parks the chat Waiting for the period and a returning
    customer continues it with its history; after End, a returning customer starts a new chat."""
    workstream = make_workstream(Channel.LIVE_CHAT, persistent_chat=True, persistent_chat_days=28)
    chat = make_conversation(workstream)
    conversation_pick(conversation=chat, agent=agent)
    message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body="My router blinks red.")
    conversation_close_session(conversation=chat, agent=agent)
    chat.refresh_from_db()
    assert chat.state == State.WAITING
    assert chat.waiting_until - chat.state_changed_at == timedelta(days=28)

    returning = message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body="Still red.")
    assert returning.conversation_id == chat.pk
    assert [m.body for m in chat.messages.filter(notice="")] == ["My router blinks red.", "Still red."]

    conversation_pick(conversation=chat, agent=agent)
    conversation_end(conversation=chat, agent=agent)
    conversation_close_session(conversation=chat, agent=agent)
    fresh = message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body="New problem")
    assert fresh.conversation_id != chat.pk
    assert list(fresh.conversation.messages.values_list("body", flat=True)) == ["New problem"]
