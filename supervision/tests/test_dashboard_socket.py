"""The dashboard's socket (SUP-1, SEC-1): live rows and figures after every change, with the
page's filters, on the in-memory layer and through Redis across server processes."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.asyncio.client import connect

from omnichannel.conversations import groups
from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.presence import agent_presence_set
from omnichannel.conversations.models import PresenceBase, SenderRole
from omnichannel.testing.servers import daphne_server, database_url
from omnichannel.websockets import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
CSRF = "a" * 32  # any well-formed secret: cookie and header need only agree


def dashboard_socket(user, query: str = "") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/supervisor/?{query}")
    communicator.scope["user"] = user
    return communicator


async def open_dashboard(user, query: str = "") -> tuple[WebsocketCommunicator, str]:
    """A connected dashboard socket and its opening render."""
    socket = dashboard_socket(user, query)
    assert (await socket.connect())[0]
    return socket, await socket.receive_from(timeout=5)


async def receive_until(socket: WebsocketCommunicator, text: str) -> str:
    """The first render containing `text`: a change may bring a render or two before it."""
    html = await socket.receive_from(timeout=5)
    while text not in html:
        html = await socket.receive_from(timeout=5)
    return html


def run(scenario) -> None:
    async_to_sync(scenario)()


def test_new_conversation_and_state_change_arrive_live(supervisor, agent, chat_workstream, make_conversation):
    """SUP-1: a new conversation appears, and its move to Active shows, without a refresh: the
    push re-renders the rows and key figures with the page's partials."""

    async def scenario():
        socket, opening = await open_dashboard(supervisor)
        assert "No ongoing conversations match." in opening
        conversation = await database_sync_to_async(make_conversation)(chat_workstream)
        html = await socket.receive_from(timeout=5)
        assert html.count('id="kpis"') == 1 and 'id="queue-depth"' in html and 'id="ongoing-rows"' in html
        assert f'<tr id="conversation-{conversation.pk}" data-state="open">' in html
        assert 'data-kpi="waiting">1<' in html
        await database_sync_to_async(conversation_pick)(conversation=conversation, agent=agent)
        html = await socket.receive_from(timeout=5)
        assert f'<tr id="conversation-{conversation.pk}" data-state="active">' in html and "Anna Jensen" in html
        assert 'data-kpi="waiting">0<' in html
        await socket.disconnect()

    run(scenario)


def test_pushes_follow_the_pages_filters(supervisor, agent, chat_workstream, make_conversation):
    """SUP-1: a socket opened with state=open shows, as it opens, what changed since the page
    was rendered, and drops a conversation once it is Active."""

    async def scenario():
        conversation = await database_sync_to_async(make_conversation)(chat_workstream)
        socket, opening = await open_dashboard(supervisor, "state=open")
        assert f'id="conversation-{conversation.pk}"' in opening
        await database_sync_to_async(conversation_pick)(conversation=conversation, agent=agent)
        html = await socket.receive_from(timeout=5)
        assert f'id="conversation-{conversation.pk}"' not in html and "No ongoing conversations match." in html
        await socket.disconnect()

    run(scenario)


def test_sentiment_and_presence_changes_arrive_live(supervisor, active_chat, agent, presences):
    """SUP-1: the customer's sentiment moving to another level, and an agent's presence, reach the dashboard."""

    async def scenario():
        socket, _ = await open_dashboard(supervisor)
        await database_sync_to_async(message_post)(
            conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="This is terrible, awful, horrible service!"
        )
        html = await receive_until(socket, "sentiment--")
        assert "Very negative" in html or "Negative" in html
        await database_sync_to_async(agent_presence_set)(agent=agent, presence=presences[PresenceBase.AWAY])
        await receive_until(socket, 'data-presence-count="away">1<')
        await socket.disconnect()

    run(scenario)


