"""The agent's socket: connection tracking (PR-2) and live offers and work items (RT-3, RT-4)."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from omnichannel.conversations.actions.assignment import conversation_offer
from omnichannel.conversations.models import AgentConnection, AgentProfile
from omnichannel.websockets import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def agent_socket(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
    communicator.scope["user"] = user
    return communicator


def test_socket_is_the_agents_connection(agent):
    """PR-2: an open socket makes the agent connected; closing the last one starts the clock."""

    async def scenario():
        socket = agent_socket(agent)
        assert (await socket.connect())[0]
        assert await database_sync_to_async(AgentConnection.objects.filter(agent=agent).count)() == 1
        await socket.disconnect()

    async_to_sync(scenario)()
    assert not AgentConnection.objects.filter(agent=agent).exists()
    assert AgentProfile.objects.get(user=agent).disconnected_at is not None


def test_offer_reaches_the_agent_live(agent, open_chat):
    """RT-3: an offer arrives on the agent's socket as a notification with Accept, Reject and a countdown."""

    async def scenario():
        socket = agent_socket(agent)
        await socket.connect()
        assert "data-countdown" not in await socket.receive_from(timeout=5)  # the page as of connecting
        await database_sync_to_async(conversation_offer)(conversation=open_chat, agent=agent)
        html = await socket.receive_from(timeout=5)
        assert 'id="offers"' in html and open_chat.title in html
        assert "Accept" in html and "Reject" in html and "data-countdown" in html
        await socket.disconnect()

    async_to_sync(scenario)()


def test_new_work_in_my_queue_appears_without_a_refresh(agent, chat_workstream, make_conversation):
    """RT-4: a new Open conversation in the agent's queue shows up in Open work items live."""

    async def scenario():
        socket = agent_socket(agent)
        await socket.connect()
        await socket.receive_from(timeout=5)  # the page as of connecting
        conversation = await database_sync_to_async(make_conversation)(chat_workstream)
        html = await socket.receive_from(timeout=5)
        assert 'id="work-items"' in html and conversation.title in html and "Pick" in html
        await socket.disconnect()

    async_to_sync(scenario)()


def test_non_agents_get_no_socket(administrator):
    """SEC-1: only agents open the agent socket."""

    async def scenario():
        connected, code = await agent_socket(administrator).connect()
        assert not connected and code == 4403

    async_to_sync(scenario)()
