"""The base of every product socket."""

import asyncio
import functools

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer


class Consumer(AsyncWebsocketConsumer):
    """Channels' consumer, with two costs of its busy path taken out (found by profiling the
    chat server, where they were a third of the event loop's time)."""

    async def __call__(self, scope, receive, send) -> None:
        """As Channels' AsyncConsumer.__call__, but each source (the client, the channel layer)
        is read by one long-lived task, and messages are dispatched one at a time under a lock.
        Channels starts a new task for every message and an asyncio.wait for every dispatch."""
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        turn = asyncio.Lock()
        stopped = False

        async def pump(source) -> None:
            nonlocal stopped
            while True:
                message = await source()
                async with turn:
                    # The other pump may have stopped the consumer while this one waited.
                    if stopped:
                        return
                    try:
                        await self.dispatch(message)
                    except BaseException:
                        stopped = True
                        raise

        pumps = [asyncio.ensure_future(pump(source)) for source in sources]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                finished.result()  # StopConsumer when the socket closed, or the handler's error
        except StopConsumer:
            pass
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def dispatch(self, message: dict) -> None:
        """A socket handles the message types it has a handler for and ignores the rest: a
        group carries events for several audiences (the conversation's group reaches its page,
        the chat panels and the workspace), and a new event type must not need a no-op handler
        in every consumer of the group. The ASGI protocol's own messages must be handled.

        Channels (4.2 on) hops to the database thread before each message, to close stale
        connections: two fifths of the event loop's time. Our handlers reach the database only
        through database_sync_to_async, which closes stale connections around each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            if message["type"].startswith("websocket."):
                raise ValueError(f"No handler for message type {message['type']}")
            return
        await handler(message)