def test_a_burst_of_changes_is_coalesced(supervisor, open_chat):
    """SUP-1: a hundred pushes in a burst cost a few renders, not a hundred: changes arriving
    while one render runs are all served by the next. The last render is current."""

    async def scenario():
        socket, _ = await open_dashboard(supervisor)
        layer = get_channel_layer()
        for _ in range(100):
            await layer.group_send(groups.SUPERVISORS, {"type": "conversation.changed", "conversation_ids": [1]})
        renders = [await socket.receive_from(timeout=5)]
        while not await socket.receive_nothing(timeout=0.5):
            renders.append(await socket.receive_from(timeout=5))
        assert 1 <= len(renders) <= 20
        assert f'id="conversation-{open_chat.pk}"' in renders[-1]
        await socket.disconnect()

    run(scenario)


def test_each_dashboard_renders_at_most_twice_a_second(supervisor, open_chat):
    """SUP-1: a change right after a render waits out the dashboard's minimum interval, so a
    stream of changes costs each open dashboard a bounded share of the server."""
    from supervision.consumers import DashboardConsumer

    assert DashboardConsumer.min_interval == 0.5

    async def scenario():
        loop = asyncio.get_running_loop()
        # The interval runs from the start of the opening render, which comes after this: timed
        # from when its frame arrived instead, a slow render (a loaded machine) made it look short.
        connecting = loop.time()
        socket, _ = await open_dashboard(supervisor)
        await get_channel_layer().group_send(groups.SUPERVISORS, {"type": "conversation.changed"})
        await socket.receive_from(timeout=5)
        assert loop.time() - connecting >= DashboardConsumer.min_interval
        await socket.disconnect()

    run(scenario)


def test_agents_anonymous_users_and_bad_filters_get_no_socket(agent, supervisor):
    """SEC-1: only supervisors open the dashboard's socket; SUP-1: bad filters are refused."""

    async def scenario():
        assert await dashboard_socket(agent).connect() == (False, 4403)
        anonymous = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/supervisor/")
        from django.contrib.auth.models import AnonymousUser

        anonymous.scope["user"] = AnonymousUser()
        assert await anonymous.connect() == (False, 4403)
        assert await dashboard_socket(supervisor, "state=closed").connect() == (False, 4400)

    run(scenario)


def test_push_reaches_a_dashboard_on_another_server_process_through_redis(
    client, supervisor, agent, chat_workstream, make_conversation
):
    """SUP-1, OPS-1: the supervisor's socket on one daphne process, the agent picking on another;
    the change reaches the dashboard through Redis."""
    conversation = make_conversation(chat_workstream)
    client.force_login(supervisor)
    supervisor_cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    agent_client = Client()
    agent_client.force_login(agent)
    agent_cookie = f"{settings.SESSION_COOKIE_NAME}={agent_client.cookies[settings.SESSION_COOKIE_NAME].value}"
    database = database_url(connection.settings_dict)
    env = {"REDIS_URL": REDIS_URL}
    with (
        daphne_server(database=database, env=env, worker=False) as first,
        daphne_server(database=database, env=env, worker=False) as second,
    ):

        async def scenario():
            url = first.replace("http", "ws", 1) + "/ws/supervisor/"
            async with connect(url, origin=first, additional_headers={"Cookie": supervisor_cookie}) as ws:
                opening = await asyncio.wait_for(ws.recv(), timeout=15)  # subscribed: it joined the group first
                assert f'<tr id="conversation-{conversation.pk}" data-state="open">' in opening
                await database_sync_to_async(pick_on, thread_sensitive=False)(second)
                html = await asyncio.wait_for(ws.recv(), timeout=15)
                while f'<tr id="conversation-{conversation.pk}" data-state="active">' not in html:
                    html = await asyncio.wait_for(ws.recv(), timeout=15)

        def pick_on(base_url: str) -> None:
            import urllib.request

            request = urllib.request.Request(
                f"{base_url}/agent/conversations/{conversation.pk}/pick/",
                method="POST",
                headers={"Cookie": f"{agent_cookie}; csrftoken={CSRF}", "X-CSRFToken": CSRF, "HX-Request": "true"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200

        asyncio.run(scenario())
