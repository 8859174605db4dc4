"""The conversation page's socket: permission checks and live re-render after commit."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from omnichannel.asgi import application
from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.websockets import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def connect(user, conversation_id):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/conversations/{conversation_id}/")
    communicator.scope["user"] = user
    return communicator


def test_transition_reaches_an_open_page_after_commit(open_chat, agent):
    """ST-23: a transition re-renders the live partial for everyone watching the conversation."""

    async def scenario():
        communicator = connect(agent, open_chat.pk)
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(conversation_pick)(conversation=open_chat, agent=agent)
        html = await communicator.receive_from(timeout=5)
        assert html.lstrip().startswith('<section id="conversation-live"')
        assert "Picked from Open work items" in html and "badge-active" in html
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_socket_refuses_anonymous_and_outsiders(open_chat, make_agent, other_queue):
    """SEC-1: only users who may see the conversation get its socket."""

    async def scenario():
        outsider = await database_sync_to_async(make_agent)(queues=[other_queue])
        for user in (AnonymousUser(), outsider):
            communicator = connect(user, open_chat.pk)
            connected, code = await communicator.connect()
            assert not connected and code == 4403

    async_to_sync(scenario)()


def test_socket_checks_the_origin(open_chat, agent, client):
    """SEC-1: a signed-in user's websocket from this site's origin is accepted; the same
    session from a foreign origin is refused."""
    client.force_login(agent)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def connect_from(origin: bytes) -> bool:
        communicator = WebsocketCommunicator(
            application,
            f"/ws/conversations/{open_chat.pk}/",
            headers=[(b"origin", origin), (b"host", b"127.0.0.1"), (b"cookie", cookie)],
        )
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect_from)(b"http://127.0.0.1")
    assert not async_to_sync(connect_from)(b"https://evil.example")
