"""Routing and distribution choices as plain values (RT-1, RT-2, RT-5), no database.

`match_rule` picks the queue for a new conversation; `choose_agent` picks who gets an offer
and says why, including who was skipped and for what reason, for the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_NEVER = datetime.min.replace(tzinfo=UTC)


class PresenceBase(TextChoices):
    AVAILABLE = "available", gettext_lazy("Available")
    BUSY = "busy", gettext_lazy("Busy")
    BUSY_DND = "busy_dnd", gettext_lazy("Busy – Do not disturb")
    AWAY = "away", gettext_lazy("Away")
    OFFLINE = "offline", gettext_lazy("Offline")


def presence_allowed(*, presence_id: int, base: str, allowed: set[int]) -> bool:
    """The workstream's allowed presences; when it lists none, any presence but Offline (RT-2)."""
    return presence_id in allowed if allowed else base != PresenceBase.OFFLINE


@dataclass(frozen=True)
class Standing:
    """What makes an agent eligible for a conversation of a queue, apart from capacity."""

    is_agent: bool
    member: bool  # of the conversation's queue
    presence_allowed: bool  # by the conversation's workstream
    connected: bool = True  # distribution asks; an agent acting in person is connected
    name: str = ""  # for a refusal to name them
    presence: str = ""


class Refusal(TextChoices):
    NOT_AGENT = "not_agent"
    NOT_MEMBER = "not_member"
    PRESENCE = "presence"
    NOT_CONNECTED = "not_connected"


def standing_refusal(standing: Standing, *, presence: bool = True) -> Refusal | None:
    """RT-2: why this agent may not take the conversation, or None. A supervisor's override
    (SUP-5) waives the presence rule (`presence=False`), never membership."""
    if not standing.is_agent:
        return Refusal.NOT_AGENT
    if not standing.member:
        return Refusal.NOT_MEMBER
    if presence and not standing.presence_allowed:
        return Refusal.PRESENCE
    if not standing.connected:
        return Refusal.NOT_CONNECTED
    return None


class AssignmentMethod(TextChoices):
    HIGHEST_CAPACITY = "highest_capacity", gettext_lazy("Highest free capacity")
    ROUND_ROBIN = "round_robin", gettext_lazy("Round robin")
    LEAST_ACTIVE = "least_active", gettext_lazy("Least active")


class ConditionField(TextChoices):
    CHANNEL = "channel", gettext_lazy("Channel")
    LANGUAGE = "language", gettext_lazy("Language")
    PRECHAT = "prechat", gettext_lazy("Pre-chat answer")
    CUSTOMER = "customer", gettext_lazy("Customer attribute")


class ConditionOperator(TextChoices):
    EQUALS = "equals", gettext_lazy("equals")
    CONTAINS = "contains", gettext_lazy("contains")


KEYED_FIELDS = (ConditionField.PRECHAT, ConditionField.CUSTOMER)


@dataclass(frozen=True)
class Condition:
    field: ConditionField
    key: str
    operator: ConditionOperator
    value: str

    def matches(self, context: dict[str, Any]) -> bool:
        if self.field in KEYED_FIELDS:
            actual = (context.get(self.field) or {}).get(self.key)
        else:
            actual = context.get(self.field)
        if actual is None:
            return False
        actual, expected = str(actual).strip().casefold(), self.value.strip().casefold()
        return expected in actual if self.operator == ConditionOperator.CONTAINS else actual == expected


@dataclass(frozen=True)
class Rule:
    rule_id: int
    name: str
    queue_id: int
    priority: int
    conditions: tuple[Condition, ...]


def match_rule(rules: list[Rule], context: dict[str, Any]) -> Rule | None:
    """The first rule, in order, whose conditions all hold; None sends it to the default queue."""
    return next((r for r in rules if all(c.matches(context) for c in r.conditions)), None)


@dataclass(frozen=True)
class Candidate:
    """One queue member as distribution sees them at this moment."""

    agent_id: int
    name: str
    presence: str
    presence_allowed: bool
    connected: bool
    capacity: int
    in_use: int
    active: int = 0
    last_offered_at: datetime | None = None
    declined_at: datetime | None = None  # rejected this conversation, or let its offer lapse

    @property
    def free(self) -> int:
        return self.capacity - self.in_use


def ineligibility(candidate: Candidate, *, units: int) -> str | None:
    """Why this agent cannot be offered work needing `units` now, or None if they can (RT-2)."""
    if not candidate.presence_allowed:
        return _("presence %(presence)s not allowed") % {"presence": candidate.presence}
    if not candidate.connected:
        return _("not connected")
    if candidate.free < units:
        return _("%(free)s free units, needs %(units)s") % {"free": max(candidate.free, 0), "units": units}
    return None


@dataclass
class Decision:
    agent_id: int | None
    reason: str
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_detail(self) -> dict[str, Any]:
        return {"reason": self.reason, "skipped": self.skipped}


def _idle(candidate: Candidate) -> datetime:
    return candidate.last_offered_at or _NEVER


ORDER = {
    # Ties always go to the longest idle (least recently offered).
    AssignmentMethod.HIGHEST_CAPACITY: lambda c: (-c.free, _idle(c)),
    AssignmentMethod.ROUND_ROBIN: lambda c: (_idle(c),),
    AssignmentMethod.LEAST_ACTIVE: lambda c: (c.active, _idle(c)),
}
METHOD_REASON = {
    AssignmentMethod.HIGHEST_CAPACITY: lambda c: _("highest free capacity (%(free)s units)") % {"free": c.free},
    AssignmentMethod.ROUND_ROBIN: lambda c: _("next in round robin"),
    AssignmentMethod.LEAST_ACTIVE: lambda c: _("least active (%(active)s active)") % {"active": c.active},
}


def choose_agent(
    candidates: list[Candidate], *, units: int, method: str, affinity_agent_id: int | None = None
) -> Decision:
    """Pick the agent to offer to. The last agent comes first when eligible (RT-5); agents
    who declined this conversation come last, so it is never stuck but not ping-ponged."""
    eligible, skipped = [], []
    for candidate in candidates:
        why = ineligibility(candidate, units=units)
        if why:
            skipped.append({"agent": candidate.name, "why": why})
        else:
            eligible.append(candidate)
    if not eligible:
        return Decision(None, _("no eligible agent"), skipped)
    affinity = next((c for c in eligible if c.agent_id == affinity_agent_id and not c.declined_at), None)
    if affinity is not None:
        return Decision(affinity.agent_id, _("last agent (affinity)"), skipped)
    order = ORDER[method]
    eligible.sort(key=lambda c: (c.declined_at is not None, c.declined_at or _NEVER, *order(c)))
    chosen = eligible[0]
    for other in eligible[1:]:
        if other.declined_at:
            skipped.append({"agent": other.name, "why": _("declined this conversation")})
    reason = METHOD_REASON[method](chosen)
    if chosen.declined_at:
        reason = _("everyone eligible declined; offered again to the earliest") + f" ({reason})"
    return Decision(chosen.agent_id, reason, skipped)
