"""The background worker's deadlines (RT-3, ST-4, ST-9, ST-20, ST-24, PR-2), applied once."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations import worker
from omnichannel.conversations.actions.assignment import conversation_offer, conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.presence import agent_connect, agent_disconnect, agent_heartbeat
from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.models import AgentConnection, AgentProfile, Conversation, PresenceBase
from omnichannel.conversations.states import Channel, State

PAST = timedelta(days=1)


def test_expired_offer_returns_and_goes_to_the_next_agent(make_workstream, make_conversation, make_agent, connect):
    """RT-3: an offer nobody accepts times out and is offered to the next eligible agent."""
    first, second = make_agent(capacity=40), make_agent(capacity=30)
    connect(first, second)
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT))
    worker.tick()
    conversation.refresh_from_db()
    assert conversation.primary_agent == first
    Conversation.objects.filter(pk=conversation.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    done = worker.tick()
    assert done["expire_offers"] == 1 and done["distribute"] == 1
    conversation.refresh_from_db()
    assert conversation.primary_agent == second
    assert [e.action for e in conversation.events.all()] == ["create", "offer", "offer_timeout", "offer"]


def test_waiting_past_its_timeout_is_closed_once(active_sms, agent):
    """ST-9: the worker closes Waiting conversations past their inactivity timeout, exactly once."""
    conversation_close_session(conversation=active_sms, agent=agent)
    Conversation.objects.filter(pk=active_sms.pk).update(waiting_until=timezone.now() - timedelta(seconds=1))
    assert worker.close_inactive_waiting(timezone.now()) == 1
    assert worker.close_inactive_waiting(timezone.now()) == 0
    active_sms.refresh_from_db()
    assert active_sms.state == State.CLOSED
    assert active_sms.events.filter(action="inactivity_timeout").count() == 1


def test_persistent_chat_expires_after_its_period(make_workstream, make_conversation, agent):
    """ST-24: a persistent chat stays Waiting for its period, then closes."""
    chat = make_conversation(make_workstream(Channel.LIVE_CHAT, persistent_chat=True, persistent_chat_days=28))
    conversation_pick(conversation=chat, agent=agent)
    conversation_close_session(conversation=chat, agent=agent)
    chat.refresh_from_db()
    assert chat.waiting_until - chat.state_changed_at == timedelta(days=28)
    assert worker.close_inactive_waiting(timezone.now() + timedelta(days=27)) == 0
    Conversation.objects.filter(pk=chat.pk).update(waiting_until=timezone.now() - timedelta(seconds=1))
    assert worker.close_inactive_waiting(timezone.now()) == 1


def test_timed_wrap_up_block_is_released_and_recorded(make_workstream, make_conversation, agent):
    """ST-20: after the N-minute wrap-up block the capacity frees; the timeline says so."""
    conversation = make_conversation(
        make_workstream(Channel.SMS, wrap_up_block=WrapUpBlock.MINUTES, wrap_up_block_minutes=5)
    )
    conversation_pick(conversation=conversation, agent=agent)
    conversation_end(conversation=conversation, agent=agent)
    assert worker.release_wrap_up_blocks(timezone.now()) == 0
    Conversation.objects.filter(pk=conversation.pk).update(capacity_release_at=timezone.now() - timedelta(seconds=1))
    assert worker.release_wrap_up_blocks(timezone.now()) == 1
    conversation.refresh_from_db()
    assert (conversation.state, conversation.capacity_units) == (State.WRAP_UP, 0)
    assert conversation.events.last().action == "wrap_up_block_expired"


def test_presence_comes_back_when_a_wrap_up_block_runs_out(make_workstream, make_conversation, make_agent):
    """PR-2, ST-20: an agent made Busy by a full capacity is Available again when the block ends."""
    agent = make_agent(capacity=10)
    conversation = make_conversation(
        make_workstream(Channel.SMS, wrap_up_block=WrapUpBlock.MINUTES, wrap_up_block_minutes=5)
    )
    conversation_pick(conversation=conversation, agent=agent)
    conversation_end(conversation=conversation, agent=agent)
    assert AgentProfile.objects.get(user=agent).presence.base == PresenceBase.BUSY
    Conversation.objects.filter(pk=conversation.pk).update(capacity_release_at=timezone.now() - timedelta(seconds=1))
    worker.release_wrap_up_blocks(timezone.now())
    assert AgentProfile.objects.get(user=agent).presence.base == PresenceBase.AVAILABLE


def test_disconnected_agent_loses_active_work_after_the_reconnect_timeout(active_chat, agent):
    """ST-4: the agent's last tab closed and they did not come back in time: Open, routed again."""
    agent_connect(agent=agent, channel_name="tab-1")
    agent_connect(agent=agent, channel_name="tab-2")
    agent_disconnect(channel_name="tab-1")
    assert AgentProfile.objects.get(user=agent).disconnected_at is None  # another tab is still open
    agent_disconnect(channel_name="tab-2")
    assert worker.return_work_of_disconnected_agents(timezone.now()) == 0  # within the timeout
    AgentProfile.objects.filter(user=agent).update(disconnected_at=timezone.now() - PAST)
    assert worker.return_work_of_disconnected_agents(timezone.now()) == 1
    active_chat.refresh_from_db()
    assert (active_chat.state, active_chat.primary_agent) == (State.OPEN, None)


