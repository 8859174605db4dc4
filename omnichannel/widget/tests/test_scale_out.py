"""Scale-out delivery (CH-5, REL-1, OPS-1): the customer's socket on one daphne process, the
agent's on another, pushes through Redis; one process is killed with SIGKILL mid-stream, and
after the clients reconnect every acknowledged message exists exactly once on both sides."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from omnichannel.conversations.models import Message
from omnichannel.testing.servers import daphne_server, database_url
from omnichannel.widget.tokens import chat_token

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_reachable() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
        return True
    except OSError:
        return False


class ChatClient:
    """The browser client's contract (static/js/chat.js): keys every message, keeps it until
    acknowledged, resumes after the last contiguous sequence and resends the unacknowledged."""

    def __init__(self, name: str, subscribe: dict, headers: dict) -> None:
        self.name, self.subscribe, self.headers = name, subscribe, headers
        self.outbox: dict[str, str] = {}
        self.acked: dict[str, int] = {}
        self.received: dict[int, str] = {}
        self.duplicates = 0
        self.ws = None

    @property
    def contiguous(self) -> int:
        n = 0
        while n + 1 in self.received:
            n += 1
        return n

    async def open(self, base_url: str) -> None:
        url = base_url.replace("http", "ws", 1)
        self.ws = await connect(f"{url}{self.path}", origin=base_url, additional_headers=self.headers)
        await self.ws.send(json.dumps({**self.subscribe, "type": "subscribe", "after": self.contiguous}))
        for key, body in list(self.outbox.items()):
            await self._transmit(key, body)

    async def fill_gaps(self, expected: int) -> None:
        """A push lost with a dead process leaves a gap: ask for what follows the last contiguous message."""
        if self.contiguous < max([expected, *self.received]):
            await self.ws.send(json.dumps({**self.subscribe, "type": "subscribe", "after": self.contiguous}))

    async def post(self, key: str, body: str) -> None:
        self.outbox[key] = body
        try:
            await self._transmit(key, body)
        except ConnectionClosed:
            pass  # stays in the outbox until the next connection

    async def _transmit(self, key: str, body: str) -> None:
        await self.ws.send(json.dumps({"type": "message", "conversation": self.conversation, "key": key, "body": body}))

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    self.outbox.pop(frame["key"], None)
                    self.acked[frame["key"]] = frame["sequence"]
                elif frame["type"] == "error" and frame.get("retry"):
                    await asyncio.sleep(0.2)
                    if frame["key"] in self.outbox:
                        await self._transmit(frame["key"], self.outbox[frame["key"]])
                elif frame["type"] == "message":
                    if frame["sequence"] in self.received:
                        self.duplicates += 1  # a resume and a push both brought it; shown once
                    self.received[frame["sequence"]] = frame["html"]
        except ConnectionClosed:
            pass


@pytest.mark.skipif(not redis_reachable() and not os.environ.get("CI"), reason="needs Redis (CI always has it)")
def test_killing_a_server_mid_chat_loses_and_doubles_nothing(active_chat, agent, client):
    """CH-5, REL-1, OPS-1: two daphne processes through Redis; SIGKILL one mid-stream."""
    client.force_login(agent)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    database = database_url(connection.settings_dict)
    env = {"REDIS_URL": REDIS_URL, "WORKER_INTERVAL_SECONDS": "0.2"}
    processes: list[subprocess.Popen] = []
    customer = ChatClient(
        "customer", {"token": chat_token(conversation_id=active_chat.pk, visitor_id=active_chat.visitor_id)}, {}
    )
    customer.path, customer.conversation = "/ws/chat/customer/", active_chat.pk
    panel = ChatClient(
        "agent", {"conversation": active_chat.pk}, {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    )
    panel.path, panel.conversation = "/ws/agent/chat/", active_chat.pk

    async def stream(first: str, second: str, restart) -> None:
        await customer.open(first)
        await panel.open(second)
        listeners = [asyncio.create_task(customer.listen()), asyncio.create_task(panel.listen())]
        for n in range(60):
            await customer.post(f"c{n}", f"customer message {n}")
            if n % 3 == 0:
                await panel.post(f"a{n}", f"agent message {n}")
            await asyncio.sleep(0.02)
            if n == 25:
                processes[0].send_signal(signal.SIGKILL)  # the customer's server, mid-stream
                processes[0].wait()
                await listeners[0]
                replacement = await asyncio.to_thread(restart)
                await customer.open(replacement)
                listeners[0] = asyncio.create_task(customer.listen())
        for attempt in range(200):
            stored = max([*customer.acked.values(), *panel.acked.values()])
            if not customer.outbox and not panel.outbox and min(customer.contiguous, panel.contiguous) >= stored:
                break
            if attempt % 10 == 9:  # as the browser client does after a second with a gap
                for side in (customer, panel):
                    await side.fill_gaps(stored)
            await asyncio.sleep(0.1)
        for side in (customer, panel):
            await side.ws.close()
        await asyncio.gather(*listeners)

    with ExitStack() as servers:
        first = servers.enter_context(daphne_server(database=database, env=env, started=processes.append))
        second = servers.enter_context(daphne_server(database=database, env=env, started=processes.append))
        asyncio.run(stream(first, second, lambda: servers.enter_context(daphne_server(database=database, env=env))))

    stored = list(
        Message.objects.filter(conversation=active_chat).order_by("sequence").values_list("sequence", "idempotency_key")
    )
    keys = [key for _, key in stored if key]
    assert len(keys) == len(set(keys)) == 80  # every message stored, none twice
    assert set(customer.acked) | set(panel.acked) == set(keys)  # every one acknowledged
    sequences = [sequence for sequence, _ in stored]
    assert sequences == list(range(1, len(sequences) + 1))
    for side in (customer, panel):
        assert sorted(side.received) == sequences  # each side has each message, once
