"""The worker loop wakes when work arrives instead of waiting for its next poll (RT-2)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import override_settings

from omnichannel.conversations.models import Conversation
from omnichannel.conversations.states import State
from omnichannel.conversations.worker import run_forever

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(OMNICHANNEL={**settings.OMNICHANNEL, "WORKER_INTERVAL_SECONDS": 60})
def test_new_work_is_offered_long_before_the_next_poll(agent, connect, chat_workstream, make_conversation):
    """RT-2: a conversation becoming Open wakes a worker, which offers it at once (not in 60 s)."""
    connect(agent)

    async def scenario():
        worker = asyncio.create_task(run_forever())
        await asyncio.sleep(0.3)  # its first pass has run; it now sleeps for up to 60 s
        conversation = await database_sync_to_async(make_conversation)(chat_workstream)
        for _ in range(50):
            await asyncio.sleep(0.1)
            state = await database_sync_to_async(lambda: Conversation.objects.get(pk=conversation.pk).state)()
            if state == State.ACTIVE:
                break
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await asyncio.sleep(0.3)  # a pass already in its thread finishes before the database is flushed
        return state

    assert async_to_sync(scenario)() == State.ACTIVE


@override_settings(OMNICHANNEL={**settings.OMNICHANNEL, "WORKER_INTERVAL_SECONDS": 0.05})
def test_the_loop_survives_a_failing_pass(monkeypatch):
    """REL-1: a failing pass (database away) or wait (channel layer away) is logged and the loop goes on."""
    calls = []

    def flaky_tick(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return {}

    monkeypatch.setattr("omnichannel.conversations.worker.tick", flaky_tick)
    layer = get_channel_layer()
    receive = layer.receive
    failures = []

    async def flaky_receive(channel):
        if not failures:
            failures.append(channel)
            raise ConnectionError("channel layer went away")
        return await receive(channel)

    monkeypatch.setattr(layer, "receive", flaky_receive)

    async def scenario():
        loop = asyncio.create_task(run_forever())
        await asyncio.sleep(0.5)
        alive = not loop.done()
        loop.cancel()
        return alive

    assert async_to_sync(scenario)()
    assert len(calls) >= 3 and failures


@override_settings(OMNICHANNEL={**settings.OMNICHANNEL, "WORKER_INTERVAL_SECONDS": 0.05})
def test_the_loop_keeps_polling_while_a_wake_up_receive_hangs(monkeypatch):
    """RT-2, REL-1: a channel-layer receive that never returns, not even when cancelled (as
    channels-redis's did when a timeout cancelled it mid-read), must not stop the passes."""
    calls = []
    monkeypatch.setattr("omnichannel.conversations.worker.tick", lambda **kwargs: calls.append(kwargs) or {})
    layer = get_channel_layer()

    async def stuck_receive(channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)  # ignores the first cancellation

    monkeypatch.setattr(layer, "receive", stuck_receive)

    async def scenario():
        loop = asyncio.create_task(run_forever())
        await asyncio.sleep(0.5)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    async_to_sync(scenario)()
    assert len(calls) >= 5
