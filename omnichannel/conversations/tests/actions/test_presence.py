"""Presence: base and custom presences, chosen or automatic (PR-1, PR-2)."""

import pytest

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session
from omnichannel.conversations.actions.presence import agent_presence_set
from omnichannel.conversations.errors import NotPermitted
from omnichannel.conversations.models import AgentProfile, Presence, PresenceBase
from omnichannel.conversations.states import Channel


def test_base_presences_exist_and_custom_ones_map_to_a_base(presences, open_chat, make_agent):
    """PR-1: Available, Busy, Busy – Do not disturb, Away, Offline; a custom presence behaves as its base."""
    assert {p.base for p in presences.values()} == set(PresenceBase)
    lunch = Presence.objects.create(name="Lunch", base=PresenceBase.AWAY)
    agent = make_agent()
    agent_presence_set(agent=agent, presence=lunch)
    with pytest.raises(NotPermitted, match="Lunch"):
        conversation_pick(conversation=open_chat, agent=agent)
    open_chat.workstream.allowed_presences.add(lunch)
    conversation_pick(conversation=open_chat, agent=agent)


def test_agents_set_their_own_presence_and_supervisors_may_too(agent, other_agent, supervisor, presences):
    """PR-1: an agent cannot change a colleague's presence; every change is recorded."""
    with pytest.raises(NotPermitted):
        agent_presence_set(agent=agent, presence=presences[PresenceBase.AWAY], actor=other_agent)
    agent_presence_set(agent=agent, presence=presences[PresenceBase.AWAY], actor=supervisor)
    change = agent.presence_changes.get()
    assert (change.presence.base, change.reason, change.actor) == (PresenceBase.AWAY, "chosen", supervisor)


def test_busy_when_capacity_is_full_and_back_when_it_frees(make_workstream, make_conversation, make_agent):
    """PR-2: starting a session that fills the agent's capacity shows Busy; freeing it restores
    the presence they had."""
    agent = make_agent(capacity=20)
    workstream = make_workstream(Channel.SMS)
    first, second = make_conversation(workstream), make_conversation(workstream)
    conversation_pick(conversation=first, agent=agent)
    assert AgentProfile.objects.get(user=agent).presence.base == PresenceBase.AVAILABLE
    conversation_pick(conversation=second, agent=agent)
    profile = AgentProfile.objects.get(user=agent)
    assert profile.presence.base == PresenceBase.BUSY
    conversation_close_session(conversation=second, agent=agent)
    profile.refresh_from_db()
    assert profile.presence.base == PresenceBase.AVAILABLE
    assert [c.reason for c in agent.presence_changes.order_by("created_at")] == ["capacity_full", "capacity_freed"]


def test_no_automatic_busy_where_not_configured(make_workstream, make_conversation, make_agent):
    """PR-2: only "where so configured": agents with auto-busy off keep their presence."""
    agent = make_agent(capacity=10)
    AgentProfile.objects.filter(user=agent).update(auto_busy=False)
    conversation_pick(conversation=make_conversation(make_workstream(Channel.SMS)), agent=agent)
    assert AgentProfile.objects.get(user=agent).presence.base == PresenceBase.AVAILABLE


def test_a_chosen_presence_is_not_undone_when_capacity_frees(make_workstream, make_conversation, make_agent, presences):
    """PR-2: if the agent chose a presence while auto-busy, freeing capacity leaves their choice."""
    agent = make_agent(capacity=10)
    conversation = make_conversation(make_workstream(Channel.SMS))
    conversation_pick(conversation=conversation, agent=agent)
    agent_presence_set(agent=agent, presence=presences[PresenceBase.AWAY])
    conversation_close_session(conversation=conversation, agent=agent)
    assert AgentProfile.objects.get(user=agent).presence.base == PresenceBase.AWAY
