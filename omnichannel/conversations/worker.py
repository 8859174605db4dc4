"""The background worker: applies every deadline, then distributes waiting work.

Deadlines live in the database (offer expiry, waiting_until, capacity_release_at, agents'
disconnected_at), so any worker can apply any of them, and one that dies loses nothing.
Each is applied through its action, whose conditional update on the row's version lets
exactly one of several concurrent workers win; the others' refusals are expected and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from . import groups, pushes
from .actions import live_chat, presence
from .actions.assignment import conversation_offer_expire
from .actions.ending import (
    conversation_agent_reconnect_timeout,
    conversation_customer_gone,
    conversation_inactivity_timeout,
    conversation_wrap_up_block_expire,
)
from .actions.transfers import conversation_transfer_expire
from .distribution import distribute
from .errors import ConversationError
from .groups import DISTRIBUTION_WAKE
from .models import (
    AgentProfile,
    Conversation,
    PresenceBase,
    Queue,
    QueueDepthSample,
)
from .states import Channel, State, channels_where

logger = logging.getLogger(__name__)
BATCH = 500


def _apply(rows: Iterable[Conversation], action: Callable[..., object]) -> int:
    applied = 0
    for conversation in rows:
        try:
            action(conversation=conversation)
            applied += 1
        except ConversationError:
            pass  # another worker, or the agent, got there first
    return applied


def _due(rows: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return rows.select_related("workstream", "case", "primary_agent")[:BATCH]


def expire_offers(now: datetime) -> int:
    """RT-3: offers nobody accepted in time go back to Open, to be offered to the next agent."""
    rows = Conversation.objects.filter(state=State.ACTIVE, accepted_at__isnull=True, offer_expires_at__lte=now)
    return _apply(_due(rows), conversation_offer_expire)


def expire_transfers(now: datetime) -> int:
    """SUP-6: supervisors' transfers their agent did not answer in time lapse; the conversation stays."""
    rows = Conversation.objects.filter(transfer_agent__isnull=False, transfer_expires_at__lte=now)
    return _apply(_due(rows), conversation_transfer_expire)


def close_inactive_waiting(now: datetime) -> int:
    """ST-9, ST-24: Waiting past its inactivity timeout (or a persistent chat's period) closes."""
    rows = Conversation.objects.filter(state=State.WAITING, waiting_until__lte=now)
    return _apply(_due(rows), conversation_inactivity_timeout)


def release_wrap_up_blocks(now: datetime) -> int:
    """ST-20: a timed wrap-up block ran out; record it and let the agent's presence follow."""
    rows = Conversation.objects.filter(state=State.WRAP_UP, capacity_units__gt=0, capacity_release_at__lte=now)
    return _apply(_due(rows), conversation_wrap_up_block_expire)


def drop_stale_connections(now: datetime) -> int:
    """Agents' sockets of a process that died stop heartbeating; count them as closed when last heard."""
    return presence.CONNECTIONS.sweep(now)


def return_work_of_disconnected_agents(now: datetime) -> int:
    """ST-4: Active work of an agent gone longer than its workstream's reconnect timeout goes back to Open."""
    # Records stay with their agent (no ST-4 row for them); the longest gone come first.
    rows = (
        Conversation.objects.filter(state=State.ACTIVE, primary_agent__agent_profile__disconnected_at__isnull=False)
        .filter(workstream__channel__in=channels_where("with_customer"))
        .select_related("workstream", "primary_agent__agent_profile")
        .order_by("primary_agent__agent_profile__disconnected_at", "pk")
    )
    due = [
        c
        for c in rows[:BATCH]
        if now
        >= c.primary_agent.agent_profile.disconnected_at
        + timedelta(seconds=c.workstream.agent_reconnect_timeout_seconds)
    ]
    return _apply(due, conversation_agent_reconnect_timeout)


def set_gone_agents_offline(now: datetime) -> int:
    """PR-2: Offline once the agent's last connection has been gone past the timeout."""
    limit = now - timedelta(seconds=settings.OMNICHANNEL["OFFLINE_AFTER_SECONDS"])
    profiles = AgentProfile.objects.filter(disconnected_at__lte=limit).exclude(presence__base=PresenceBase.OFFLINE)
    return sum(presence.agent_go_offline(profile=p, now=now) for p in profiles[:BATCH])


