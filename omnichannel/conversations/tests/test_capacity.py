"""Capacity arithmetic as plain values (ST-20)."""

from datetime import UTC, datetime, timedelta

import pytest

from omnichannel.conversations.capacity import NO_HOLD, Hold, WrapUpBlock, capacity_hold, fits, units_over
from omnichannel.conversations.states import State

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def hold(state, block=WrapUpBlock.ALWAYS, minutes=None, has_agent=True):
    return capacity_hold(
        state=state, has_agent=has_agent, units=10, wrap_up_block=block, wrap_up_block_minutes=minutes, now=NOW
    )


@pytest.mark.parametrize("state", [State.OPEN, State.WAITING, State.CLOSED])
def test_only_active_and_wrap_up_hold_capacity(state):
    """ST-20: Open, Waiting and Closed consume nothing; Active consumes the workstream's units."""
    assert hold(state) == NO_HOLD
    assert hold(State.ACTIVE) == Hold(10)


def test_wrap_up_follows_the_block_setting():
    """ST-20: Always block holds through wrap-up; Don't block frees at once; N minutes frees after N."""
    assert hold(State.WRAP_UP, WrapUpBlock.ALWAYS).held_at(NOW + timedelta(days=1)) == 10
    assert hold(State.WRAP_UP, WrapUpBlock.NEVER).held_at(NOW) == 0
    timed = hold(State.WRAP_UP, WrapUpBlock.MINUTES, 5)
    assert timed.held_at(NOW + timedelta(minutes=4, seconds=59)) == 10
    assert timed.held_at(NOW + timedelta(minutes=5)) == 0


def test_nothing_held_without_an_agent():
    """ST-22: a call with an external party as primary holds no agent's capacity."""
    assert hold(State.ACTIVE, has_agent=False) == NO_HOLD


def test_fits_and_units_over():
    """ST-20, SUP-5: the limit is inclusive; an override reports how far over it goes."""
    assert fits(capacity=30, in_use=20, units=10)
    assert not fits(capacity=30, in_use=25, units=10)
    assert units_over(capacity=30, in_use=25, units=10) == 5
    assert units_over(capacity=30, in_use=0, units=10) == 0
