"""The demo data (`load_demo`): whoever signs in first, and with everyone signed in, every demo
agent keeps room for a new chat, so the README's walk-through (start a chat at /demo/, sign
in as agent1) gets its offer."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_create, conversation_pick
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.models import AgentProfile, Conversation, Visitor, Workstream
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import State

DEMO_AGENTS = ["agent1", "agent2", "agent3", "supervisor"]


@pytest.fixture
def demo(db, presences):
    call_command("load_demo", stdout=StringIO())
    return Workstream.objects.get(name="Web chat")


def distribute_all() -> None:
    """Rounds until nothing more is offered, as the worker would."""
    while distribute():
        pass


def room(username: str) -> int:
    profile = AgentProfile.objects.get(user__username=username)
    return profile.capacity - capacity_in_use(agent_id=profile.user_id, now=timezone.now())


@pytest.mark.parametrize("username", DEMO_AGENTS)
def test_the_first_agent_to_sign_in_gets_the_readers_chat_and_keeps_room(demo, connect, username):
    """RT-2, RT-4, ST-20: the demo's waiting work does not fill whoever signs in first: a chat
    started at /demo/ before they sign in is offered to them, they still have room for another
    chat, and Picking an Open work item is not refused."""
    newcomer = conversation_create(workstream=demo, visitor=Visitor.objects.create())
    agent = get_user_model().objects.get(username=username)
    connect(agent)
    distribute_all()
    newcomer.refresh_from_db()
    assert newcomer.state == State.ACTIVE and newcomer.primary_agent_id == agent.pk
    assert room(username) >= demo.capacity_units
    open_items = Conversation.objects.filter(state=State.OPEN, queue__members=agent)
    assert open_items.exists()
    conversation_pick(conversation=open_items.first(), agent=agent)


def test_with_every_demo_agent_signed_in_each_keeps_room_for_a_new_chat(demo, connect):
    """RT-2, ST-20: with all of them connected, the demo's offers leave every agent room."""
    connect(*get_user_model().objects.filter(username__in=DEMO_AGENTS))
    distribute_all()
    for username in DEMO_AGENTS:
        assert room(username) >= demo.capacity_units, username
