"""The worker loop wakes when work arrives instead of waiting for its next poll (RT-2)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import override_settings

from omnichannel.conversations.models import Conversation
from omnichannel.conversations.states import State
from omnichannel.conversations.worker import run_forever

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(
    OMNICHANNEL={
        "WORKER_INTERVAL_SECONDS": 60,
        "CONNECTION_STALE_SECONDS": 45,
        "OFFLINE_AFTER_SECONDS": 120,
        "HEARTBEAT_SECONDS": 15,
    }
)
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
        return state

    assert async_to_sync(scenario)() == State.ACTIVE
