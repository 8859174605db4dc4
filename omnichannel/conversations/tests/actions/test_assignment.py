"""Open → Active: pick, offer and accept, supervisor assign (ST-1), and offers returning (RT-3)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import (
    conversation_accept,
    conversation_offer,
    conversation_offer_expire,
    conversation_pick,
    conversation_reject,
)
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.errors import ConversationError, NotPermitted
from omnichannel.conversations.models import Conversation, PresenceBase, Workstream
from omnichannel.conversations.states import State


def test_agent_pick_moves_open_to_active(open_chat, agent):
    """ST-1: an agent picks from Open work items; the conversation is Active, theirs and accepted."""
    conversation_pick(conversation=open_chat, agent=agent)
    open_chat.refresh_from_db()
    assert open_chat.state == State.ACTIVE
    assert open_chat.primary_agent == agent
    assert open_chat.accepted_at is not None
    assert open_chat.capacity_units == open_chat.workstream.capacity_units


def test_distribution_offer_then_accept(open_chat, agent):
    """ST-1: distribution assigns (pushes) the conversation; it is Active, reserved, until accepted."""
    conversation_offer(conversation=open_chat, agent=agent)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.accepted_at) == (State.ACTIVE, None)
    assert open_chat.capacity_units == 10
    assert open_chat.offer_expires_at is not None
    conversation_accept(conversation=open_chat, agent=agent)
    open_chat.refresh_from_db()
    assert open_chat.accepted_at is not None
    assert [e.action for e in open_chat.events.all()] == ["create", "offer", "accept"]


def test_reject_returns_the_offer_to_open(open_chat, agent):
    """RT-3: a rejected offer is Open again, with no agent and no capacity held."""
    conversation_offer(conversation=open_chat, agent=agent)
    conversation_reject(conversation=open_chat, agent=agent)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.primary_agent, open_chat.capacity_units) == (State.OPEN, None, 0)


def test_offer_expires_only_after_the_timeout(open_chat, agent):
    """RT-3: the offer returns to Open once the workstream's offer timeout has passed, not before."""
    conversation_offer(conversation=open_chat, agent=agent)
    with pytest.raises(Exception, match="not timed out"):
        conversation_offer_expire(conversation=open_chat)
    Conversation.objects.filter(pk=open_chat.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    conversation_offer_expire(conversation=open_chat)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.primary_agent, open_chat.capacity_units) == (State.OPEN, None, 0)
    assert open_chat.events.last().detail["declined_by"] == agent.pk


def test_only_the_offered_agent_accepts(open_chat, agent, other_agent):
    """ST-1: another agent cannot accept someone else's offer."""
    conversation_offer(conversation=open_chat, agent=agent)
    with pytest.raises(NotPermitted):
        conversation_accept(conversation=open_chat, agent=other_agent)
    open_chat.refresh_from_db()
    assert (open_chat.primary_agent, open_chat.accepted_at, open_chat.events.count()) == (agent, None, 2)


def test_pick_requires_queue_membership_and_allowed_presence(open_chat, make_agent, other_queue):
    """RT-2: only queue members with a presence the workstream allows may take work."""
    outsider = make_agent(queues=[other_queue])
    with pytest.raises(NotPermitted, match="not a member of the queue"):
        conversation_pick(conversation=open_chat, agent=outsider)
    away = make_agent(presence=PresenceBase.AWAY)
    with pytest.raises(NotPermitted, match="does not allow"):
        conversation_pick(conversation=open_chat, agent=away)
    open_chat.refresh_from_db()
    assert open_chat.state == State.OPEN and open_chat.events.count() == 1


def test_supervisor_assign_may_override_presence_and_capacity(open_chat, make_agent, supervisor):
    """ST-1 (SUP-5): a supervisor assigns an Open conversation; an override records the units over."""
    busy_agent = make_agent(capacity=5, presence=PresenceBase.AWAY)
    conversation_assign(conversation=open_chat, agent=busy_agent, actor=supervisor, override=True)
    open_chat.refresh_from_db()
    assert open_chat.state == State.ACTIVE and open_chat.capacity_override
    assert open_chat.events.last().detail["units_over_capacity"] == 5


def test_only_supervisors_override(open_chat, agent, other_agent):
    """SUP-5: an agent cannot assign with an override."""
    with pytest.raises(NotPermitted, match="Only a supervisor"):
        conversation_assign(conversation=open_chat, agent=other_agent, actor=agent, override=True)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.events.count()) == (State.OPEN, 1)


def test_override_does_not_bypass_queue_membership(open_chat, make_agent, other_queue, supervisor):
    """SUP-5: presence and capacity may be overridden; membership of the queue may not."""
    outsider = make_agent(queues=[other_queue])
    with pytest.raises(NotPermitted, match="not a member of the queue"):
        conversation_assign(conversation=open_chat, agent=outsider, actor=supervisor, override=True)


def test_assign_respects_the_workstream_switch(open_chat, agent, supervisor):
    """SUP-2: where the workstream disables Assign, supervisors cannot assign."""
    Workstream.objects.filter(pk=open_chat.workstream_id).update(allow_assign=False)
    with pytest.raises(NotPermitted, match="does not let supervisors assign"):
        conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)


def test_stale_timer_cannot_expire_a_newer_offer(open_chat, agent, other_agent):
    """RT-3, RT-6: a timer holding an old copy re-checks the fresh row and leaves a new offer alone."""
    conversation_offer(conversation=open_chat, agent=agent)
    stale = Conversation.objects.get(pk=open_chat.pk)
    Conversation.objects.filter(pk=open_chat.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    conversation_offer_expire(conversation=Conversation.objects.get(pk=open_chat.pk))
    conversation_offer(conversation=open_chat, agent=other_agent)
    stale.offer_expires_at = timezone.now() - timedelta(minutes=1)
    with pytest.raises(ConversationError, match="not timed out"):
        conversation_offer_expire(conversation=stale)
    open_chat.refresh_from_db()
    assert (open_chat.state, open_chat.primary_agent) == (State.ACTIVE, other_agent)
