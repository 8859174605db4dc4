"""`python -m bench chat`: live-chat message throughput, latency and correctness.

N conversations, each with a customer socket and an agent socket, in a closed loop: the
customer writes, the agent's socket receives the push and the agent answers, the customer's
socket receives that and writes the next. Latency is send → push received on the other
side. The load generator (`--client`) runs in its own process(es), apart from the servers.

1. raw: a bare `websockets` relay (`--relay`) forwarding each frame to the other socket of
   its pair: the machine's limit (two client processes, since one alone saturates first);
2. embedded: `manage.py serve` on SQLite and the in-memory layer, the product's whole path
   (group commit, sentiment, render, push, ack): max msgs/s with all N, p50 with two paced
   conversations, p99 with all N paced at half the max (tail_ratio: that p99 over the light
   p50); then 2,000 idle subscribed customer sockets on a fresh server, its RSS growth per socket;
3. scale-out: PostgreSQL + Redis, two `serve` processes (CONN_MAX_AGE=60), customers on one,
   agents on the other.

The client behaves as the widget does: it resends a message the server asks to retry, and a
socket the server drops is reopened and resumed after the last sequence seen (counted under
"reconnects"). Lost: keys sent and never acknowledged, acknowledged sequences never pushed to
the other side (raw: frames never relayed). Duplicated: a sequence pushed twice to one socket,
or a key stored twice; the database must hold each acknowledged key once, and nothing else.
With the sockets' rate limits (10 and 15 messages/s) N conversations cannot exceed about
N × 20 msgs/s, hence N=300 by default.

`--profile DIR` samples the servers with py-spy during the max phase (or the one
`--profile-phase` names), only the thread holding the GIL: where the process's Python time
goes. BENCH_CHAT_SERVER names a script to run instead of manage.py (same arguments), to
measure a candidate patch applied in memory before making it. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from itertools import count
from pathlib import Path

from bench.harness import ROOT, configure, percentile

PG_URL = os.environ.get("BENCH_CHAT_PG_URL", "postgres://postgres@127.0.0.1:5432/omnichannel_bench_chat")
REDIS_URL = os.environ.get("BENCH_CHAT_REDIS_URL", "redis://127.0.0.1:6379/14")
IDLE_WARM = 50  # sockets opened before the RSS baseline, so lazy imports and caches are not counted
BODIES = [
    "Hi, I have a question about my last invoice.",
    "Thanks, that makes sense. Could you check the delivery date as well?",
    "The parcel has not arrived yet and the tracking page shows nothing.",
    "Great, thank you very much for the quick help!",
    "I tried that already, it still does not work.",
    "Can I change the address on the order?",
]
PY_SPY = Path(sys.executable).with_name("py-spy")
PROFILE_RATE = 200


# --- the load generator (its own process; needs only `websockets`) -------------------------


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Pair:
    def __init__(self, conversation: int, token: str, session: str) -> None:
        self.conversation, self.token, self.session = conversation, token, session
        self.ws: dict[str, object] = {}
        self.ready = {"customer": asyncio.Event(), "agent": asyncio.Event()}
        self.seen: dict[str, set] = {"customer": set(), "agent": set()}  # sequences (raw: keys) received
        self.sent: dict[str, set] = {"customer": set(), "agent": set()}
        self.acked: dict[str, dict] = {"customer": {}, "agent": {}}  # key -> sequence
        self.inflight: tuple[str, str, float] | None = None  # side, key, sent at
        self.active = False
        self.interval = 0.0
        self.next_at = 0.0


OTHER = {"customer": "agent", "agent": "customer"}


class Client:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.raw = spec["mode"] == "raw"
        self.pairs = [Pair(**p) for p in spec.get("pairs", [])]
        self.running = False
        self.records: list[tuple[float, float]] = []  # (received at, latency s)
        self.pending: dict[str, str] = {}  # key -> frame, until acked (product) or relayed (raw)
        self.duplicated = 0
        self.rate_limited = 0
        self.errors: Counter = Counter()
        self.states: Counter = Counter()
        self.reconnects: Counter = Counter()
        self.closing = False
        self.tasks: set[asyncio.Task] = set()
        self.keys = (f"{uuid.uuid4().hex[:16]}-{n:x}" for n in count())

    def _task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open(self, url: str, origin: str, cookie: str = ""):
        """Open a socket; a handshake the busy server drops is tried again, as browsers do."""
        from websockets.exceptions import InvalidHandshake

        for attempt in range(5):
            try:
                return await self._connect(url, origin, cookie)
            except (InvalidHandshake, OSError, TimeoutError):
                if attempt == 4:
                    raise
                self.errors["handshake retried"] += 1
                await asyncio.sleep(0.5 * (attempt + 1))

    async def _connect(self, url: str, origin: str, cookie: str):
        from websockets.asyncio.client import connect

        return await connect(
            url,
            origin=origin,
            additional_headers={"Cookie": f"sessionid={cookie}"} if cookie else None,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=60,
            max_size=2**22,
        )

    async def _subscribe(self, pair: Pair, side: str, after: int = 0):
        url, origin = self.spec["urls"][side], self.spec["origins"][side]
        ws = await self._open(url, origin, "" if side == "customer" or self.raw else pair.session)
        pair.ws[side] = ws
        if self.raw:
            frame = {"type": "subscribe", "conversation": pair.conversation, "side": side}
        elif side == "customer":
            frame = {"type": "subscribe", "token": pair.token, "after": after, "acks": "message"}
        else:
            frame = {"type": "subscribe", "conversation": pair.conversation, "after": after, "acks": "message"}
        await ws.send(json.dumps(frame))
        return ws

    async def _connect_pair(self, pair: Pair, gate: asyncio.Semaphore) -> None:
        async with gate:
            for side in ("customer", "agent"):
                self._task(self._reader(pair, side, await self._subscribe(pair, side)))
                await asyncio.wait_for(pair.ready[side].wait(), 60)

    async def _send(self, pair: Pair, side: str) -> None:
        key = next(self.keys)
        frame = json.dumps(
            {"type": "message", "conversation": pair.conversation, "key": key, "body": random.choice(BODIES)}
        )
        pair.inflight = (side, key, time.perf_counter())
        pair.sent[side].add(key)
        self.pending[key] = frame
        await self._write(pair, side, frame)

    async def _write(self, pair: Pair, side: str, frame: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await pair.ws[side].send(frame)
        except ConnectionClosed:
            pass  # still pending: sent again once the reader has reconnected

    def _kick(self, pair: Pair, side: str) -> None:
        if self.running and pair.active:
            self._task(self._send(pair, side))

    async def _resend(self, pair: Pair, side: str, key: str) -> None:
        await asyncio.sleep(0.1)
        if key in self.pending:
            await self._write(pair, side, self.pending[key])

    async def _reader(self, pair: Pair, side: str, ws) -> None:
        """Frames of one socket; a socket the server drops is reopened and resumed after the
        last sequence seen, its unacknowledged messages sent again, as the widget does."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                async for text in ws:
                    await self._frame(pair, side, json.loads(text))
                reason = f"closed {ws.close_code}"
            except ConnectionClosed as closed:
                reason = str(closed)
            if self.closing or self.raw:
                if not self.closing:
                    self.errors[f"socket closed: {reason}"] += 1
                return
            self.reconnects[f"{side} socket: {reason}"] += 1
            # A socket's own messages come in its acks, the other side's in pushes.
            after = max((*pair.acked[side].values(), *(s for s in pair.seen[side] if isinstance(s, int))), default=0)
            ws = await self._subscribe(pair, side, after)
            for key in list(pair.sent[side]):
                if key in self.pending:
                    await self._write(pair, side, self.pending[key])

    async def _frame(self, pair: Pair, side: str, frame: dict) -> None:
        loop = asyncio.get_running_loop()
        kind = frame.get("type")
        if kind == "message":
            if self.raw:
                ident, from_peer = frame["key"], True
                self.pending.pop(ident, None)
            else:
                ident, from_peer = frame["sequence"], frame["role"] != side
            if ident in pair.seen[side]:
                self.duplicated += 1
                return
            pair.seen[side].add(ident)
            if not from_peer:
                return
            now = time.perf_counter()
            if pair.inflight and pair.inflight[0] != side:
                self.records.append((now, now - pair.inflight[2]))
                pair.inflight = None
            if not (self.running and pair.active):
                return
            if side == "agent" or not pair.interval:
                await self._send(pair, side)
            else:
                at = max(loop.time(), pair.next_at)
                pair.next_at = at + pair.interval
                loop.call_at(at, self._kick, pair, side)
        elif kind == "ack":
            pair.acked[side][frame["key"]] = frame["sequence"]
            self.pending.pop(frame["key"], None)
        elif kind == "subscribed":
            pair.ready[side].set()
        elif kind == "error":
            if frame.get("retry") and frame.get("key") in self.pending:
                self.rate_limited += 1
                self._task(self._resend(pair, side, frame["key"]))
            else:
                self.errors[frame.get("error", "?")] += 1
                self.pending.pop(frame.get("key"), None)
                pair.inflight = None
        elif kind == "state":
            self.states[frame["state"]] += 1

    async def connect_all(self) -> float:
        start = time.perf_counter()
        gate = asyncio.Semaphore(32)
        await asyncio.gather(*(self._connect_pair(p, gate) for p in self.pairs))
        return time.perf_counter() - start

    def _cpu(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {"client": usage.ru_utime + usage.ru_stime}
        for i, pid in enumerate(self.spec.get("server_pids", [])):
            cpu[f"server{i}"] = _cpu_seconds(pid)
        return cpu

    async def _drain(self, pairs: list[Pair], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending and all(p.inflight is None for p in pairs):
                return
            await asyncio.sleep(0.05)
        self.errors["drain timed out"] += 1

    async def phase(self, spec: dict, done: dict) -> dict:
        loop = asyncio.get_running_loop()
        pairs = self.pairs[: spec["conversations"]]
        interval = spec.get("interval", 0.0)
        if spec.get("half_of"):
            rate = len(done[spec["half_of"]]["latencies"]) / done[spec["half_of"]]["elapsed_s"] / 2
            interval = 2 * len(pairs) / max(rate, 1.0)  # a customer message and its answer per round
        self.records = []
        self.running = True
        now = loop.time()
        for pair in pairs:
            start = now + (random.random() * interval if interval else 0.0)
            pair.active, pair.interval, pair.next_at = True, interval, start + interval
            loop.call_at(start, self._kick, pair, "customer")
        await asyncio.sleep(spec["warm"])
        profilers = self._profile(spec["duration"]) if spec.get("profile") else []
        t0, cpu0, n0 = time.perf_counter(), self._cpu(), len(self.records)
        await asyncio.sleep(spec["duration"])
        t1, cpu1 = time.perf_counter(), self._cpu()
        self.running = False
        for pair in pairs:
            pair.active = False
        for profiler in profilers:
            await asyncio.to_thread(profiler.wait)
        await self._drain(pairs)
        latencies = [round(lat * 1000, 3) for t, lat in self.records[n0:] if t0 <= t < t1]
        elapsed = t1 - t0
        return {
            "conversations": len(pairs),
            "interval_s": round(interval, 4),
            "elapsed_s": elapsed,
            "latencies": latencies,
            "cpu_percent": {k: round(100 * (cpu1[k] - cpu0[k]) / elapsed) for k in cpu0},
        }

    def _profile(self, seconds: float) -> list[subprocess.Popen]:
        """py-spy on each server process for the measured part of this phase."""
        out = self.spec["profile_dir"]
        seconds = max(1, int(seconds))
        return [
            subprocess.Popen(
                [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(PROFILE_RATE)]
                + ["--nonblocking", "--gil", "--threads", "--format", "raw", "--output", f"{out}/server{i}.txt"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i, pid in enumerate(self.spec["server_pids"])
        ]

    def tally(self) -> dict:
        lost = unacked = 0
        examples = []
        for pair in self.pairs:
            for side in ("customer", "agent"):
                peer_seen = pair.seen[OTHER[side]]
                if self.raw:
                    missing = [key for key in pair.sent[side] if key not in peer_seen]
                else:
                    unacked += len(pair.sent[side] - pair.acked[side].keys())
                    missing = sorted(seq for seq in pair.acked[side].values() if seq not in peer_seen)
                lost += len(missing)
                if missing and len(examples) < 3:
                    examples.append(
                        f"conversation {pair.conversation}: {side}'s {missing[:5]}... ({len(missing)}) never reached"
                        f" the {OTHER[side]}, which saw up to {max(peer_seen, default=None)}"
                    )
        return {
            "sent": sum(len(p.sent[s]) for p in self.pairs for s in p.sent),
            "acked": sum(len(p.acked[s]) for p in self.pairs for s in p.acked),
            "lost": lost + unacked,
            "unacked": unacked,
            "duplicated": self.duplicated,
            "rate_limited": self.rate_limited,
            "errors": dict(self.errors.most_common(5)),
            "reconnects": dict(self.reconnects.most_common(5)),
            "state_frames": dict(self.states),
            "lost_examples": examples,
        }

    async def run(self) -> dict:
        if self.spec["mode"] == "idle":
            return await self.idle()
        connect_s = await self.connect_all()
        # Several client processes start their phases together.
        await asyncio.sleep(max(0.0, self.spec.get("start_at", 0) - time.time()))
        phases: dict[str, dict] = {}
        for spec in self.spec["phases"]:
            phases[spec["name"]] = await self.phase(spec, phases)
        result = {"connect_s": round(connect_s, 1), "phases": phases, **self.tally()}
        if self.spec.get("keys_file"):
            keys = [k for p in self.pairs for s in p.acked for k in p.acked[s]]
            Path(self.spec["keys_file"]).write_text("\n".join(keys))
        self.closing = True
        await asyncio.wait_for(
            asyncio.gather(*(ws.close() for p in self.pairs for ws in p.ws.values()), return_exceptions=True), 30
        )
        return result

    async def idle(self) -> dict:
        """Idle subscribed customer sockets: the server's RSS before and after opening them."""
        pid, tokens = self.spec["server_pids"][0], self.spec["idle_tokens"]
        sockets = []
        gate = asyncio.Semaphore(50)

        async def open_one(token: str) -> None:
            async with gate:
                ws = await self._open(self.spec["urls"]["customer"], self.spec["origins"]["customer"])
                await ws.send(json.dumps({"type": "subscribe", "token": token, "after": 0}))
                while json.loads(await ws.recv())["type"] != "subscribed":
                    pass
                sockets.append(ws)

        await asyncio.gather(*map(open_one, tokens[:IDLE_WARM]))
        await asyncio.sleep(1)
        before = _rss_kb(pid)
        start = time.perf_counter()
        await asyncio.gather(*map(open_one, tokens[IDLE_WARM:]))
        opened = time.perf_counter() - start
        await asyncio.sleep(3)
        after = _rss_kb(pid)
        count = len(tokens) - IDLE_WARM
        return {
            "idle_sockets": count,
            "open_s": round(opened, 1),
            "rss_before_mb": round(before / 1024, 1),
            "rss_after_mb": round(after / 1024, 1),
            "kb_per_idle_socket": round((after - before) / count, 1),
            "handshakes_retried": self.errors["handshake retried"],
        }


def client_main(path: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(Path(path).read_text())
    print(json.dumps(asyncio.run(Client(spec).run())), flush=True)


def relay_main(port: int) -> None:
    """The bare relay: each frame goes to the other socket of its pair, untouched."""
    from websockets.asyncio.server import serve

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pairs: dict[int, dict] = {}

    async def handler(ws) -> None:
        hello = json.loads(await ws.recv())
        slot = pairs.setdefault(hello["conversation"], {})
        slot[hello["side"]] = ws
        other = OTHER[hello["side"]]
        await ws.send('{"type": "subscribed"}')
        async for frame in ws:
            await slot[other].send(frame)

    async def serve_forever() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=2**22):
            await asyncio.Future()

    asyncio.run(serve_forever())


# --- servers and the run of one backend ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(process: subprocess.Popen, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def processes(commands: list[tuple[list[str], dict]], log: Path):
    """Start servers (command taking a port last, extra env); yield [(port, pid)]; stop them."""
    started = []
    with log.open("ab") as out:
        try:
            for command, env in commands:
                port = free_port()
                process = subprocess.Popen(
                    [*command, str(port)], cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
                )
                started.append((process, port))
            for process, port in started:
                _wait_for_port(process, port)
            yield [(port, process.pid) for process, port in started]
        finally:
            for process, _ in started:
                process.terminate()
            for process, _ in started:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def serve_command(env: dict | None = None) -> tuple[list[str], dict]:
    """`manage.py serve` as deployed: DEBUG off (no query log, no debug cursors), signing with
    the bench's key so its sessions and chat tokens are valid; plain HTTP on localhost."""
    from django.conf import settings

    return (
        # BENCH_CHAT_SERVER: another script taking manage.py's arguments, e.g. one that applies
        # a candidate patch before calling Django's command line, to measure it before making it.
        [sys.executable, os.environ.get("BENCH_CHAT_SERVER", "manage.py"), "serve", "--port"],
        {
            "DEBUG": os.environ.get("BENCH_CHAT_SERVER_DEBUG", "0"),
            "SECRET_KEY": settings.SECRET_KEY,
            "SECURE_SSL_REDIRECT": "0",
            # No heartbeats in the bench: keep the sockets' connection rows fresh for the run.
            "CONNECTION_STALE_SECONDS": "3600",
            # Redis pub/sub ignores database numbers: under the default prefix the bench's pushes
            # would reach the groups of a test run (or another bench) on the same Redis.
            "CHANNEL_LAYER_PREFIX": f"bench-chat-{os.getpid()}",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            **(env or {}),
        },
    )


def run_client(spec: dict, workdir: Path, clients: int = 1) -> dict:
    """Run the load generator in `clients` processes, the pairs shared out; merge what they saw."""
    if spec["mode"] == "idle":
        clients = 1
    commands = []
    start_at = time.time() + 2 + len(spec.get("pairs", [])) / 100
    for i in range(clients):
        path = workdir / f"spec-{spec['mode']}-{i}.json"
        path.write_text(
            json.dumps(
                spec
                | {"pairs": spec.get("pairs", [])[i::clients], "start_at": start_at}
                | {
                    "phases": [
                        ph | {"conversations": max(1, ph["conversations"] // clients)} for ph in spec.get("phases", [])
                    ]
                }
                | ({"keys_file": f"{spec['keys_file']}.{i}"} if spec.get("keys_file") else {})
            )
        )
        commands.append([sys.executable, "-m", "bench", "chat", "--client", str(path)])
    running = [
        subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands
    ]
    outs = []
    for process in running:
        stdout, stderr = process.communicate()
        if process.returncode:
            sys.exit(f"client failed:\n{stderr[-4000:]}")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    if spec["mode"] == "idle":
        return outs[0]
    if spec.get("keys_file"):
        Path(spec["keys_file"]).write_text(
            "\n".join(Path(f"{spec['keys_file']}.{i}").read_text() for i in range(clients))
        )
    merged: dict = {"clients": clients, "connect_s": max(o["connect_s"] for o in outs), "phases": {}}
    for name in outs[0]["phases"]:
        parts = [o["phases"][name] for o in outs]
        latencies = [lat for part in parts for lat in part["latencies"]]
        elapsed = sum(part["elapsed_s"] for part in parts) / len(parts)
        cpu = Counter()
        for part in parts:
            for k, v in part["cpu_percent"].items():
                cpu[k] += v if k == "client" else 0
        cpu |= {k: v for k, v in parts[0]["cpu_percent"].items() if k != "client"}
        merged["phases"][name] = {
            "conversations": sum(part["conversations"] for part in parts),
            "interval_s": parts[0]["interval_s"],
            "msgs": len(latencies),
            "msgs_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies, default=0.0), 2),
            "cpu_percent": dict(cpu),
        }
    for key in ("sent", "acked", "lost", "unacked", "duplicated", "rate_limited"):
        merged[key] = sum(o[key] for o in outs)
    merged["errors"] = dict(sum((Counter(o["errors"]) for o in outs), Counter()))
    merged["state_frames"] = dict(sum((Counter(o["state_frames"]) for o in outs), Counter()))
    merged["reconnects"] = dict(sum((Counter(o["reconnects"]) for o in outs), Counter()))
    merged["lost_examples"] = [e for o in outs for e in o["lost_examples"]][:3]
    return merged


def seed(*, conversations: int, idle: int) -> dict:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from omnichannel.conversations.actions.assignment import conversation_create
    from omnichannel.conversations.actions.supervision import conversation_assign
    from omnichannel.conversations.models import (
        AgentProfile,
        Conversation,
        Presence,
        PresenceBase,
        Queue,
        Visitor,
        Workstream,
    )
    from omnichannel.conversations.roles import AGENT, SUPERVISOR, ensure_roles
    from omnichannel.widget.tokens import chat_token

    ensure_roles()
    available = Presence.objects.filter(base=PresenceBase.AVAILABLE).order_by("pk").first()
    queue = Queue.objects.create(name="bench-chat")
    workstream = Workstream.objects.create(
        name="bench-chat",
        channel="live_chat",
        default_queue=queue,
        # Scored, but no alert events: the bench's bodies are not the point.
        sentiment_alert_threshold="",
        customer_reconnect_timeout_seconds=86400,
        agent_reconnect_timeout_seconds=86400,
    )
    workstream.allowed_presences.add(available)
    User = get_user_model()
    agents = User.objects.bulk_create(
        [User(username=f"bench-chat-{i}", first_name=f"Agent {i}", password="!") for i in range(conversations)]
    )
    supervisor = User.objects.create(username="bench-chat-supervisor", password="!")
    Group.objects.get(name=AGENT).user_set.add(*agents)
    Group.objects.get(name=SUPERVISOR).user_set.add(supervisor)
    AgentProfile.objects.bulk_create([AgentProfile(user=a, capacity=1000, presence=available) for a in agents])
    queue.members.add(*agents)
    pairs = []
    store = SessionStore()
    sessions = []
    for agent in agents:
        conversation = conversation_create(workstream=workstream, visitor=Visitor.objects.create())
        conversation_assign(conversation=conversation, agent=agent, actor=supervisor, override=True)
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(agent.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: agent.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=timezone.now() + timedelta(days=1))
        )
        pairs.append(
            {
                "conversation": conversation.pk,
                "token": chat_token(conversation_id=conversation.pk, visitor_id=conversation.visitor_id),
                "session": key,
            }
        )
    Session.objects.bulk_create(sessions)
    now = timezone.now()
    idle_rows = Conversation.objects.bulk_create(
        [
            Conversation(
                workstream=workstream,
                queue=queue,
                state="active",
                primary_agent=agents[0],
                accepted_at=now,
                state_changed_at=now,
                context={"channel": "live_chat"},
            )
            for _ in range(idle)
        ]
    )
    return {
        "pairs": pairs,
        "idle_tokens": [chat_token(conversation_id=c.pk, visitor_id=None) for c in idle_rows],
    }


def verify(ids: list[int], keys_file: Path) -> dict:
    """What the database holds for the bench's conversations, against the keys acknowledged."""
    from django.db.models import Count

    from omnichannel.conversations.models import Message

    messages = Message.objects.filter(conversation_id__in=ids, idempotency_key__isnull=False)
    acked = set(keys_file.read_text().split())
    stored = Counter(messages.values_list("idempotency_key", flat=True))
    dup_sequences = messages.values("conversation_id", "sequence").annotate(n=Count("pk")).filter(n__gt=1).count()
    return {
        "stored": sum(stored.values()),
        "acked_keys": len(acked),
        "acked_not_stored": len(acked - stored.keys()),
        "stored_not_acked": len(stored.keys() - acked),
        "keys_stored_twice": sum(n > 1 for n in stored.values()) + dup_sequences,
    }


FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def summarize_profile(path: Path, seconds: float, top: int = 12) -> dict:
    """py-spy's collapsed stacks, per thread: its share of the samples, its top frames by
    own time and by time under them (leaving out the frames nearly all its samples pass through)."""
    threads: dict[str, list] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        name = re.sub(r"\(\d+\)", "", frames[0]).replace("thread ", "").strip(" :")
        name = re.sub(r"_\d+$", "", name)
        own, under, samples = threads.setdefault(name, [Counter(), Counter(), 0])
        threads[name][2] += n
        names = []
        for frame in frames[1:]:
            match = FRAME.match(frame)
            if match:
                file = match["file"].split("site-packages/")[-1].split("/work/main/")[-1]
                names.append(f"{match['func']} ({file})")
            else:
                names.append(frame)
        if names:
            own[names[-1]] += n
        for frame in set(names):
            under[frame] += n
    summary = {"samples": total, "gil_held": f"{100 * total / (PROFILE_RATE * seconds):.0f}%", "threads": {}}
    for name, (own, under, samples) in sorted(threads.items(), key=lambda item: -item[1][2]):
        if samples < total / 50:
            continue
        summary["threads"][name] = {
            "share": f"{100 * samples / total:.1f}%",
            "self": [f"{100 * n / samples:5.1f}% {f}" for f, n in own.most_common(top)],
            "inclusive": [
                f"{100 * n / samples:5.1f}% {f}"
                for f, n in [item for item in under.most_common() if item[1] < 0.9 * samples][: top * 2]
            ],
        }
    return summary


def run_backend(args) -> dict:
    pg = args.backend == "pg"
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-chat-{args.backend}-"))
    if pg:
        subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)
    # SQLite in the run's own folder: another developer's bench may be running beside this one.
    configure(PG_URL if pg else f"sqlite:///{workdir}/bench.sqlite3", REDIS_URL if pg else "")
    from django.db import connections

    started = time.perf_counter()
    data = seed(conversations=args.conversations, idle=0 if pg else args.idle + IDLE_WARM)
    seed_s = time.perf_counter() - started
    connections.close_all()
    ids = [p["conversation"] for p in data["pairs"]]
    result: dict = {"backend": args.backend, "seed_s": round(seed_s, 1)}
    keys_file = workdir / "keys.txt"
    log = workdir / "servers.log"
    # Scale-out as deployed: persistent connections (otherwise each socket's database call opens one).
    commands = [serve_command(env={"CONN_MAX_AGE": "60"})] * 2 if pg else [serve_command()]
    profile_dir = Path(args.profile) / args.backend if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    with processes(commands, log) as servers:
        (customer_port, _), (agent_port, _) = servers[0], servers[-1]
        if pg:
            phases = [
                {"name": "max", "conversations": args.conversations, "warm": 3, "duration": args.duration},
                {"name": "half", "conversations": args.conversations, "half_of": "max", "warm": 1, "duration": 6},
            ]
        else:
            phases = [
                {"name": "max", "conversations": args.conversations, "warm": 3, "duration": args.duration},
                {"name": "light", "conversations": 2, "interval": 0.2, "warm": 1, "duration": 5},
                {"name": "half", "conversations": args.conversations, "half_of": "max", "warm": 2, "duration": 8},
            ]
        # Scale-out has no light phase: it is profiled at max then.
        profiled = next((p for p in phases if p["name"] == args.profile_phase), phases[0])
        profiled["profile"] = bool(profile_dir)
        spec = {
            "mode": "product",
            "pairs": data["pairs"],
            "urls": {
                "customer": f"ws://127.0.0.1:{customer_port}/ws/chat/customer/",
                "agent": f"ws://127.0.0.1:{agent_port}/ws/agent/chat/",
            },
            "origins": {"customer": f"http://127.0.0.1:{customer_port}", "agent": f"http://127.0.0.1:{agent_port}"},
            "server_pids": [pid for _, pid in servers],
            "phases": phases,
            "keys_file": str(keys_file),
            "profile_dir": str(profile_dir or ""),
        }
        result |= run_client(spec, workdir)
    result["db"] = verify(ids, keys_file)
    if profile_dir:
        result["profile"] = {
            f"server{i}": summarize_profile(profile_dir / f"server{i}.txt", max(1, int(profiled["duration"])))
            for i in range(len(commands))
        }
    if not pg and args.idle:
        with processes([serve_command()], log) as [(port, pid)]:
            idle = {
                "mode": "idle",
                "idle_tokens": data["idle_tokens"],
                "urls": {"customer": f"ws://127.0.0.1:{port}/ws/chat/customer/"},
                "origins": {"customer": f"http://127.0.0.1:{port}"},
                "server_pids": [pid],
            }
            result["idle"] = run_client(idle, workdir)
    for database in workdir.glob("bench.sqlite3*"):
        database.unlink()
    return result


def run_raw(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-raw-"))
    relay = ([sys.executable, "-m", "bench", "chat", "--relay"], {})
    pairs = [{"conversation": i, "token": "", "session": ""} for i in range(args.conversations)]
    with processes([relay], workdir / "relay.log") as [(port, pid)]:
        url = f"ws://127.0.0.1:{port}/"
        spec = {
            "mode": "raw",
            "pairs": pairs,
            "urls": {"customer": url, "agent": url},
            "origins": {"customer": f"http://127.0.0.1:{port}", "agent": f"http://127.0.0.1:{port}"},
            "server_pids": [pid],
            "phases": [
                {"name": "max", "conversations": args.conversations, "warm": 2, "duration": args.duration},
                {"name": "light", "conversations": 2, "interval": 0.2, "warm": 1, "duration": 3},
            ],
        }
        return {"backend": "raw", **run_client(spec, workdir, clients=args.raw_clients)}


def _sub(args, backend: str) -> dict:
    command = [sys.executable, "-m", "bench", "chat", "--backend", backend]
    command += ["--conversations", str(args.conversations), "--duration", str(args.duration), "--idle", str(args.idle)]
    command += ["--raw-clients", str(args.raw_clients)]
    if args.profile:
        command += ["--profile", args.profile, "--profile-phase", args.profile_phase]
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ}, cwd=ROOT)
    if out.returncode:
        sys.exit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_profile(name: str, profile: dict) -> None:
    for server, summary in profile.items():
        print(
            f"{name} {server}: GIL held {summary['gil_held']} of the time; {summary['samples']} samples"
            " (percentages below: of each thread's samples)",
            flush=True,
        )
        for thread, data in summary["threads"].items():
            print(f"  {thread}: {data['share']} of samples", flush=True)
            for kind in ("self", "inclusive"):
                print(f"    {kind}:", flush=True)
                for line in data[kind]:
                    print(f"      {line}", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench chat")
    parser.add_argument("--backend", choices=["raw", "sqlite", "pg"], help="run one phase, print its JSON")
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured at max load")
    parser.add_argument("--idle", type=int, default=2000, help="idle customer sockets for kb_per_idle_socket")
    parser.add_argument("--raw-clients", type=int, default=2, help="load processes for the bare relay")
    parser.add_argument("--profile", default="", help="directory: py-spy the servers during one phase")
    parser.add_argument("--profile-phase", default="max", choices=["max", "light", "half"])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--relay", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        return client_main(args.client)
    if args.relay:
        return relay_main(args.relay)
    if args.backend:
        result = run_raw(args) if args.backend == "raw" else run_backend(args)
        if "profile" in result:
            _print_profile(args.backend, result["profile"])
        print(json.dumps(result), flush=True)
        return
    started = time.perf_counter()
    results = {}
    for backend in ("raw", "sqlite", "pg"):
        results[backend] = _sub(args, backend)
        shown = {k: v for k, v in results[backend].items() if k != "profile"}
        print(f"{backend}: {json.dumps(shown)}", flush=True)
        if "profile" in results[backend]:
            _print_profile(backend, results[backend]["profile"])
    raw, lite, pg = results["raw"], results["sqlite"], results["pg"]
    raw_rate = raw["phases"]["max"]["msgs_per_s"]

    def faults(result: dict, key: str) -> int:
        db = result.get("db", {})
        if key == "lost":
            return result["lost"] + db.get("acked_not_stored", 0)
        return result["duplicated"] + db.get("keys_stored_twice", 0)

    print(
        json.dumps(
            {
                "raw_msgs_per_s": raw_rate,
                "msgs_per_s": lite["phases"]["max"]["msgs_per_s"],
                "ratio_to_raw": round(lite["phases"]["max"]["msgs_per_s"] / raw_rate, 4),
                "scaleout_msgs_per_s": pg["phases"]["max"]["msgs_per_s"],
                "scaleout_ratio_to_raw": round(pg["phases"]["max"]["msgs_per_s"] / raw_rate, 4),
                "p50_ms_light": lite["phases"]["light"]["p50_ms"],
                "p50_ms_half_load": lite["phases"]["half"]["p50_ms"],
                "p99_ms_half_load": lite["phases"]["half"]["p99_ms"],
                # The tail against this run's own light-load latency: what a machine's speed and
                # noise do to both cancels out, where an absolute p99 only says which machine ran it.
                "tail_ratio": round(lite["phases"]["half"]["p99_ms"] / max(lite["phases"]["light"]["p50_ms"], 0.01), 1),
                "lost": sum(faults(r, "lost") for r in results.values()),
                "duplicated": sum(faults(r, "duplicated") for r in results.values()),
                "kb_per_idle_socket": lite.get("idle", {}).get("kb_per_idle_socket"),
                "conversations": args.conversations,
                "seconds": round(time.perf_counter() - started),
            }
        )
    )
