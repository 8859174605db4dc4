"""The transition engine: lock the row, ask the table, plan the move, claim it on its version.

Every move of a conversation's state or holder goes through `move` (or, for a batch of
offers, `plan_transition` and the same claim in assignment). It re-reads the row under its
lock so every check sees what is committed, asks `states.next_state` so that a refusal names
the action and the state it found (ST-13), runs the action's check, holds or frees capacity
under the agents' profile locks (ST-20), claims the row with a conditional UPDATE on its
version, records the event and the transcript's notice, and pushes after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..capacity import Hold, capacity_hold, fits, units_over
from ..errors import CapacityExceeded, ConcurrentChange, NotPermitted
from ..models import AgentProfile, Case, Conversation, ConversationEvent, Workstream
from ..selectors import capacity_in_use, conversation_facts
from ..states import Action, Kind, Rule, State, next_state
from .checks import Check
from .events import NewEvent, events_record
from .presence import agent_capacity_changed
from .transcript import messages_save, notice_for

# `agent=KEEP`: the move leaves the conversation with the agent who holds it.
KEEP = object()


def lock(conversation: Conversation) -> None:
    """Re-read the row under its lock, so every check below sees what is committed."""
    conversation.refresh_from_db(from_queryset=Conversation.objects.select_for_update())
    if conversation.case_id:
        conversation.case = Case.objects.get(pk=conversation.case_id)


def waiting_period(workstream: Workstream) -> timedelta:
    if workstream.kind == Kind.LIVE_CHAT:
        return timedelta(days=workstream.persistent_chat_days)
    return timedelta(minutes=workstream.waiting_timeout_minutes)


def _reserve_capacity(*, profile: AgentProfile | None, in_use: int, units: int, override: bool) -> int:
    """Check the (locked) agent can take `units` more; return the units over capacity an override allows."""
    if profile is None:
        raise NotPermitted(_("This user is not an agent."))
    if fits(capacity=profile.capacity, in_use=in_use, units=units):
        return 0
    if not override:
        raise CapacityExceeded(
            _("%(agent)s has %(free)s free capacity units; this conversation needs %(units)s.")
            % {"agent": profile, "free": max(0, profile.capacity - in_use), "units": units}
        )
    return units_over(capacity=profile.capacity, in_use=in_use, units=units)


@dataclass
class Plan:
    """What one transition writes, worked out on the locked row before anything is written."""

    rule: Rule
    source: State
    new_agent: AbstractBaseUser | None
    fields: dict[str, Any]
    over: int
    affected: list[int]
    capacity_changed: bool
    previous_agent_id: int | None
    cancelled_transfer_to: int | None  # the agent whose pending transfer this move cancels (SUP-6)


def plan_transition(
    conversation: Conversation,
    *,
    action: Action,
    agent: Any,
    override: bool,
    check: Check | None,
    changes: dict[str, Any] | None,
    now: datetime,
    profiles: dict[int, AgentProfile],
    in_use: Callable[[int], int],
) -> Plan:
    """Ask the table, run the action's check, and work out state, holder and capacity hold.
    `profiles` are the locked profiles of the agents involved; `in_use(agent_id)` their load."""
    rule = next_state(action, conversation_facts(conversation))
    if check is not None:
        check(conversation, now)
    source, target = State(conversation.state), rule.target
    previous_agent_id = conversation.primary_agent_id
    new_agent = conversation.primary_agent if agent is KEEP else agent
    if target == State.OPEN:
        new_agent = None  # back in the queue: nobody holds it
    new_agent_id = new_agent.pk if new_agent is not None else None
    workstream = conversation.workstream

    current = Hold(conversation.capacity_units, conversation.capacity_release_at)
    same_holder = new_agent_id == previous_agent_id
    held = current.held_at(now) if same_holder else 0
    over = 0
    if target == source and same_holder:
        hold = current  # neither state nor holder changes: neither does capacity
    else:
        hold = capacity_hold(
            state=target,
            has_agent=new_agent is not None,
            units=held or workstream.capacity_units,
            wrap_up_block=workstream.wrap_up_block,
            wrap_up_block_minutes=workstream.wrap_up_block_minutes,
            now=now,
        )
        if hold.units and not held:
            over = _reserve_capacity(
                profile=profiles.get(new_agent_id), in_use=in_use(new_agent_id), units=hold.units, override=override
            )

    fields: dict[str, Any] = {
        "state": target,
        "primary_agent": new_agent,
        "capacity_units": hold.units,
        "capacity_release_at": hold.release_at,
        "capacity_override": bool(hold.units) and (over > 0 or (bool(held) and conversation.capacity_override)),
        "version": conversation.version + 1,
    }
    if target != source:
        fields["state_changed_at"] = now
        fields["waiting_until"] = now + waiting_period(workstream) if target == State.WAITING else None
    if target != State.ACTIVE:
        fields["offer_expires_at"] = None
    if target == State.OPEN:
        fields["accepted_at"] = None
        if source == State.WAITING:
            fields["last_agent_id"] = previous_agent_id  # offered to them first (RT-5)
    if new_agent is not None or target == State.OPEN:
        fields["external_party"] = ""  # an agent or the queue has it back: one primary party (ST-22)
    cancelled_transfer_to = None
    if target != source or not same_holder:
        # A supervisor's transfer was offered for the conversation as it was (SUP-6): any other
        # move cancels it, and the event and the push say so.
        fields["transfer_agent"], fields["transfer_expires_at"] = None, None
        if action != Action.TRANSFER_ACCEPT:
            cancelled_transfer_to = conversation.transfer_agent_id
    fields.update(changes or {})
    final = Hold(fields["capacity_units"], fields["capacity_release_at"])
    return Plan(
        rule=rule,
        source=source,
        new_agent=new_agent,
        fields=fields,
        over=over,
        affected=sorted({previous_agent_id, new_agent_id} - {None}),
        capacity_changed=final != current or not same_holder,
        previous_agent_id=previous_agent_id,
        cancelled_transfer_to=cancelled_transfer_to,
    )


def planned_event(
    conversation: Conversation,
    plan: Plan,
    *,
    action: Action,
    actor: AbstractBaseUser | None,
    detail: dict[str, Any] | None,
    notify: tuple[int, ...] = (),
    left_queue_id: int | None = None,
) -> NewEvent:
    """The event recording a planned transition (ST-23), announced to the holders before and
    after, to `notify`, to the agent whose pending transfer it cancelled, and to the queue it left."""
    extra = {"units_over_capacity": plan.over} if plan.over else {}
    if plan.cancelled_transfer_to is not None:
        extra["transfer_cancelled_for"] = plan.cancelled_transfer_to
    return NewEvent(
        conversation=conversation,
        action=action,
        from_state=plan.source,
        actor=actor,
        detail={"rule": plan.rule.spec, **(detail or {}), **extra},
        notify=tuple(sorted({*plan.affected, *notify, *({plan.cancelled_transfer_to} - {None})})),
        left_queue_id=left_queue_id,
    )


def move(
    conversation: Conversation,
    *,
    action: Action,
    actor: AbstractBaseUser | None = None,
    agent: Any = KEEP,
    override: bool = False,
    check: Check | None = None,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    notify: tuple[int, ...] = (),
) -> ConversationEvent:
    """Apply one rule of the table to the conversation, as the module docstring says.
    `notify`: agents besides the holders whose pages the push re-renders."""
    with transaction.atomic():
        now = timezone.now()
        lock(conversation)
        involved = {conversation.primary_agent_id, agent.pk if agent not in (KEEP, None) else None} - {None}
        profiles = {
            p.user_id: p
            for p in AgentProfile.objects.select_for_update().filter(user_id__in=involved).order_by("user_id")
        }
        plan = plan_transition(
            conversation,
            action=action,
            agent=agent,
            override=override,
            check=check,
            changes=changes,
            now=now,
            profiles=profiles,
            in_use=lambda agent_id: capacity_in_use(
                agent_id=agent_id, now=now, exclude_conversation_id=conversation.pk
            ),
        )
        # The lock above makes this claim succeed; it is the guard where no lock exists.
        if not Conversation.objects.filter(pk=conversation.pk, version=conversation.version).update(**plan.fields):
            raise ConcurrentChange(_("The conversation changed meanwhile; try again."))
        queue_before = conversation.queue_id
        for name, value in plan.fields.items():
            setattr(conversation, name, value)
        if notice := notice_for(
            conversation,
            action=action,
            agent_id=plan.new_agent.pk if plan.new_agent else None,
            previous_agent_id=plan.previous_agent_id,
            actor_id=actor.pk if actor else None,
        ):
            messages_save({conversation.pk: conversation}, [notice])
        if plan.capacity_changed:
            for agent_id in plan.affected:
                agent_capacity_changed(agent_id=agent_id, now=now)
        (event,) = events_record(
            events=[
                planned_event(
                    conversation,
                    plan,
                    action=action,
                    actor=actor,
                    detail=detail,
                    notify=notify,
                    left_queue_id=queue_before if conversation.queue_id != queue_before else None,
                )
            ],
            now=now,
        )
    return event

