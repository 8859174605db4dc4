"""The embedded default's channel layer keeps the library layer's meaning (OPS-1)."""

import asyncio
import os
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from django.utils.module_loading import import_string

from omnichannel.channel_layers import EmbeddedChannelLayer
from omnichannel.settings import redis_channel_layer
from omnichannel.widget.tests.test_scale_out import REDIS_URL, redis_reachable


def test_group_send_reaches_every_member_once_in_order():
    """OPS-1: a push to a group reaches each member's channel once, in order."""
    layer = EmbeddedChannelLayer()

    async def scenario():
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("conversation-1", a)
        await layer.group_add("conversation-1", b)
        for n in range(3):
            await layer.group_send("conversation-1", {"type": "message.posted", "sequence": n})
        received = {}
        for channel in (a, b):
            received[channel] = [(await layer.receive(channel))["sequence"] for _ in range(3)]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(layer.receive(channel), 0.05)
        return list(received.values())

    assert async_to_sync(scenario)() == [[0, 1, 2], [0, 1, 2]]


def test_the_sweep_runs_once_a_second_and_still_drops_expired_messages(monkeypatch):
    """OPS-1: the expiry sweep runs at most once a second, and still drops expired messages
    and the channels that held them from their groups."""
    layer = EmbeddedChannelLayer(expiry=60)

    async def scenario():
        stale = await layer.new_channel()
        await layer.group_add("conversation-1", stale)
        await layer.group_send("conversation-1", {"type": "message.posted"})
        return stale

    stale = async_to_sync(scenario)()
    wall, monotonic = time.time(), time.monotonic()
    monkeypatch.setattr("channels.layers.time.time", lambda: wall + 61)
    monkeypatch.setattr("omnichannel.channel_layers.time.monotonic", lambda: monotonic)
    layer._swept_at = monotonic - 0.5  # swept half a second ago: not yet again
    layer._clean_expired()
    assert stale in layer.groups["conversation-1"]
    layer._swept_at = monotonic - 1
    layer._clean_expired()
    assert stale not in layer.groups.get("conversation-1", {})
    assert stale not in layer.channels


def test_a_channel_keeps_its_messages_for_a_receiver_cancelled_while_waiting():
    """OPS-1: a receive cancelled while it waits (a socket closing) takes nothing with it: the
    next receive on the channel gets the next message; a full channel refuses more."""
    layer = EmbeddedChannelLayer(capacity=2)

    async def scenario():
        channel = await layer.new_channel()
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await layer.send(channel, {"type": "message.posted", "sequence": 1})
        await layer.send(channel, {"type": "message.posted", "sequence": 2})
        with pytest.raises(ChannelFull):
            await layer.send(channel, {"type": "message.posted", "sequence": 3})
        first, second = await layer.receive(channel), await layer.receive(channel)
        later = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        await layer.send(channel, {"type": "message.posted", "sequence": 4})
        return [first["sequence"], second["sequence"], (await asyncio.wait_for(later, 1))["sequence"]]

    assert async_to_sync(scenario)() == [1, 2, 4]


@pytest.mark.skipif(not redis_reachable() and not os.environ.get("CI"), reason="needs Redis (CI always has it)")
def test_a_busy_process_loses_no_push_on_redis():
    """REL-1, OPS-1: on scale-out, a burst of pushes to many sockets of one process, far above
    what the list-based layer held by default (100), arrives whole and in order."""
    config = redis_channel_layer(REDIS_URL)
    layer = import_string(config["BACKEND"])(**config["CONFIG"])
    run = uuid.uuid4().hex

    async def scenario():
        channels = [await layer.new_channel() for _ in range(600)]
        for n, channel in enumerate(channels):
            await layer.group_add(f"burst-{run}-{n}", channel)
        for n in range(len(channels)):
            await layer.group_send(f"burst-{run}-{n}", {"type": "message.posted", "sequence": n})
        received = [(await asyncio.wait_for(layer.receive(channel), 10))["sequence"] for channel in channels]
        for n, channel in enumerate(channels):
            await layer.group_discard(f"burst-{run}-{n}", channel)
        return received

    assert async_to_sync(scenario)() == list(range(600))
