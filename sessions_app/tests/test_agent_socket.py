"""The agent's sockets: connection tracking (PR-2), live offers (RT-3) and work items (RT-4),
sessions opened for work assigned with nothing to accept (SUP-5, SES-3), and only partials the
receiving page shows."""

import json
from html.parser import HTMLParser

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_offer
from omnichannel.conversations.actions.ending import conversation_end
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.models import AgentConnection, AgentProfile
from omnichannel.conversations.states import Channel
from omnichannel.websockets import websocket_urlpatterns
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession

pytestmark = pytest.mark.django_db(transaction=True)


def agent_socket(user, path="/ws/agent/"):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


def workspace_socket(user):
    return agent_socket(user, "/ws/agent/workspace/")


class _Swapped(HTMLParser):
    """The ids of a push's top-level elements: what htmx swaps out of band, by id."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.ids = 0, set()

    def handle_starttag(self, tag, attrs) -> None:
        if self.depth == 0:
            self.ids.add(dict(attrs).get("id"))
        if tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag) -> None:
        self.depth -= 1


def swapped(html: str) -> set[str]:
    parser = _Swapped()
    parser.feed(html)
    return parser.ids


async def frames_until_changed(socket) -> tuple[str, list[int]]:
    """A push to the workspace: its HTML, then the JSON frame naming the conversations that changed."""
    html = await socket.receive_from(timeout=5)
    return html, json.loads(await socket.receive_from(timeout=5))["changed"]


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


def test_new_work_in_my_queue_appears_without_a_refresh(agent, chat_workstream, make_conversation, client):
    """RT-4, SES-2: a new Open conversation in the agent's queue: the workspace socket names it,
    and Home's streams, fetched again, show it in Open work items with Pick."""

    async def scenario():
        socket = workspace_socket(agent)
        await socket.connect()
        assert (await frames_until_changed(socket))[1] == []  # the page as of connecting
        conversation = await database_sync_to_async(make_conversation)(chat_workstream)
        _html, changed = await frames_until_changed(socket)
        await socket.disconnect()
        return conversation, changed

    conversation, changed = async_to_sync(scenario)()
    assert changed == [conversation.pk]
    client.force_login(agent)
    html = client.get(reverse("sessions_app:work_items"), headers={"HX-Request": "true"}).content.decode()
    assert conversation.title in html and f"Pick {conversation.title}" in html


def test_pages_other_than_the_workspace_get_only_the_agent_bar(agent, active_chat, chat_workstream, make_conversation):
    """RT-3, SUP-1: on a page without the workspace (the supervisor's dashboard, a conversation
    page), the agent socket pushes the offers and the presence selector and nothing the page
    lacks: no Home streams, no session panel, no session header."""
    session_actions.session_open(agent=agent, conversation=active_chat)

    async def scenario():
        socket = agent_socket(agent)
        await socket.connect()
        frames = [await socket.receive_from(timeout=5)]  # the page as of connecting
        await database_sync_to_async(make_conversation)(chat_workstream)
        frames.append(await socket.receive_from(timeout=5))
        await database_sync_to_async(conversation_end)(conversation=active_chat, agent=agent)
        frames.append(await socket.receive_from(timeout=5))
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return frames

    for html in async_to_sync(scenario)():
        assert swapped(html) == {"offers", "presence"}


def test_the_workspace_gets_no_region_of_home_or_of_the_focused_session(agent, active_chat, active_sms):
    """SES-3, SES-7: a change to the focused session's conversation (here just after it was
    accepted, while the page may still show Home) pushes the session panel with its state and
    alert, and names the conversation; Home's streams and the session's header, which depend on
    what the pane shows when the push lands, are never pushed: the page fetches them."""
    session_actions.session_open(agent=agent, conversation=active_sms)
    session_actions.session_open(agent=agent, conversation=active_chat)  # focused

    async def scenario():
        socket = workspace_socket(agent)
        await socket.connect()
        pushes = [await frames_until_changed(socket)]
        await database_sync_to_async(conversation_end)(conversation=active_chat, agent=agent)
        pushes.append(await frames_until_changed(socket))
        await socket.disconnect()
        return pushes

    pushes = async_to_sync(scenario)()
    assert pushes[1][1] == [active_chat.pk]
    for html, _changed in pushes:
        assert swapped(html) == {"offers", "presence", "session-panel"}