def drop_stale_customer_connections(now: datetime) -> int:
    """Customers' sockets of a process that died likewise."""
    return live_chat.CONNECTIONS.sweep(now)


def apply_customer_departures(now: datetime) -> int:
    """ST-2, ST-7, ST-21: a live-chat customer gone past the workstream's reconnect timeout has left."""
    rows = (
        Conversation.objects.filter(
            workstream__channel=Channel.LIVE_CHAT,
            state__in=[State.OPEN, State.ACTIVE],
            customer_disconnected_at__isnull=False,
        )
        .select_related("workstream", "case")
        .order_by("customer_disconnected_at", "pk")
    )
    due = [
        c
        for c in rows[:BATCH]
        if now >= c.customer_disconnected_at + timedelta(seconds=c.workstream.customer_reconnect_timeout_seconds)
    ]
    return _apply(due, conversation_customer_gone)


QUEUE_DEPTH_KEPT = timedelta(days=1)


def sample_queue_depth(now: datetime) -> int:
    """SUP-1: once a minute, each queue's Open conversations, for the supervisors' chart. The
    sample's unique minute lets concurrent workers both try and store it once."""
    minute = now.replace(second=0, microsecond=0)
    if QueueDepthSample.objects.filter(taken_at=minute).exists():
        return 0
    depths = Queue.objects.annotate(depth=Count("conversations", filter=Q(conversations__state=State.OPEN)))
    QueueDepthSample.objects.bulk_create(
        [QueueDepthSample(queue_id=q.pk, taken_at=minute, depth=q.depth) for q in depths], ignore_conflicts=True
    )
    QueueDepthSample.objects.filter(taken_at__lt=minute - QUEUE_DEPTH_KEPT).delete()
    pushes.send_on_commit([groups.SUPERVISORS], {"type": "queue_depth.sampled", "taken_at": minute.isoformat()})
    return 1


STEPS = [
    expire_offers,
    expire_transfers,
    close_inactive_waiting,
    release_wrap_up_blocks,
    drop_stale_connections,
    return_work_of_disconnected_agents,
    set_gone_agents_offline,
    drop_stale_customer_connections,
    apply_customer_departures,
    sample_queue_depth,
]


def tick(*, deadlines: bool = True) -> dict[str, int]:
    """One pass over every deadline (unless only woken to distribute), then one distribution
    round. Never raises: one failing step is logged and the others still run."""
    done: dict[str, int] = {}
    calls = [(step.__name__, lambda step=step: step(timezone.now())) for step in (STEPS if deadlines else [])]
    for name, call in [*calls, ("distribute", distribute)]:
        try:
            done[name] = call()
        except Exception:
            logger.exception("worker step %s failed", name)
    return done


async def run_forever() -> None:
    """Distribute whenever woken (a transition made work Open or freed capacity), and apply
    every deadline once per poll interval; runs in `serve` (in-process) and in `run_worker`."""
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer

    # Off the thread that runs sync views, so a slow pass never delays a page.
    run = database_sync_to_async(tick, thread_sensitive=False)
    interval = settings.OMNICHANNEL["WORKER_INTERVAL_SECONDS"]
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    listener = asyncio.create_task(_listen(get_channel_layer(), woken, interval))
    deadlines_due = 0.0
    try:
        while True:
            full = loop.time() >= deadlines_due
            if full:
                deadlines_due = loop.time() + interval
            # Wake-ups that arrive during the pass are all served by the next one.
            woken.clear()
            try:
                await run(deadlines=full)
            except Exception:
                # The database is away: keep going, polling, until it is back.
                logger.exception("worker pass failed")
                await asyncio.sleep(interval)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=max(0.0, deadlines_due - loop.time()))
    finally:
        listener.cancel()


async def _listen(layer, woken: asyncio.Event, interval: float) -> None:
    """Turn wake-up messages into `woken`. The loop waits on the event, never on the layer:
    channels-redis's receive, cancelled by a timeout at the wrong moment, never returned,
    and a worker stuck there distributed nothing again (a lost wake-up costs one poll)."""
    while True:
        try:
            await layer.receive(DISTRIBUTION_WAKE)
        except Exception:
            logger.exception("waiting for wake-ups failed; polling meanwhile")
            await asyncio.sleep(interval)
            continue
        woken.set()
