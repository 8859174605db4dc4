"""The chat protocol, shared by the customer's socket (the widget) and the agents' (CH-3, CH-5).

The database is the record and the socket only carries news of it. A client sends
`message` frames with its own idempotency key and keeps each in its outbox until the `ack`
names the stored sequence; a resend after a reconnect is stored once. A client subscribes
with the last sequence it has seen and first receives everything after it, so a dropped
socket or a push lost with a dead process costs nothing but a resume.

Client → server: subscribe {conversation | token, after, acks?}; message {conversation, key, body};
typing {conversation}; mark {conversation, delivered, read}; end {conversation}; ping.
Server → client: subscribed {conversation, state, last, marks}; message {conversation,
sequence, role, html}; ack {key, conversation, sequence, role, html}; error {key?, error}; typing
{conversation, customer}; marks {conversation, customer, delivered, read}; state
{conversation, state}; pong. A client that subscribes with acks "message" takes its own
messages from their acks, and its socket gets no push of them; one that does not (a page
loaded before this protocol) still gets them pushed.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from .. import groups
from ..actions.messages import MAX_MESSAGE_LENGTH, Mark, Post
from ..models import Conversation, Message, SenderRole
from . import chat_writer
from .base import Consumer

# A frame can hold the longest message, escaped, with room for the rest of the frame.
MAX_FRAME_BYTES = 6 * MAX_MESSAGE_LENGTH + 1024
MAX_KEY_LENGTH = 64


class RateLimit:
    """A token bucket per socket: `burst` messages at once, then `per_second` on average."""

    __slots__ = ("burst", "per_second", "tokens", "at")  # one per idle socket too

    def __init__(self, *, burst: int, per_second: float) -> None:
        self.burst, self.per_second = burst, per_second
        self.tokens, self.at = float(burst), time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ChatConsumer(Consumer):
    """Subclasses say who is speaking and what they may subscribe to."""

    customer = False  # which side this socket speaks for
    max_subscriptions = 1
    burst, per_second = 20, 10.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed: set[int] = set()
        self.rate = RateLimit(burst=self.burst, per_second=self.per_second)
        self.acks_carry_messages = False

    async def connect(self) -> None:
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for conversation_id in self.subscribed:
            await self.channel_layer.group_discard(groups.conversation_group(conversation_id), self.channel_name)

    # --- what subclasses decide ---

    async def authorize(self, content: dict) -> int | None:
        """The conversation this subscribe frame may open, or None."""
        raise NotImplementedError

    def sender(self, conversation_id: int) -> tuple[SenderRole, object | None]:
        raise NotImplementedError

    def post_options(self) -> dict:
        return {}

    async def may_see(self, conversation_id: int) -> bool:
        """Asked again after each transition: a transfer can take a conversation away."""
        return True

    async def may_mark(self, conversation_id: int) -> bool:
        """Whether this socket's reading counts as its side's delivery and read marks."""
        return True

    async def may_type(self, conversation_id: int) -> bool:
        """Whether the other side is shown that this socket's user is typing."""
        return True

    async def end(self, conversation_id: int) -> str:
        """End the chat for this side; return an error to show, or ""."""
        return _("Use the End button to end the conversation.")

    async def alive(self) -> None:
        """The client's heartbeat."""

    # --- frames from the client ---

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self._send({"type": "error", "error": _("That frame is too large or not text; nothing was stored.")})
            return
        try:
            content = json.loads(text_data)
            kind = content["type"]
            handler = self.FRAMES[kind]
        except (ValueError, KeyError, TypeError):
            await self._send({"type": "error", "error": _("That frame is not understood; nothing was stored.")})
            return
        await handler(self, content)

    async def _subscribe(self, content: dict) -> None:
        conversation_id = await self.authorize(content)
        if conversation_id is None:
            await self._send({"type": "error", "error": _("You cannot open that conversation.")})
            return
        if conversation_id not in self.subscribed:
            if len(self.subscribed) >= self.max_subscriptions:
                await self._send({"type": "error", "error": _("Too many conversations open on one connection.")})
                return
            self.subscribed.add(conversation_id)
            # Joined before reading the backlog: a message committed in between arrives twice
            # at most, and clients drop what they already have by its sequence.
            await self.channel_layer.group_add(groups.conversation_group(conversation_id), self.channel_name)
        self.acks_carry_messages = self.acks_carry_messages or content.get("acks") == "message"
        after = content.get("after")
        await self._send(await self._backlog(conversation_id, after if isinstance(after, int) else 0))

    async def _message(self, content: dict) -> None:
        key = content.get("key")
        conversation_id = content.get("conversation")
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH or not isinstance(content.get("body"), str):
            await self._send({"type": "error", "key": key, "error": _("A message needs a key and a body.")})
            return
        if conversation_id not in self.subscribed:
            await self._send({"type": "error", "key": key, "error": _("Open the conversation before writing in it.")})
            return
        if not self.rate.allow():
            await self._send(
                {
                    "type": "error",
                    "key": key,
                    "retry": True,
                    "error": _("Too many messages at once; it will be sent in a moment."),
                }
            )
            return
        role, sender = self.sender(conversation_id)
        try:
            posted = await chat_writer.post(
                Post(
                    conversation_id=conversation_id,
                    sender_role=role,
                    body=content["body"],
                    sender=sender,
                    idempotency_key=key,
                    origin=self.channel_name if self.acks_carry_messages else "",
                    **self.post_options(),
                )
            )
        except Exception:
            await self._send(
                {"type": "error", "key": key, "retry": True, "error": _("Not stored yet; it will be sent again.")}
            )
            raise
        if posted.error:
            await self._send({"type": "error", "key": key, "error": posted.error})
            return
        message = posted.message
        await self._send(
            {
                "type": "ack",
                "key": key,
                "conversation": message.conversation_id,
                "sequence": message.sequence,
                "role": message.sender_role,
                "html": posted.html,
            }
        )

    async def _typing(self, content: dict) -> None:
        conversation_id = content.get("conversation")
        if conversation_id in self.subscribed and await self.may_type(conversation_id):
            await self.channel_layer.group_send(
                groups.conversation_group(conversation_id),
                {
                    "type": "chat.typing",
                    "conversation_id": conversation_id,
                    "customer": self.customer,
                    "from": self.channel_name,
                },
            )

    async def _mark(self, content: dict) -> None:
        conversation_id, delivered, read = (
            content.get("conversation"),
            content.get("delivered", 0),
            content.get("read", 0),
        )
        if conversation_id in self.subscribed and isinstance(delivered, int) and isinstance(read, int):
            if await self.may_mark(conversation_id):
                await chat_writer.mark(Mark(conversation_id, self.customer, delivered, read))

    async def _end(self, content: dict) -> None:
        conversation_id = content.get("conversation")
        error = await self.end(conversation_id) if conversation_id in self.subscribed else _("Not your conversation.")
        if error:
            await self._send({"type": "error", "error": error})

    async def _ping(self, content: dict) -> None:
        await self.alive()
        await self._send({"type": "pong"})

    FRAMES = {
        "subscribe": _subscribe,
        "message": _message,
        "typing": _typing,
        "mark": _mark,
        "end": _end,
        "ping": _ping,
    }

    # --- pushes from the channel layer ---

    async def message_posted(self, event: dict) -> None:
        if event.get("origin") == self.channel_name:
            return  # its acknowledgement carried it
        frame = {
            "type": "message",
            "conversation": event["conversation_id"],
            "sequence": event["sequence"],
            "role": event["sender_role"],
            "html": event["html"],
        }
        if not self.customer and "sentiment" in event:
            frame |= {"sentiment": event["sentiment"], "sentiment_label": event["sentiment_label"]}
        await self._send(frame)

    async def messages_marked(self, event: dict) -> None:
        await self._send(
            {
                "type": "marks",
                "conversation": event["conversation_id"],
                "customer": event["customer"],
                "delivered": event["delivered"],
                "read": event["read"],
            }
        )

    async def chat_typing(self, event: dict) -> None:
        if event["from"] != self.channel_name and event["customer"] != self.customer:
            await self._send(
                {"type": "typing", "conversation": event["conversation_id"], "customer": event["customer"]}
            )

    async def conversation_changed(self, event: dict) -> None:
        for conversation_id, state in zip(event["conversation_ids"], event["states"], strict=True):
            if conversation_id not in self.subscribed:
                continue
            if not await self.may_see(conversation_id):
                self.subscribed.discard(conversation_id)
                await self.channel_layer.group_discard(groups.conversation_group(conversation_id), self.channel_name)
                await self._send({"type": "state", "conversation": conversation_id, "state": "gone"})
                continue
            await self._send({"type": "state", "conversation": conversation_id, "state": state})

    async def _send(self, content: dict | list[dict]) -> None:
        for frame in content if isinstance(content, list) else [content]:
            await self.send(text_data=json.dumps(frame))

    @database_sync_to_async
    def _backlog(self, conversation_id: int, after: int) -> list[dict]:
        """Everything after the client's last sequence, then where the conversation stands."""
        conversation = Conversation.objects.select_related("contact").get(pk=conversation_id)
        messages = Message.objects.filter(conversation=conversation, sequence__gt=after).select_related("sender")
        frames = []
        for message in messages.order_by("sequence"):
            message.conversation = conversation
            frames.append(
                {
                    "type": "message",
                    "conversation": conversation_id,
                    "sequence": message.sequence,
                    "role": message.sender_role,
                    "html": message.html,
                }
            )
        other = "agent" if self.customer else "customer"
        frames.append(
            {
                "type": "subscribed",
                "conversation": conversation_id,
                "state": conversation.state,
                "last": conversation.last_sequence,
                "marks": {
                    "delivered": getattr(conversation, f"{other}_delivered_sequence"),
                    "read": getattr(conversation, f"{other}_read_sequence"),
                },
            }
        )
        return frames


class StaffChatConsumer(ChatConsumer):
    """A signed-in staff member's socket (agents', supervisors'): it opens for users `admits`
    allows, and subscribes by conversation id to what `may_see` allows."""

    @staticmethod
    def admits(user) -> bool:
        raise NotImplementedError

    async def connect(self) -> None:
        self.user = self.scope["user"]
        if not self.user.is_authenticated or not await database_sync_to_async(self.admits)(self.user):
            await self.close(code=4403)
            return
        await super().connect()

    async def authorize(self, content: dict) -> int | None:
        conversation_id = content.get("conversation")
        if not isinstance(conversation_id, int):
            return None
        return conversation_id if await self.may_see(conversation_id) else None