def test_non_agents_get_no_socket(administrator):
    """SEC-1: only agents open the agent socket."""

    async def scenario():
        connected, code = await agent_socket(administrator).connect()
        assert not connected and code == 4403

    async_to_sync(scenario)()


async def receive_until(socket, wanted, *, what: str) -> str:
    """The first message from the socket for which `wanted(html)` holds; earlier ones are other pushes."""
    seen = []
    while True:
        try:
            html = await socket.receive_from(timeout=5)
        except TimeoutError:
            raise AssertionError(f"no message with {what}; got {len(seen)} others") from None
        if wanted(html):
            return html
        seen.append(html)


def assigned_sessions(agent):
    return list(AgentSession.objects.filter(agent=agent, kind="conversation").values_list("conversation_id", "focused"))


def test_a_supervisors_assign_opens_the_session_and_tells_the_agent(agent, supervisor, open_chat):
    """SUP-5, SES-3: the agent is told who assigned what, and its session opens in their panel
    without taking the focus from where they work."""

    async def scenario():
        socket = workspace_socket(agent)
        await socket.connect()
        await socket.receive_from(timeout=5)  # the page as of connecting
        await database_sync_to_async(conversation_assign)(conversation=open_chat, agent=agent, actor=supervisor)
        notice = await receive_until(socket, lambda html: 'id="agent-notices"' in html, what="the notice")
        assert "Sofie" in notice and "assigned it to you" in notice and open_chat.title in notice
        assert await database_sync_to_async(assigned_sessions)(agent) == [(open_chat.pk, False)]
        session = await database_sync_to_async(AgentSession.objects.get)(agent=agent)
        assert f'data-session-focus="/agent/sessions/{session.pk}/focus/"' in notice
        panel = await receive_until(
            socket, lambda html: f'data-session="{session.pk}"' in html, what="the session in the panel"
        )
        assert open_chat.title in panel
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_auto_accepted_offer_opens_the_session_and_tells_the_agent(agent, make_workstream, make_conversation):
    """RT-3, SES-3: with auto-accept there is nothing to accept, so the session opens at once
    with a notice, as accepting would have opened it."""
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT, auto_accept=True))

    async def scenario():
        socket = agent_socket(agent)
        await socket.connect()
        await socket.receive_from(timeout=5)
        assert await database_sync_to_async(distribute)() == 1
        notice = await receive_until(socket, lambda html: 'id="agent-notices"' in html, what="the notice")
        assert "It was assigned to you." in notice and conversation.title in notice
        assert await database_sync_to_async(assigned_sessions)(agent) == [(conversation.pk, False)]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_work_assigned_while_away_opens_its_session_when_a_page_connects(agent, supervisor, open_chat):
    """SUP-5, SES-3: assigned (with an override) while none of the agent's pages was open, the
    session opens when one connects, and that page tells them."""
    conversation_assign(conversation=open_chat, agent=agent, actor=supervisor, override=True)
    assert assigned_sessions(agent) == []

    async def scenario():
        socket = agent_socket(agent)
        await socket.connect()
        notice = await receive_until(socket, lambda html: 'id="agent-notices"' in html, what="the notice")
        assert open_chat.title in notice
        assert await database_sync_to_async(assigned_sessions)(agent) == [(open_chat.pk, False)]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_every_page_of_the_agent_is_told_and_one_session_opens(agent, supervisor, open_chat):
    """SUP-5, SES-3: two tabs open: both show the notice, and the assignment has one session."""

    async def scenario():
        tabs = [agent_socket(agent), agent_socket(agent)]
        for tab in tabs:
            await tab.connect()
            await tab.receive_from(timeout=5)
        await database_sync_to_async(conversation_assign)(conversation=open_chat, agent=agent, actor=supervisor)
        for tab in tabs:
            await receive_until(tab, lambda html: 'id="agent-notices"' in html, what="the notice")
        assert await database_sync_to_async(assigned_sessions)(agent) == [(open_chat.pk, False)]
        for tab in tabs:
            await tab.disconnect()

    async_to_sync(scenario)()
