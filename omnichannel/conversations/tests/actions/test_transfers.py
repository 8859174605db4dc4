"""Voice transfers (ST-22)."""

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_customer_end, conversation_end
from omnichannel.conversations.actions.transfers import (
    conversation_transfer_to_agent,
    conversation_transfer_to_external,
    conversation_transfer_to_queue,
)
from omnichannel.conversations.errors import InvalidInput
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, IllegalTransition, State


@pytest.fixture
def call(make_workstream, make_conversation, agent):
    conversation = make_conversation(make_workstream(Channel.VOICE, capacity_units=30))
    conversation_pick(conversation=conversation, agent=agent)
    return conversation


def used(user):
    return capacity_in_use(agent_id=user.pk, now=timezone.now())


def test_transfer_to_external_number_keeps_it_active_and_frees_the_agent(call, agent):
    """ST-22: the external party becomes primary; the agent's capacity is released at once."""
    assert used(agent) == 30
    conversation_transfer_to_external(conversation=call, number="+45 70 12 34 56", actor=agent)
    call.refresh_from_db()
    assert (call.state, call.primary_agent, call.external_party) == (State.ACTIVE, None, "+45 70 12 34 56")
    assert used(agent) == 0


def test_transfer_to_external_refuses_a_non_number(call, agent):
    """ST-22: bad input gets a clear error and changes nothing."""
    with pytest.raises(InvalidInput, match="not a phone number"):
        conversation_transfer_to_external(conversation=call, number="call me", actor=agent)
    call.refresh_from_db()
    assert call.primary_agent == agent


def test_transfer_to_another_agent_moves_capacity_at_once(call, agent, other_agent):
    """ST-22: Active with the new primary; the first agent's capacity is released at once."""
    conversation_transfer_to_agent(conversation=call, to_agent=other_agent, actor=agent)
    call.refresh_from_db()
    assert (call.state, call.primary_agent) == (State.ACTIVE, other_agent)
    assert (used(agent), used(other_agent)) == (0, 30)


def test_transfer_to_another_queue_opens_it(call, agent, other_queue):
    """ST-22: to another queue the call is Open while it waits there."""
    conversation_transfer_to_queue(conversation=call, queue=other_queue, actor=agent)
    call.refresh_from_db()
    assert (call.state, call.queue, used(agent)) == (State.OPEN, other_queue, 0)


def test_call_with_an_external_party_closes_when_it_ends(call, agent):
    """ST-22: no agent holds the call any more, so when it ends it is Closed, not left in Wrap-up."""
    conversation_transfer_to_external(conversation=call, number="+4570123456", actor=agent)
    with pytest.raises(IllegalTransition, match="An external party holds the call"):
        conversation_end(conversation=call, agent=agent)
    conversation_customer_end(conversation=call)
    call.refresh_from_db()
    assert call.state == State.CLOSED
