"""`python -m bench dashboard`: server time of the supervisors' dashboard (SUP-1) at 100 and
at 10,000 ongoing conversations, in the same run.

page: GET /supervisor/ through Django's full request path (middleware, session, permission
check, selectors, template), in process. push: a transition's message arriving on the
dashboard's socket until the re-rendered partials are sent (group_send → receive on a
WebsocketCommunicator, in-memory layer).

The two sizes live in two databases, migrated alike, and the measurements alternate between
them request by request (the connection is switched, and warmed, between timings), so a
busy machine slows both alike and the ratio stays honest. The last line is JSON;
flatness = page p99 at 10,000 ÷ page p99 at 100 (target ≤ 2).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time

from bench.harness import PG_URL, configure, percentile

SQLITE_URL = "sqlite:////tmp/omnichannel-bench-dashboard.sqlite3"


def seed(total: int, *, queues: int, agents: int) -> None:
    """Grow the ongoing conversations to `total`: a mix of states, channels, agents and sentiment."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from omnichannel.conversations.models import (
        AgentProfile,
        Conversation,
        Presence,
        PresenceBase,
        Queue,
        SentimentLevel,
        Visitor,
        Workstream,
    )
    from omnichannel.conversations.states import Channel, State

    if not Queue.objects.exists():
        available = Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()
        rows = [Queue.objects.create(name=f"bench-q{i}") for i in range(queues)]
        for i, (queue, channel) in enumerate(
            zip(rows, [Channel.LIVE_CHAT, Channel.SMS, Channel.WHATSAPP, Channel.VOICE] * queues, strict=False)
        ):
            Workstream.objects.create(name=f"bench-w{i}", channel=channel, default_queue=queue)
        users = get_user_model().objects.bulk_create(
            [get_user_model()(username=f"bench-a{i}", first_name=f"Agent {i}") for i in range(agents)]
        )
        AgentProfile.objects.bulk_create([AgentProfile(user=u, capacity=1000, presence=available) for u in users])
    workstreams = list(Workstream.objects.order_by("pk"))
    agent_ids = list(AgentProfile.objects.values_list("user_id", flat=True))
    have = Conversation.objects.exclude(state=State.CLOSED).count()
    now = timezone.now()
    states = [State.OPEN, State.ACTIVE, State.WRAP_UP, State.WAITING]
    levels = [""] + list(SentimentLevel.values)
    visitors = Visitor.objects.bulk_create([Visitor() for _ in range(total - have)])
    new = []
    for n, visitor in enumerate(visitors, start=have):
        state = states[n % 4]
        workstream = workstreams[n % len(workstreams)]
        held = state in (State.ACTIVE, State.WRAP_UP)
        new.append(
            Conversation(
                workstream=workstream,
                queue_id=workstream.default_queue_id,
                visitor=visitor,
                state=state,
                primary_agent_id=None if state == State.OPEN else agent_ids[n % len(agent_ids)],
                accepted_at=None if state == State.OPEN else now,
                capacity_units=workstream.capacity_units if held else 0,
                sentiment_level=levels[n % len(levels)],
                state_changed_at=now - timedelta(seconds=n),
            )
        )
    Conversation.objects.bulk_create(new, batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk load: plans for real row counts


def switch_to(name: str) -> None:
    """Point the default connection at another database of the run, connected before any timing."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name
    connection.ensure_connection()


def copy_database(backend: str, source: str, target: str) -> None:
    """A second database with the same migrations, roles and supervisor, for the other size."""
    from django.db import connection

    connection.close()
    if backend == "sqlite":
        shutil.copyfile(source, target)
        return
    base = PG_URL.rsplit("/", 1)[0]
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {target}"], check=True)
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {target} TEMPLATE {source}"], check=True)


def measure(sizes: dict[int, tuple[str, object]], communicator_factory, *, repeat: int) -> dict[int, dict]:
    """Alternate page loads and pushes between the sizes' databases; p50/p99 per size."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnichannel.conversations import groups

    page_ms: dict[int, list[float]] = {size: [] for size in sizes}
    push_ms: dict[int, list[float]] = {size: [] for size in sizes}
    queries: dict[int, int] = {}
    html_kb: dict[int, float] = {}

    async def pushes() -> None:
        socket = communicator_factory()
        connected, _ = await socket.connect()
        assert connected
        await socket.receive_from(timeout=30)  # the opening render
        layer = get_channel_layer()
        for i in range(repeat + 5):
            for size, (name, client) in sizes.items():
                await database_sync(switch_to, name)
                start = time.perf_counter()
                response = await database_sync(client.get, "/supervisor/")
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200, response.status_code
                assert i or f"{size} ongoing" in response.content.decode(), "the database switch failed"
                if i >= 5:
                    page_ms[size].append(elapsed)
                html_kb[size] = round(len(response.content) / 1024, 1)
                start = time.perf_counter()
                await layer.group_send(groups.SUPERVISORS, {"type": "conversation.changed", "conversation_ids": [1]})
                html = await socket.receive_from(timeout=30)
                elapsed = (time.perf_counter() - start) * 1000
                assert i or f"{size} ongoing" in html, "the socket rendered from the other database"
                if i >= 5:
                    push_ms[size].append(elapsed)
        await socket.disconnect()

    def database_sync(function, *args):
        from channels.db import database_sync_to_async

        # The page, the switch and the socket's renders share one thread, hence one connection.
        return database_sync_to_async(function)(*args)

    async_to_sync(pushes)()
    for size, (name, client) in sizes.items():
        switch_to(name)
        with CaptureQueriesContext(connection) as captured:
            client.get("/supervisor/")
        queries[size] = len(captured)
    return {
        size: {
            "page_p50_ms": round(percentile(page_ms[size], 50), 2),
            "page_p99_ms": round(percentile(page_ms[size], 99), 2),
            "push_p50_ms": round(percentile(push_ms[size], 50), 2),
            "push_p99_ms": round(percentile(push_ms[size], 99), 2),
            "queries": queries[size],
            "page_kb": html_kb[size],
        }
        for size in sizes
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard")
    parser.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=200, help="page loads and pushes measured per size")
    parser.add_argument("--queues", type=int, default=8)
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    url = SQLITE_URL if args.backend == "sqlite" else PG_URL
    configure(url)

    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from omnichannel.conversations.models import AgentProfile, Presence, PresenceBase
    from omnichannel.conversations.roles import SUPERVISOR
    from omnichannel.websockets import websocket_urlpatterns
    from supervision.consumers import DashboardConsumer

    settings.DEBUG = False  # as deployed: no query log kept per request
    # The push's own server time, not the dashboard's cap of two renders a second.
    DashboardConsumer.min_interval = 0
    supervisor = get_user_model().objects.create_user(username="bench-supervisor", first_name="Sofie")
    supervisor.groups.add(Group.objects.get(name=SUPERVISOR))
    AgentProfile.objects.create(
        user=supervisor, presence=Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()
    )
    small = connection.settings_dict["NAME"]
    large = f"{small}-large" if args.backend == "sqlite" else f"{small}_large"
    copy_database(args.backend, small, large)
    sizes = {}
    for total, name in ((100, small), (10_000, large)):
        switch_to(name)
        seed(total, queues=args.queues, agents=args.agents)
        client = Client()
        client.force_login(supervisor)
        sizes[total] = (name, client)

    def communicator():
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/supervisor/")
        socket.scope["user"] = supervisor
        return socket

    results = measure(sizes, communicator, repeat=args.repeat)
    for total, result in results.items():
        print(f"{total} ongoing: {result}", flush=True)
    small_result, large_result = results[100], results[10_000]
    print(
        json.dumps(
            {
                "backend": args.backend,
                "page_p99_ms_100": small_result["page_p99_ms"],
                "page_p99_ms_10000": large_result["page_p99_ms"],
                "push_p99_ms_100": small_result["push_p99_ms"],
                "push_p99_ms_10000": large_result["push_p99_ms"],
                "page_p50_ms_100": small_result["page_p50_ms"],
                "page_p50_ms_10000": large_result["page_p50_ms"],
                "flatness": round(large_result["page_p99_ms"] / small_result["page_p99_ms"], 2),
                "push_flatness": round(large_result["push_p99_ms"] / small_result["push_p99_ms"], 2),
                "queries_100": small_result["queries"],
                "queries_10000": large_result["queries"],
            }
        )
    )
