"""Capacity arithmetic (ST-20), plain values only.

A conversation holds its workstream's capacity units for its primary agent while Active,
and in Wrap-up as the workstream's *Block capacity for wrap-up* says. The hold is decided
once, when the state changes, and stored on the conversation as (units, release time), so
"capacity in use" is one sum everywhere and a timed wrap-up block needs no timer to expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from .states import State

MIN_WRAP_UP_BLOCK_MINUTES = 1
MAX_WRAP_UP_BLOCK_MINUTES = 60


class WrapUpBlock(TextChoices):
    ALWAYS = "always", _("Always block")
    NEVER = "never", _("Don't block")
    MINUTES = "minutes", _("Block for a number of minutes")


@dataclass(frozen=True)
class Hold:
    units: int
    release_at: datetime | None = None  # None: held until the state changes

    def held_at(self, now: datetime) -> int:
        if self.release_at is not None and now >= self.release_at:
            return 0
        return self.units


NO_HOLD = Hold(0)


def capacity_hold(
    *,
    state: State,
    has_agent: bool,
    units: int,
    wrap_up_block: WrapUpBlock,
    wrap_up_block_minutes: int | None,
    now: datetime,
) -> Hold:
    """What a conversation entering `state` holds of its primary agent's capacity."""
    if not has_agent:
        return NO_HOLD
    if state == State.ACTIVE:
        return Hold(units)
    if state == State.WRAP_UP:
        if wrap_up_block == WrapUpBlock.ALWAYS:
            return Hold(units)
        if wrap_up_block == WrapUpBlock.MINUTES:
            return Hold(units, now + timedelta(minutes=wrap_up_block_minutes or 0))
    return NO_HOLD


def fits(*, capacity: int, in_use: int, units: int) -> bool:
    return in_use + units <= capacity


def units_over(*, capacity: int, in_use: int, units: int) -> int:
    """How far past capacity an assignment would take an agent (shown on a supervisor override)."""
    return max(0, in_use + units - capacity)
