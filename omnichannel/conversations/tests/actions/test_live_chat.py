"""A live-chat customer who leaves (closes the tab, loses the network for good): the worker
applies the spec's move once the reconnect timeout has passed (ST-2, ST-7, ST-21)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations import worker
from omnichannel.conversations.actions.assignment import conversation_offer
from omnichannel.conversations.actions.live_chat import CONNECTIONS, customer_chat_start, customer_connect
from omnichannel.conversations.models import Conversation, CustomerConnection, Notice

pytestmark = pytest.mark.django_db


def leave(conversation, seconds_ago: float) -> None:
    customer_connect(conversation_id=conversation.pk, channel_name="c-1")
    CONNECTIONS.disconnect(channel_name="c-1", at=timezone.now() - timedelta(seconds=seconds_ago))


def test_customer_gone_past_the_timeout_moves_an_active_chat_to_wrap_up(active_chat):
    """ST-21: Active → Wrap-up when the customer's browser stays gone; the agent sees a notice."""
    leave(active_chat, seconds_ago=active_chat.workstream.customer_reconnect_timeout_seconds + 1)
    assert worker.apply_customer_departures(timezone.now()) == 1
    active_chat.refresh_from_db()
    assert active_chat.state == "wrap_up"
    assert active_chat.events.last().action == "customer_disconnect"
    assert active_chat.messages.last().notice == Notice.CUSTOMER_LEFT


def test_a_reload_within_the_timeout_is_not_a_departure(active_chat):
    """CH-5, ST-21: a customer who comes back within the timeout keeps the chat."""
    leave(active_chat, seconds_ago=5)
    assert worker.apply_customer_departures(timezone.now()) == 0
    leave(active_chat, seconds_ago=3600)
    customer_connect(conversation_id=active_chat.pk, channel_name="c-2")
    assert worker.apply_customer_departures(timezone.now()) == 0
    active_chat.refresh_from_db()
    assert active_chat.state == "active" and active_chat.customer_disconnected_at is None


def test_customer_gone_before_assignment_abandons_the_chat(open_chat):
    """ST-2: Open → Closed when the customer leaves before any agent has it."""
    leave(open_chat, seconds_ago=3600)
    worker.apply_customer_departures(timezone.now())
    open_chat.refresh_from_db()
    assert open_chat.state == "closed"


def test_customer_gone_before_the_offer_was_accepted_closes_it(open_chat, agent, connect):
    """ST-7: Active (offered, not accepted) → Closed when the customer leaves."""
    connect(agent)
    conversation_offer(conversation=open_chat, agent=agent)
    leave(open_chat, seconds_ago=3600)
    worker.apply_customer_departures(timezone.now())
    open_chat.refresh_from_db()
    assert open_chat.state == "closed" and open_chat.capacity_units == 0


def test_chat_whose_browser_never_connected_is_abandoned(chat_workstream):
    """ST-2: a chat started from the widget whose socket never opens is abandoned after the timeout."""
    conversation = customer_chat_start(workstream=chat_workstream, answers={})
    started = Conversation.objects.get(pk=conversation.pk).customer_disconnected_at
    assert started is not None
    Conversation.objects.filter(pk=conversation.pk).update(customer_disconnected_at=started - timedelta(hours=1))
    worker.apply_customer_departures(timezone.now())
    conversation.refresh_from_db()
    assert conversation.state == "closed"


def test_sockets_of_a_dead_process_count_as_closed_when_last_heard(active_chat):
    """REL-1: a server process killed without closing its sockets leaves stale rows; the
    worker drops them and the departure clock starts when they were last heard."""
    customer_connect(conversation_id=active_chat.pk, channel_name="dead-process-socket")
    heard = timezone.now() - timedelta(minutes=10)
    CustomerConnection.objects.update(last_seen=heard)
    assert worker.drop_stale_customer_connections(timezone.now()) == 1
    active_chat.refresh_from_db()
    assert active_chat.customer_disconnected_at == heard
    worker.apply_customer_departures(timezone.now())
    assert Conversation.objects.get(pk=active_chat.pk).state == "wrap_up"
