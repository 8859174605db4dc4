"""Ending a conversation: by the agent, by the customer, by the network (ST-2, ST-3, ST-7, ST-8, ST-21)."""

from omnichannel.conversations.actions.assignment import conversation_offer
from omnichannel.conversations.actions.ending import (
    conversation_close_session,
    conversation_customer_disconnect,
    conversation_customer_end,
    conversation_end,
)
from omnichannel.conversations.states import State


def test_customer_ends_before_assignment_closes_it(open_chat):
    """ST-2: the customer ends the chat while it is still Open: abandoned, Closed."""
    conversation_customer_end(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED


def test_customer_disconnects_before_assignment_closes_it(open_chat):
    """ST-2: the customer disconnects while Open: Closed."""
    conversation_customer_disconnect(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED


def test_agent_end_moves_active_to_wrap_up(active_chat, agent):
    """ST-3: the agent selects End: Wrap-up."""
    conversation_end(conversation=active_chat, agent=agent)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP
    assert active_chat.primary_agent == agent


def test_customer_end_moves_active_to_wrap_up(active_chat):
    """ST-3: the customer selects End in the widget: Wrap-up."""
    conversation_customer_end(conversation=active_chat)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP


def test_customer_disconnect_moves_live_chat_to_wrap_up(active_chat):
    """ST-21 (ST-3): a live chat whose customer disconnects moves from Active to Wrap-up automatically."""
    conversation_customer_disconnect(conversation=active_chat)
    active_chat.refresh_from_db()
    assert active_chat.state == State.WRAP_UP
    assert active_chat.events.last().action == "customer_disconnect"


def test_customer_leaves_before_accepting_closes_it(open_chat, agent):
    """ST-7: the customer ends or disconnects before the agent accepted the offer: Closed, capacity freed."""
    conversation_offer(conversation=open_chat, agent=agent)
    conversation_customer_disconnect(conversation=open_chat)
    open_chat.refresh_from_db()
    assert open_chat.state == State.CLOSED
    assert open_chat.capacity_units == 0


def test_wrap_up_then_close_session_closes(active_sms, agent):
    """ST-8: the agent ends, then closes the session: Closed."""
    conversation_end(conversation=active_sms, agent=agent)
    conversation_close_session(conversation=active_sms, agent=agent)
    active_sms.refresh_from_db()
    assert active_sms.state == State.CLOSED
    assert active_sms.capacity_units == 0
