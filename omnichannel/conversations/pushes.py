"""Pushes to sockets, sent only once the data they announce is committed.

Payloads carry ids and strings only: channels-redis serializes them with msgpack, and the
receiving consumer reads fresh data from the database before it renders anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.db import transaction

from . import groups


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
    by_group: dict[str, list[Change]] = defaultdict(list)
    for c in changes:
        for name in (
            groups.conversation_group(c.conversation_id),
            groups.queue_group(c.queue_id),
            groups.SUPERVISORS,
            *map(groups.agent_group, c.agent_ids),
        ):
            by_group[name].append(c)
    if any(c.state != "active" for c in changes):
        wake_distribution_on_commit()
    send_many_on_commit(
        [
            (
                (name,),
                {
                    "type": "conversation.changed",
                    "conversation_ids": [c.conversation_id for c in batch],
                    "event_ids": [c.event_id for c in batch],
                    "states": [str(c.state) for c in batch],
                },
            )
            for name, batch in by_group.items()
        ]
    )


def message_posted(*, conversation_id: int, sequence: int) -> None:
    send_on_commit(
        [groups.conversation_group(conversation_id)],
        {"type": "message.posted", "conversation_id": conversation_id, "sequence": sequence},
    )
