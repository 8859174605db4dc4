"""The base of every product socket."""

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class Consumer(AsyncWebsocketConsumer):
    """Channels (4.2 on) hops to the database thread before each message a consumer handles,
    to close stale connections: profiling a busy chat server found that hop to be two fifths of
    its event loop's time. Our handlers reach the database only through database_sync_to_async,
    which closes stale connections around each call by itself."""

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
