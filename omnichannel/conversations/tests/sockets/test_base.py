"""The base of every product socket dispatches as Channels does, one message at a time (OPS-1)."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from omnichannel.conversations.sockets.base import Consumer


class Recorder(Consumer):
    handled: list = []

    async def connect(self) -> None:
        await self.channel_layer.group_add("recorder", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        Recorder.handled.append("disconnect")
        await asyncio.sleep(0.1)  # pushes arrive meanwhile

    async def note(self, event: dict) -> None:
        Recorder.handled.append(event["n"])
        await asyncio.sleep(0)


def test_nothing_is_handled_after_the_socket_closed():
    """OPS-1: pushes that arrive while a closing socket runs its disconnect are dropped with it,
    and pushes before it are handled in order, one at a time."""
    Recorder.handled = []

    async def scenario():
        socket = WebsocketCommunicator(Recorder.as_asgi(), "/")
        assert (await socket.connect())[0]
        layer = get_channel_layer()
        for n in (1, 2):
            await layer.group_send("recorder", {"type": "note", "n": n})
        await asyncio.sleep(0.1)
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await asyncio.sleep(0.02)
        for n in (3, 4, 5):
            await layer.group_send("recorder", {"type": "note", "n": n})
        await socket.wait(2)

    async_to_sync(scenario)()
    assert Recorder.handled == [1, 2, "disconnect"]


def test_a_socket_ignores_event_types_it_has_no_handler_for():
    """OPS-1: a group's event for another audience (a type this socket declares no handler for)
    is ignored, and the socket goes on handling what it does declare."""
    Recorder.handled = []

    async def scenario():
        socket = WebsocketCommunicator(Recorder.as_asgi(), "/")
        assert (await socket.connect())[0]
        layer = get_channel_layer()
        await layer.group_send("recorder", {"type": "call.offered", "n": 0})
        await layer.group_send("recorder", {"type": "note", "n": 1})
        await asyncio.sleep(0.1)
        await socket.disconnect()

    async_to_sync(scenario)()
    assert Recorder.handled == [1, "disconnect"]
