"""`python -m bench routing`: push distribution throughput, latency and correctness.

A agents with mixed capacities in Q queues, C Open conversations. Per backend:
1. bare: W processes claim the same rows with a plain conditional UPDATE each, the
   database's own limit for "one row, one owner";
2. backlog: W `distribute()` workers assign the C conversations; assignments/s, double
   assignments, capacity breaches;
3. latency: conversations arrive at a steady rate while W product worker loops run (woken
   by each new conversation, polling once a second otherwise); open → offer p99.
PostgreSQL (+ Redis, as in scale-out) with W=2, and SQLite with one worker. The last line
is JSON; ratio_to_bare_claims = assignments/s ÷ bare claims/s on PostgreSQL. On SQLite the
arrivals come from the bench's own process, and the in-memory layer's wake-ups do not cross
processes, so its latency is the worker's poll interval; `serve` runs the worker beside the
code that creates work, where wake-ups arrive.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import timedelta

from bench.harness import PG_URL, REDIS_URL, SQLITE_URL, configure, percentile


def seed(*, agents: int, conversations: int, queues: int) -> list[int]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from omnichannel.conversations.models import (
        AgentConnection,
        AgentProfile,
        Conversation,
        Presence,
        PresenceBase,
        Queue,
        Workstream,
    )

    available = Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()
    queue_rows = [Queue.objects.create(name=f"bench-q{i}") for i in range(queues)]
    workstreams = []
    for i, queue in enumerate(queue_rows):
        workstream = Workstream.objects.create(name=f"bench-w{i}", channel="live_chat", default_queue=queue)
        workstream.allowed_presences.add(available)
        workstreams.append(workstream)
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"bench-a{i}") for i in range(agents)])
    AgentProfile.objects.bulk_create(
        [AgentProfile(user=u, capacity=[20, 40, 60, 80, 100][i % 5], presence=available) for i, u in enumerate(users)]
    )
    now = timezone.now()
    AgentConnection.objects.bulk_create(
        [AgentConnection(agent=u, channel_name=f"bench-{u.pk}", last_seen=now + timedelta(hours=1)) for u in users]
    )
    for i, user in enumerate(users):
        queue_rows[i % queues].members.add(user)
    rows = Conversation.objects.bulk_create(
        [
            Conversation(workstream=workstreams[i % queues], queue=queue_rows[i % queues], state_changed_at=now)
            for i in range(conversations)
        ]
    )
    return [row.pk for row in rows]


def workstreams_presence():
    from omnichannel.conversations.models import Presence, PresenceBase

    return Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()


def reset(ids: list[int]) -> None:
    from omnichannel.conversations.models import AgentProfile, Conversation, ConversationEvent

    ConversationEvent.objects.filter(conversation__in=ids).delete()
    Conversation.objects.filter(pk__in=ids).update(
        state="open", primary_agent=None, accepted_at=None, offer_expires_at=None, capacity_units=0, version=0
    )
    AgentProfile.objects.update(last_offered_at=None, presence=workstreams_presence(), presence_before_busy=None)


def _bare_claims(ids: list[int], agent_id: int) -> None:
    from django.db import connections

    from omnichannel.conversations.models import Conversation

    connections.close_all()
    for pk in ids:
        Conversation.objects.filter(pk=pk, version=0).update(state="active", primary_agent_id=agent_id, version=1)


def _distribute_until_empty(deadline: float) -> None:
    from django.db import connections

    from omnichannel.conversations.distribution import distribute
    from omnichannel.conversations.models import Conversation

    connections.close_all()
    while time.monotonic() < deadline:
        if distribute() == 0:
            if not Conversation.objects.filter(state="open").exists():
                return
            time.sleep(0.002)


def _worker_for(seconds: float) -> None:
    """The product's worker loop (woken by new work, else polling), for a while."""
    import asyncio

    from django.db import connections

    from omnichannel.conversations.worker import run_forever

    connections.close_all()
    try:
        asyncio.run(asyncio.wait_for(run_forever(), timeout=seconds))
    except TimeoutError:
        pass


def run_processes(target, args_list) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=target, args=args) for args in args_list]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.perf_counter() - start


