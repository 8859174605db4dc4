"""The connection tracker (actions/connections.py), one for agents' and customers' sockets
(PR-2, ST-2, ST-7, ST-21): the owner is connected while one socket is fresh, and records when
its last one went."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions import live_chat, presence
from omnichannel.conversations.models import AgentProfile, Conversation

PAST = timedelta(hours=1)


@pytest.fixture(params=["agent", "customer"])
def owner(request, agent, active_chat):
    """The tracker, an owner's id, and how to read when its last socket went."""
    if request.param == "agent":
        return presence.CONNECTIONS, agent.pk, lambda: AgentProfile.objects.get(user=agent).disconnected_at
    return (
        live_chat.CONNECTIONS,
        active_chat.pk,
        lambda: Conversation.objects.get(pk=active_chat.pk).customer_disconnected_at,
    )


def test_the_last_socket_closing_starts_the_clock(owner):
    """PR-2, ST-21: one of two sockets closing leaves the owner connected; the last one records when."""
    tracker, owner_id, gone_since = owner
    tracker.connect(owner_id=owner_id, channel_name="tab-1")
    tracker.connect(owner_id=owner_id, channel_name="tab-2")
    tracker.disconnect(channel_name="tab-1")
    assert gone_since() is None
    at = timezone.now() - timedelta(seconds=5)
    tracker.disconnect(channel_name="tab-2", at=at)
    assert gone_since() == at
    tracker.connect(owner_id=owner_id, channel_name="tab-3")
    assert gone_since() is None


def test_a_socket_that_heartbeats_after_being_listed_stale_is_kept(owner):
    """PR-2: the sweep re-checks staleness when it drops a socket."""
    tracker, owner_id, gone_since = owner
    tracker.connect(owner_id=owner_id, channel_name="tab")
    long_ago = timezone.now() - PAST
    tracker.disconnect(channel_name="tab", at=long_ago, stale_before=long_ago)
    assert tracker.connections.objects.filter(channel_name="tab").exists()
    assert gone_since() is None


def test_the_sweep_counts_silent_sockets_as_closed_when_last_heard(owner):
    """PR-2, ST-21: a process that died stops heartbeating; its sockets count as closed when last
    heard, and a heartbeat after that connects the owner again."""
    tracker, owner_id, gone_since = owner
    tracker.connect(owner_id=owner_id, channel_name="dead")
    heard = timezone.now() - PAST
    tracker.connections.objects.update(last_seen=heard)
    assert tracker.sweep(timezone.now()) == 1
    assert gone_since() == heard
    assert tracker.heartbeat(owner_id=owner_id, channel_name="dead") is False
    assert gone_since() is None
    assert tracker.heartbeat(owner_id=owner_id, channel_name="dead") is True
