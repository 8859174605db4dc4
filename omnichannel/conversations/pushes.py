"""Pushes to sockets, sent only once the data they announce is committed.

Payloads carry ids and strings only: channels-redis serializes them with msgpack. A
transition's receivers read fresh data from the database before they render; a new message
travels rendered, since it never changes once stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from asgiref.sync import SyncToAsync, async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.db import transaction

from . import groups
from .models import Message, SentimentLevel

logger = logging.getLogger(__name__)
OUTBOX_LIMIT = 10_000


def send_on_commit(group_names: Iterable[str], payload: dict) -> None:
    send_many_on_commit([(tuple(group_names), payload)])


def send_many_on_commit(messages: list[tuple[tuple[str, ...], dict]]) -> None:
    """Send each payload to its groups once the transaction commits, in one hop to the layer."""
    transaction.on_commit(partial(_send, [(tuple(dict.fromkeys(names)), payload) for names, payload in messages]))


def wake_distribution_on_commit() -> None:
    """Work became Open or capacity freed: have a worker distribute now, not at its next poll."""
    transaction.on_commit(partial(_send, [], wake=True))


def _send(messages: list[tuple[tuple[str, ...], dict]], wake: bool = False) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for names, payload in messages:
            for name in names:
                await layer.group_send(name, payload)
        if wake:
            # A full channel means wake-ups are already waiting; the worker polls anyway.
            with contextlib.suppress(ChannelFull):
                await layer.send(groups.DISTRIBUTION_WAKE, {"type": "distribution.wake"})

    server_loop = _server_loop()
    if server_loop is not None:
        # Called from a socket's database thread: hand the sends to the server's loop rather
        # than hold the thread (and the chat writer's next batch) until they are done.
        server_loop.call_soon_threadsafe(_enqueue, server_loop, send_all)
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(send_all)()
        return
    # This thread already runs an event loop (a synchronous caller inside one, such as
    # Playwright's sync API in the browser tests); async_to_sync refuses to nest in it.
    sender = threading.Thread(target=async_to_sync(send_all))
    sender.start()
    sender.join()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop this thread works for, when it runs inside `sync_to_async`."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or loop.is_closed() or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop


_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue] = weakref.WeakKeyDictionary()


def _enqueue(loop: asyncio.AbstractEventLoop, send_all) -> None:
    """On the loop: queue the sends; one task per loop drains them, so they leave in commit order."""
    if loop not in _outboxes:
        _outboxes[loop] = asyncio.Queue(maxsize=OUTBOX_LIMIT)
        loop.create_task(_drain_outbox(_outboxes[loop]))
    try:
        _outboxes[loop].put_nowait(send_all)
    except asyncio.QueueFull:
        # The channel layer is down or far behind: clients catch up from the database on resume.
        logger.warning("Push outbox full; dropped a push")


async def _drain_outbox(queue: asyncio.Queue) -> None:
    while True:
        send_all = await queue.get()
        try:
            await send_all()
        except Exception:
            logger.exception("A push could not be sent; clients catch up from the database on their next resume.")


@dataclass(frozen=True)
class Change:
    conversation_id: int
    queue_id: int
    event_id: int
    state: str
    agent_ids: tuple[int, ...]


def conversations_changed(changes: list[Change]) -> None:
    """Tell each conversation's page, its queue's agents, the agents involved and the
    supervisors about its transition: one message per group, listing every conversation
    of the batch that group cares about."""
    by_group: dict[str, dict[tuple[int, int], Change]] = defaultdict(dict)
    for c in changes:
        for name in (
            groups.conversation_group(c.conversation_id),
            groups.queue_group(c.queue_id),
            groups.SUPERVISORS,
            *map(groups.agent_group, c.agent_ids),
        ):
            # One event announced to two queues (a transfer) reaches the other groups once.
            by_group[name].setdefault((c.conversation_id, c.event_id), c)
    if any(c.state != "active" for c in changes):
        wake_distribution_on_commit()
    send_many_on_commit(
        [
            (
                (name,),
                {
                    "type": "conversation.changed",
                    "conversation_ids": [c.conversation_id for c in batch.values()],
                    "event_ids": [c.event_id for c in batch.values()],
                    "states": [str(c.state) for c in batch.values()],
                },
            )
            for name, batch in by_group.items()
        ]
    )


def conversations_assigned(assigned: dict[int, list[int]]) -> None:
    """Work handed to agents with no offer to accept (an auto-accepted offer, RT-3; a
    supervisor's Assign, SUP-5), agent id → conversation ids: their workspace opens its
    session and tells them, as accepting would have (SES-3)."""
    send_many_on_commit(
        [
            ((groups.agent_group(agent_id),), {"type": "conversation.assigned", "conversation_ids": ids})
            for agent_id, ids in assigned.items()
        ]
    )


def sentiment_changed(conversation_ids: list[int]) -> None:
    """Conversations' rolling sentiment moved to another level: supervisors' dashboards show it (SUP-1)."""
    send_on_commit([groups.SUPERVISORS], {"type": "conversation.sentiment", "conversation_ids": conversation_ids})


def messages_posted(messages: list[Message], origins: list[str] | None = None) -> None:
    """Each new message to its conversation's sockets after commit, rendered once with the
    partial that pages use for the transcript, so every receiver just inserts it. The socket a
    message came from (its origin) skips the push: the acknowledgement brought it there."""
    origins = origins or [""] * len(messages)
    transaction.on_commit(lambda: _send([_message_push(m, o) for m, o in zip(messages, origins, strict=True)]))


def _message_push(message: Message, origin: str) -> tuple[tuple[str, ...], dict]:
    return (
        (groups.conversation_group(message.conversation_id),),
        {
            "type": "message.posted",
            "conversation_id": message.conversation_id,
            "sequence": message.sequence,
            "sender_role": message.sender_role,
            "html": message.html,
            "origin": origin,
            # The conversation's rolling sentiment after a customer's message, for agents (SEN-1).
            **(
                {"sentiment": level, "sentiment_label": str(SentimentLevel(level).label)}
                if message.sentiment is not None and (level := message.conversation.sentiment_level)
                else {}
            ),
        },
    )


def messages_marked(marks) -> None:
    """New delivery and read marks to the conversation's sockets: the other side shows them."""
    send_many_on_commit(
        [
            (
                (groups.conversation_group(m.conversation_id),),
                {
                    "type": "messages.marked",
                    "conversation_id": m.conversation_id,
                    "customer": m.customer,
                    "delivered": m.delivered,
                    "read": m.read,
                },
            )
            for m in marks
        ]
    )