def run_backend(args) -> dict:
    configure(PG_URL if args.backend == "pg" else SQLITE_URL, REDIS_URL if args.backend == "pg" else "")
    from django.db.models import Count
    from django.utils import timezone

    from omnichannel.conversations.actions.assignment import conversation_create
    from omnichannel.conversations.models import AgentProfile, Conversation, ConversationEvent, Workstream
    from omnichannel.conversations.selectors import capacity_in_use

    ids = seed(agents=args.agents, conversations=args.conversations, queues=args.queues)
    workers = args.workers
    some_agent = AgentProfile.objects.values_list("user_id", flat=True).first()
    shares = [(ids[i::workers], some_agent) for i in range(workers)]
    # Every process claims every row, as competing workers would; only one claim per row wins.
    bare_elapsed = run_processes(_bare_claims, [(ids, some_agent)] * workers)
    bare_per_s = len(ids) / bare_elapsed
    del shares
    reset(ids)

    elapsed = run_processes(_distribute_until_empty, [(time.monotonic() + 120,)] * workers)
    assigned = Conversation.objects.filter(pk__in=ids, state="active").count()
    doubles = (
        ConversationEvent.objects.filter(conversation__in=ids, action="offer")
        .values("conversation")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    now = timezone.now()
    breaches = sum(capacity_in_use(agent_id=p.user_id, now=now) > p.capacity for p in AgentProfile.objects.all())

    # Latency: free every agent, then let conversations arrive while the workers run.
    Conversation.objects.filter(pk__in=ids).update(state="closed", capacity_units=0)
    AgentProfile.objects.update(presence=workstreams_presence(), presence_before_busy=None)
    workstreams = list(Workstream.objects.filter(name__startswith="bench-w"))
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    seconds = args.arrivals / args.rate + 2
    processes = [context.Process(target=_worker_for, args=(seconds,)) for _ in range(workers)]
    for process in processes:
        process.start()
    arrived = []
    start = time.monotonic()
    for i in range(args.arrivals):
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
        arrived.append(conversation_create(workstream=workstreams[i % len(workstreams)]).pk)
    for process in processes:
        process.join()
    latencies = [
        (offer.created_at - offer.conversation.created_at).total_seconds() * 1000
        for offer in ConversationEvent.objects.filter(conversation__in=arrived, action="offer").select_related(
            "conversation"
        )
    ]
    return {
        "backend": args.backend,
        "workers": workers,
        "conversations": len(ids),
        "assigned": assigned,
        "assignments_per_s": round(assigned / elapsed, 1),
        "bare_claims_per_s": round(bare_per_s, 1),
        "ratio_to_bare_claims": round(assigned / elapsed / bare_per_s, 3),
        "double_assignments": doubles,
        "capacity_breaches": breaches,
        "open_to_offer_p50_ms": round(percentile(latencies, 50), 1),
        "open_to_offer_p99_ms": round(percentile(latencies, 99), 1),
        "offered_of_arrivals": f"{len(latencies)}/{len(arrived)}",
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench routing")
    parser.add_argument("--backend", choices=["pg", "sqlite"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--conversations", type=int, default=1500)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--arrivals", type=int, default=250)
    parser.add_argument("--rate", type=float, default=50.0, help="arrivals per second in the latency phase")
    args = parser.parse_args(argv)
    if args.backend:
        print(json.dumps(run_backend(args)))
        return
    results = {}
    for backend, workers in (("pg", args.workers), ("sqlite", 1)):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "routing",
                "--backend",
                backend,
                "--workers",
                str(workers),
                "--agents",
                str(args.agents),
                "--conversations",
                str(args.conversations),
                "--queues",
                str(args.queues),
                "--arrivals",
                str(args.arrivals),
                "--rate",
                str(args.rate),
            ],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        if out.returncode:
            sys.exit(out.stderr)
        results[backend] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{backend}: {results[backend]}", flush=True)
    pg, lite = results["pg"], results["sqlite"]
    print(
        json.dumps(
            {
                "assignments_per_s": pg["assignments_per_s"],
                "open_to_offer_p99_ms": pg["open_to_offer_p99_ms"],
                "double_assignments": pg["double_assignments"] + lite["double_assignments"],
                "capacity_breaches": pg["capacity_breaches"] + lite["capacity_breaches"],
                "ratio_to_bare_claims": pg["ratio_to_bare_claims"],
                "bare_claims_per_s": pg["bare_claims_per_s"],
                "workers": pg["workers"],
                "sqlite_assignments_per_s": lite["assignments_per_s"],
                "sqlite_ratio_to_bare_claims": lite["ratio_to_bare_claims"],
                "sqlite_open_to_offer_p99_ms": lite["open_to_offer_p99_ms"],
            }
        )
    )