def test_reconnecting_in_time_keeps_the_work(active_chat, agent):
    """ST-4: an agent who reloads the page (reconnects) keeps their conversations."""
    agent_connect(agent=agent, channel_name="tab-1")
    agent_disconnect(channel_name="tab-1")
    assert AgentProfile.objects.get(user=agent).disconnected_at is not None
    agent_connect(agent=agent, channel_name="tab-1b")
    assert AgentProfile.objects.get(user=agent).disconnected_at is None
    assert worker.return_work_of_disconnected_agents(timezone.now() + PAST) == 0


def test_a_heartbeat_after_being_counted_gone_reconnects(agent):
    """PR-2: a slow socket a worker dropped as stale is connected again by its next heartbeat."""
    agent_connect(agent=agent, channel_name="slow-tab")
    AgentConnection.objects.update(last_seen=timezone.now() - PAST)
    worker.drop_stale_connections(timezone.now())
    assert AgentProfile.objects.get(user=agent).disconnected_at is not None
    agent_heartbeat(agent=agent, channel_name="slow-tab")
    assert AgentConnection.objects.filter(agent=agent).count() == 1
    assert AgentProfile.objects.get(user=agent).disconnected_at is None


def test_sockets_of_a_dead_process_go_stale_and_count_as_disconnected(agent):
    """PR-2: a process killed without closing its sockets stops heartbeating; its connections
    are dropped, and the agent goes Offline after the timeout."""
    agent_connect(agent=agent, channel_name="dead-process-tab")
    AgentConnection.objects.update(last_seen=timezone.now() - PAST)
    assert worker.drop_stale_connections(timezone.now()) == 1
    profile = AgentProfile.objects.get(user=agent)
    assert profile.disconnected_at is not None
    assert worker.set_gone_agents_offline(timezone.now()) == 1
    profile.refresh_from_db()
    assert profile.presence.base == PresenceBase.OFFLINE
    assert profile.user.presence_changes.first().reason == "disconnected"


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_apply_one_deadline_twice(make_workstream, make_conversation, make_agent):
    """RT-6: two workers racing over the same expired offers apply each exactly once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    agent = make_agent(capacity=200)
    workstream = make_workstream(Channel.LIVE_CHAT)
    conversations = [make_conversation(workstream) for _ in range(10)]
    for conversation in conversations:
        conversation_offer(conversation=conversation, agent=agent)
    Conversation.objects.update(offer_expires_at=timezone.now() - timedelta(seconds=1))

    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            return worker.expire_offers(timezone.now())
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        applied = sum(pool.map(lambda _: run(), range(2)))
    assert applied == 10
    for conversation in conversations:
        assert conversation.events.filter(action="offer_timeout").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_replaced_without_losing_a_deadline(chat_workstream, make_conversation, agent, connect):
    """A running worker dies (SIGKILL) with a deadline coming due; another worker process
    started later applies it, because deadlines live in the database, not in a process."""
    import signal
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    from omnichannel.testing.servers import database_url

    offered = make_conversation(chat_workstream)
    conversation_offer(conversation=offered, agent=agent)
    connect(agent)
    evidence = make_conversation(chat_workstream)  # the doomed worker's first pass offers it
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "WORKER_INTERVAL_SECONDS": "3600"}
    doomed = subprocess.Popen([sys.executable, "manage.py", "run_worker"], cwd=settings.BASE_DIR, env=env)
    deadline = time.monotonic() + 30
    while Conversation.objects.get(pk=evidence.pk).state != State.ACTIVE:
        assert time.monotonic() < deadline, "the worker never ran"
        time.sleep(0.1)
    Conversation.objects.filter(pk=offered.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    assert doomed.poll() is None  # alive, sleeping until its next pass an hour from now
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert not offered.events.filter(action="offer_timeout").exists()
    subprocess.run(
        [sys.executable, "manage.py", "run_worker", "--once"], cwd=settings.BASE_DIR, env=env, check=True, timeout=60
    )
    assert offered.events.filter(action="offer_timeout").count() == 1
