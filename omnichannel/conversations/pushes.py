"""Pushes to sockets, sent only once the data they announce is committed.

Payloads carry ids and strings only: channels-redis serializes them with msgpack, and the
receiving consumer reads fresh data from the database before it renders anything.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import groups


def send_on_commit(group_names: Iterable[str], payload: dict) -> None:
    transaction.on_commit(partial(_send, tuple(dict.fromkeys(group_names)), payload))


def _send(group_names: tuple[str, ...], payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for name in group_names:
            await layer.group_send(name, payload)

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


def conversation_changed(
    *, conversation_id: int, queue_id: int, event_id: int, state: str, agent_ids: Iterable[int]
) -> None:
    """Tell the conversation's page, its queue's agents, the agents involved and the
    supervisors about a transition."""
    send_on_commit(
        [
            groups.conversation_group(conversation_id),
            groups.queue_group(queue_id),
            groups.SUPERVISORS,
            *map(groups.agent_group, agent_ids),
        ],
        {"type": "conversation.changed", "conversation_id": conversation_id, "event_id": event_id, "state": state},
    )


def message_posted(*, conversation_id: int, sequence: int) -> None:
    send_on_commit(
        [groups.conversation_group(conversation_id)],
        {"type": "message.posted", "conversation_id": conversation_id, "sequence": sequence},
    )
