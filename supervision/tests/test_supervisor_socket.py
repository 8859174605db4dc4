"""The supervisor's chat socket (SUP-3, SUP-4, SEC-1): it reads what the supervisor may monitor
and writes only after they joined; customer and agent receive what the supervisor writes."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.supervision import (
    conversation_force_close,
    conversation_monitor,
    conversation_supervisor_join,
)
from omnichannel.conversations.models import Conversation
from omnichannel.conversations.roles import SUPERVISOR
from omnichannel.conversations.states import Channel
from omnichannel.websockets import websocket_urlpatterns
from omnichannel.widget.tokens import chat_token

pytestmark = pytest.mark.django_db(transaction=True)


def socket(path, user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


async def send(ws, frame: dict) -> None:
    await ws.send_to(text_data=json.dumps(frame))


async def receive(ws, kind: str, timeout: float = 5, **match) -> dict:
    while True:
        frame = json.loads(await ws.receive_from(timeout=timeout))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def test_agents_cannot_open_the_supervisor_socket(agent):
    """SEC-1: the supervisor's socket refuses agents."""

    async def scenario():
        ws = socket("/ws/supervisor/chat/", agent)
        connected, code = await ws.connect()
        assert not connected and code == 4403

    async_to_sync(scenario)()


def test_supervisor_reads_live_and_writes_to_both_after_joining(active_chat, supervisor, agent):
    """SUP-3, SUP-4: the monitoring supervisor's socket receives the agent's replies live;
    writing before joining is refused; after joining the message reaches the agent's panel."""

    conversation_monitor(conversation=active_chat, actor=supervisor)

    async def scenario():
        watcher = socket("/ws/supervisor/chat/", supervisor)
        assert (await watcher.connect())[0]
        await send(watcher, {"type": "subscribe", "conversation": active_chat.pk, "after": 0})
        await receive(watcher, "subscribed")
        panel = socket("/ws/agent/chat/", agent)
        assert (await panel.connect())[0]
        await send(panel, {"type": "subscribe", "conversation": active_chat.pk, "after": 0})
        await receive(panel, "subscribed")

        await send(panel, {"type": "message", "conversation": active_chat.pk, "key": "a1", "body": "Agent reply"})
        seen = await receive(watcher, "message", role="agent")
        assert "Agent reply" in seen["html"]

        await send(watcher, {"type": "message", "conversation": active_chat.pk, "key": "s1", "body": "Too early"})
        refused = await receive(watcher, "error", key="s1")
        assert refused["error"] == "Join the chat before writing in it."

        await database_sync_to_async(conversation_supervisor_join)(conversation=active_chat, actor=supervisor)
        notice = await receive(panel, "message", role="system")
        assert "(supervisor) joined the chat" in notice["html"]
        await send(watcher, {"type": "message", "conversation": active_chat.pk, "key": "s2", "body": "Supervisor here"})
        await receive(watcher, "ack", key="s2")
        written = await receive(panel, "message", role="supervisor")
        assert "Supervisor here" in written["html"]
        await watcher.disconnect()
        await panel.disconnect()

    async_to_sync(scenario)()


def test_supervisor_socket_refuses_own_conversations(active_chat, agent, make_agent):
    """SUP-3: not for conversations assigned to the supervisor."""
    owner = make_agent(role=SUPERVISOR)
    Conversation.objects.filter(pk=active_chat.pk).update(primary_agent=owner)

    async def scenario():
        ws = socket("/ws/supervisor/chat/", owner)
        assert (await ws.connect())[0]
        await send(ws, {"type": "subscribe", "conversation": active_chat.pk, "after": 0})
        assert (await receive(ws, "error"))["error"] == "You cannot open that conversation."
        await ws.disconnect()

    async_to_sync(scenario)()


def test_supervisor_socket_opens_only_what_the_supervisor_monitors(
    active_chat, open_chat, make_workstream, make_conversation, supervisor, agent
):
    """SUP-3: the socket refuses what Monitor refuses (Open work, records) and what the supervisor
    has not monitored yet (unrecorded watching); after Monitor it opens, and it keeps following the
    conversation when the supervisor force closes it."""
    case = make_conversation(make_workstream(Channel.CASE))
    conversation_pick(conversation=case, agent=agent)

    async def subscribe(ws, conversation) -> dict:
        await send(ws, {"type": "subscribe", "conversation": conversation.pk, "after": 0})
        return json.loads(await ws.receive_from(timeout=5))

    async def scenario():
        ws = socket("/ws/supervisor/chat/", supervisor)
        assert (await ws.connect())[0]
        for conversation in (open_chat, case, active_chat):
            assert (await subscribe(ws, conversation))["error"] == "You cannot open that conversation."
        await database_sync_to_async(conversation_monitor)(conversation=active_chat, actor=supervisor)
        await send(ws, {"type": "subscribe", "conversation": active_chat.pk, "after": 0})
        await receive(ws, "subscribed")
        await database_sync_to_async(conversation_force_close)(conversation=active_chat, actor=supervisor)
        await receive(ws, "state", state="closed")
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_supervisor_typing_reaches_the_customer_only_after_joining(active_chat, supervisor):
    """SUP-4: a monitoring supervisor who has not joined is invisible: their typing frames reach
    nobody; once joined, the customer sees someone typing as for the agent."""
    conversation_monitor(conversation=active_chat, actor=supervisor)
    token = chat_token(conversation_id=active_chat.pk, visitor_id=active_chat.visitor_id)

    async def scenario():
        watcher = socket("/ws/supervisor/chat/", supervisor)
        assert (await watcher.connect())[0]
        await send(watcher, {"type": "subscribe", "conversation": active_chat.pk, "after": 0})
        await receive(watcher, "subscribed")
        customer = socket("/ws/chat/customer/", None)
        assert (await customer.connect())[0]
        await send(customer, {"type": "subscribe", "token": token, "after": 0})
        await receive(customer, "subscribed")

        await send(watcher, {"type": "typing", "conversation": active_chat.pk})
        await send(watcher, {"type": "ping"})
        await receive(watcher, "pong")
        assert await customer.receive_nothing(timeout=0.5)

        await database_sync_to_async(conversation_supervisor_join)(conversation=active_chat, actor=supervisor)
        await receive(customer, "message", role="system")
        await send(watcher, {"type": "typing", "conversation": active_chat.pk})
        await receive(customer, "typing", conversation=active_chat.pk)
        await watcher.disconnect()
        await customer.disconnect()

    async_to_sync(scenario)()
