"""The one front door for every change to a conversation.

Views, consumers, timers, the demo loader and tests all call these functions. Each one
locks and re-reads the conversation row, asks the transition table (`states.next_state`)
so that a refusal names the action and the state it found, runs its own checks on that
fresh row (who may act, deadlines, eligibility), holds or frees capacity under the agents'
profile locks, claims the row with a conditional UPDATE on its version, writes a
ConversationEvent and schedules the push for after commit. A refused action raises a
ConversationError whose message names the problem, and changes nothing.

Locks are always taken in one order, conversation first, then agent profiles by id, so
concurrent actions on PostgreSQL cannot deadlock; on SQLite the IMMEDIATE transaction
holds the database's single write lock instead.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from omnichannel.knowledge.models import Article

from . import pushes, routing, sentiment
from .agents import agent_capacity_changed
from .capacity import Hold, capacity_hold, fits, units_over
from .errors import CapacityExceeded, ConcurrentChange, ConversationError, InvalidInput, NotPermitted
from .models import (
    AgentConnection,
    AgentProfile,
    Case,
    CaseStatus,
    Contact,
    Conversation,
    ConversationEvent,
    Message,
    Notice,
    Queue,
    RoutingRule,
    SenderRole,
    SentimentLevel,
    Visitor,
    Workstream,
)
from .selectors import (
    allowed_presences_by_workstream,
    capacity_in_use,
    capacity_in_use_by_agent,
    connection_fresh_since,
    conversation_facts,
    customer_cases,
    is_supervisor,
)
from .states import Action, Channel, IllegalTransition, Kind, Rule, State, next_state

MAX_MESSAGE_LENGTH = 4000
EXTERNAL_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
_KEEP = object()
Check = Callable[[Conversation, datetime], None]


# --- the transition engine -------------------------------------------------------------


def _lock(conversation: Conversation) -> None:
    """Re-read the row under its lock, so every check below sees what is committed."""
    conversation.refresh_from_db(from_queryset=Conversation.objects.select_for_update())
    if conversation.case_id:
        conversation.case = Case.objects.get(pk=conversation.case_id)


def _waiting_period(workstream: Workstream) -> timedelta:
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
class _Plan:
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


def _plan(
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
) -> _Plan:
    """Ask the table, run the action's check, and work out state, holder and capacity hold.
    `profiles` are the locked profiles of the agents involved; `in_use(agent_id)` their load."""
    rule = next_state(action, conversation_facts(conversation))
    if check is not None:
        check(conversation, now)
    source, target = State(conversation.state), rule.target
    previous_agent_id = conversation.primary_agent_id
    new_agent = conversation.primary_agent if agent is _KEEP else agent
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
        fields["waiting_until"] = now + _waiting_period(workstream) if target == State.WAITING else None
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
    return _Plan(
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


def _event(
    conversation: Conversation, plan: _Plan, *, action: Action, actor: AbstractBaseUser | None, detail, now: datetime
) -> ConversationEvent:
    """The (unsaved) event recording a planned transition (ST-23)."""
    extra = {"units_over_capacity": plan.over} if plan.over else {}
    if plan.cancelled_transfer_to is not None:
        extra["transfer_cancelled_for"] = plan.cancelled_transfer_to
    return ConversationEvent(
        conversation=conversation,
        from_state=plan.source,
        to_state=plan.fields["state"],
        action=action,
        actor=actor,
        agent=plan.new_agent,
        created_at=now,
        detail={"rule": plan.rule.spec, **(detail or {}), **extra},
    )


def _move(
    conversation: Conversation,
    *,
    action: Action,
    actor: AbstractBaseUser | None = None,
    agent: Any = _KEEP,
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
        _lock(conversation)
        involved = {conversation.primary_agent_id, agent.pk if agent not in (_KEEP, None) else None} - {None}
        profiles = {
            p.user_id: p
            for p in AgentProfile.objects.select_for_update().filter(user_id__in=involved).order_by("user_id")
        }
        plan = _plan(
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
        for name, value in plan.fields.items():
            setattr(conversation, name, value)
        event = _event(conversation, plan, action=action, actor=actor, detail=detail, now=now)
        event.save()
        if notice := _notice(
            conversation,
            action=action,
            agent_id=plan.new_agent.pk if plan.new_agent else None,
            previous_agent_id=plan.previous_agent_id,
            actor_id=actor.pk if actor else None,
        ):
            _save_messages({conversation.pk: conversation}, [notice])
        if plan.capacity_changed:
            for agent_id in plan.affected:
                agent_capacity_changed(agent_id=agent_id, now=now)
        # The agent a cancelled transfer waited for sees its Accept and Reject go.
        cancelled = {plan.cancelled_transfer_to} - {None}
        pushes.conversations_changed([_push(conversation, event, sorted({*plan.affected, *notify, *cancelled}))])
    return event


# What customer and agent read in the transcript after a move (CH-3, SUP-4, SUP-7).
_NOTICES = {
    Action.PICK: Notice.AGENT_JOINED,
    Action.ACCEPT: Notice.AGENT_JOINED,
    Action.ASSIGN: Notice.AGENT_JOINED,
    Action.RELEASE: Notice.AGENT_LEFT,
    Action.AGENT_RECONNECT_TIMEOUT: Notice.AGENT_LEFT,
    Action.CLOSE_SESSION: Notice.AGENT_LEFT,
    Action.TRANSFER_TO_QUEUE: Notice.TRANSFERRED,
    Action.AGENT_END: Notice.AGENT_ENDED,
    Action.CUSTOMER_END: Notice.CUSTOMER_ENDED,
    Action.CUSTOMER_DISCONNECT: Notice.CUSTOMER_LEFT,
    Action.TRANSFER_ACCEPT: Notice.AGENT_JOINED,
    Action.SUPERVISOR_JOIN: Notice.SUPERVISOR_JOINED,
    Action.SUPERVISOR_LEAVE: Notice.SUPERVISOR_LEFT,
    Action.FORCE_CLOSE: Notice.SUPERVISOR_ENDED,
}
_SUPERVISOR_NOTICES = {Notice.SUPERVISOR_JOINED, Notice.SUPERVISOR_LEFT, Notice.SUPERVISOR_ENDED}


def _notice(
    conversation: Conversation,
    *,
    action: Action,
    agent_id: int | None,
    previous_agent_id: int | None,
    actor_id: int | None = None,
) -> Message | None:
    """The system notice a move puts in the transcript, unsaved, if any: routing's notices in live
    chat, a supervisor's on every channel but records (SUP-4, SUP-7: both sides are told)."""
    notice = _NOTICES.get(action)
    if notice is None or conversation.kind == Kind.RECORD:
        return None
    if conversation.kind != Kind.LIVE_CHAT and notice not in _SUPERVISOR_NOTICES:
        return None
    if notice == Notice.AGENT_JOINED:
        if not conversation.accepted_at:
            return None  # offered, not yet accepted: nobody has joined
        named = agent_id
    elif notice == Notice.AGENT_LEFT:
        if conversation.state != State.OPEN:
            return None  # closing a Wrap-up or persistent session is not a departure mid-chat
        named = previous_agent_id
    elif notice in _SUPERVISOR_NOTICES:
        named = actor_id
    else:
        named = previous_agent_id
    name = ""
    if named is not None:
        user = get_user_model().objects.only("first_name", "username").get(pk=named)
        name = user.first_name or user.get_username()
    return _append(conversation, sender_role=SenderRole.SYSTEM, body=name, notice=notice)


def _push(conversation: Conversation, event: ConversationEvent, agent_ids: list[int]) -> pushes.Change:
    return pushes.Change(
        conversation_id=conversation.pk,
        queue_id=conversation.queue_id,
        event_id=event.pk,
        state=conversation.state,
        agent_ids=tuple(agent_ids),
    )


# --- checks shared by several actions, run on the locked row -----------------------------


def _primary(agent: AbstractBaseUser) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id != agent.pk:
            raise NotPermitted(_("Only the conversation's agent can do this."))

    return check


def _primary_or_supervisor(actor: AbstractBaseUser, *, switch: str) -> Check:
    """The conversation's agent, or a supervisor where the workstream enables `switch` (SUP-2)."""

    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id == actor.pk:
            return
        if not is_supervisor(actor):
            raise NotPermitted(_("Only the conversation's agent or a supervisor can do this."))
        if not getattr(conversation.workstream, switch):
            raise NotPermitted(_SWITCH_REFUSALS[switch])

    return check


def _require_member(conversation: Conversation, agent: AbstractBaseUser) -> None:
    if not conversation.queue.members.filter(pk=agent.pk).exists():
        raise NotPermitted(
            _("%(agent)s is not a member of the queue %(queue)s.") % {"agent": agent, "queue": conversation.queue}
        )


def _require_presence_allowed(conversation: Conversation, agent: AbstractBaseUser) -> None:
    profile = AgentProfile.objects.select_related("presence").filter(user=agent).first()
    if profile is None:
        raise NotPermitted(_("%(user)s is not an agent.") % {"user": agent})
    allowed = allowed_presences_by_workstream({conversation.workstream_id})[conversation.workstream_id]
    if not routing.presence_allowed(presence_id=profile.presence_id, base=profile.presence.base, allowed=allowed):
        raise NotPermitted(
            _("%(agent)s is %(presence)s, which this workstream does not allow.")
            % {"agent": profile, "presence": profile.presence}
        )


def _eligible(agent: AbstractBaseUser) -> Check:
    """RT-2: a member of the conversation's queue, showing a presence the workstream allows."""

    def check(conversation: Conversation, now: datetime) -> None:
        _require_member(conversation, agent)
        _require_presence_allowed(conversation, agent)

    return check


def _all(*checks: Check) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        for each in checks:
            each(conversation, now)

    return check


def _due(field: str, message: str) -> Check:
    """The deadline stored in `field` has passed."""

    def check(conversation: Conversation, now: datetime) -> None:
        deadline = getattr(conversation, field)
        if deadline is None or now < deadline:
            raise ConversationError(message)

    return check


def _require_supervisor(actor: AbstractBaseUser | None) -> None:
    if actor is None or not is_supervisor(actor):
        raise NotPermitted(_("Only a supervisor can do this."))


# --- creation and assignment (ST-1, RT-3, RT-4) ------------------------------------------


def _routing_rules(workstream: Workstream) -> list[routing.Rule]:
    rules = RoutingRule.objects.filter(workstream=workstream).prefetch_related("conditions").order_by("order", "id")
    return [
        routing.Rule(
            rule_id=r.pk,
            name=r.name,
            queue_id=r.queue_id,
            priority=r.priority,
            conditions=tuple(routing.Condition(c.field, c.key, c.operator, c.value) for c in r.conditions.all()),
        )
        for r in rules
    ]


def conversation_create(
    *,
    workstream: Workstream,
    queue: Queue | None = None,
    context: dict[str, Any] | None = None,
    contact: Contact | None = None,
    visitor: Visitor | None = None,
    case: Case | None = None,
    actor: AbstractBaseUser | None = None,
    detail: dict[str, Any] | None = None,
) -> Conversation:
    """Create an Open conversation. Without an explicit queue, the workstream's routing rules
    choose one by the conversation's context; unmatched ones go to the default queue (RT-1)."""
    context = {"channel": workstream.channel, **(context or {})}
    priority = 0
    detail = dict(detail or {})
    if queue is None:
        rule = routing.match_rule(_routing_rules(workstream), context)
        if rule is None:
            queue = workstream.default_queue
            detail["routed"] = str(_("default queue (no routing rule matched)"))
        else:
            queue = Queue.objects.get(pk=rule.queue_id)
            priority = rule.priority
            detail["routed"] = str(_("routing rule “%(rule)s”") % {"rule": rule.name})
        detail["queue"] = queue.name
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            workstream=workstream,
            queue=queue,
            priority=priority,
            context=context,
            contact=contact,
            visitor=visitor,
            case=case,
            state=State.OPEN,
            state_changed_at=now,
        )
        event = ConversationEvent.objects.create(
            conversation=conversation,
            from_state="",
            to_state=State.OPEN,
            action=Action.CREATE,
            actor=actor,
            created_at=now,
            detail=detail,
        )
        pushes.conversations_changed([_push(conversation, event, [])])
    return conversation


def conversation_pick(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1, RT-4: an eligible agent picks an Open work item; it is theirs, accepted, at once."""
    return _move(
        conversation,
        action=Action.PICK,
        actor=agent,
        agent=agent,
        check=_eligible(agent),
        changes={"accepted_at": timezone.now()},
    )


def conversation_offer(
    *, conversation: Conversation, agent: AbstractBaseUser, decision: dict[str, Any] | None = None
) -> ConversationEvent:
    """ST-1, RT-2, RT-3: distribution offers an Open conversation to an eligible agent; it
    becomes Active and reserves their capacity until they accept, reject or the offer lapses.
    With auto-accept it is theirs at once. `decision` (why them, who was skipped) goes on the timeline."""
    now = timezone.now()
    with transaction.atomic():
        event = _move(
            conversation,
            action=Action.ASSIGN if conversation.workstream.auto_accept else Action.OFFER,
            agent=agent,
            check=_eligible(agent),
            changes=_offer_changes(conversation.workstream, now),
            detail=_offer_detail(conversation, Offer(conversation, agent, decision or {})),
        )
        AgentProfile.objects.filter(user_id=agent.pk).update(last_offered_at=now)
    return event


@dataclass(frozen=True)
class Offer:
    conversation: Conversation
    agent: AbstractBaseUser
    decision: dict[str, Any]


def conversations_offer(*, offers: list[Offer]) -> list[ConversationEvent]:
    """The batch form of conversation_offer, for distribution: the same table, checks and
    capacity rules per conversation, in one transaction. Rows another worker has locked are
    skipped rather than waited for, so concurrent workers split the queue instead of colliding;
    an offer refused for its own reasons is skipped and the rest go ahead."""
    if not offers:
        return []
    with transaction.atomic():
        now = timezone.now()
        rows = {
            c.pk: c
            for c in Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("workstream", "case")
            .filter(pk__in=[o.conversation.pk for o in offers], state=State.OPEN)
        }
        agent_ids = sorted({o.agent.pk for o in offers})
        profiles = {
            p.user_id: p
            for p in AgentProfile.objects.select_for_update(of=("self",))
            .select_related("presence")
            .filter(user_id__in=agent_ids)
            .order_by("user_id")
        }
        load = capacity_in_use_by_agent(agent_ids=agent_ids, now=now)
        connected = set(
            AgentConnection.objects.filter(
                agent_id__in=agent_ids, last_seen__gte=connection_fresh_since(now)
            ).values_list("agent_id", flat=True)
        )
        members = set(Queue.members.through.objects.filter(user_id__in=agent_ids).values_list("queue_id", "user_id"))
        allowed = allowed_presences_by_workstream({row.workstream_id for row in rows.values()})
        planned: list[tuple[Conversation, _Plan, Action, Offer]] = []
        for offer in offers:
            row = rows.get(offer.conversation.pk)
            if row is None:
                continue
            action = Action.ASSIGN if row.workstream.auto_accept else Action.OFFER

            def eligible(conversation: Conversation, now: datetime, agent=offer.agent) -> None:
                profile = profiles.get(agent.pk)
                if (conversation.queue_id, agent.pk) not in members or profile is None:
                    raise NotPermitted(_("Not a member of the queue."))
                if agent.pk not in connected:
                    raise NotPermitted(_("Not connected."))
                if not routing.presence_allowed(
                    presence_id=profile.presence_id,
                    base=profile.presence.base,
                    allowed=allowed[conversation.workstream_id],
                ):
                    raise NotPermitted(_("Presence not allowed."))

            try:
                plan = _plan(
                    row,
                    action=action,
                    agent=offer.agent,
                    override=False,
                    check=eligible,
                    changes=_offer_changes(row.workstream, now),
                    now=now,
                    profiles=profiles,
                    in_use=lambda agent_id: load.get(agent_id, 0),
                )
            except ConversationError:
                continue
            load[offer.agent.pk] = load.get(offer.agent.pk, 0) + plan.fields["capacity_units"]
            for name, value in plan.fields.items():
                setattr(row, name, value)
            planned.append((row, plan, action, offer))
        if not planned:
            return []
        _update_rows([(row, plan.fields) for row, plan, *_ in planned])
        events = ConversationEvent.objects.bulk_create(
            [
                _event(row, plan, action=action, actor=None, detail=_offer_detail(row, offer), now=now)
                for row, plan, action, offer in planned
            ]
        )
        notices = [
            notice
            for row, plan, action, offer in planned
            if (notice := _notice(row, action=action, agent_id=offer.agent.pk, previous_agent_id=None))
        ]
        if notices:
            _save_messages(rows, notices)
        offered = {offer.agent.pk for *_, offer in planned}
        AgentProfile.objects.filter(user_id__in=offered).update(last_offered_at=now)
        for agent_id in offered:
            agent_capacity_changed(agent_id=agent_id, now=now, profile=profiles[agent_id], in_use=load[agent_id])
        pushes.conversations_changed(
            [_push(row, event, plan.affected) for (row, plan, *_), event in zip(planned, events, strict=True)]
        )
    return events


def _update_rows(planned: list[tuple[Conversation, dict[str, Any]]]) -> None:
    """Write locked rows with one UPDATE per set of identical new values (in an offer batch:
    per agent and workstream), instead of one per row."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row, fields in planned:
        same = tuple(sorted((name, value) for name, value in fields.items() if name != "version"))
        groups[same].append(row.pk)
    for same, pks in groups.items():
        Conversation.objects.filter(pk__in=pks).update(**dict(same), version=F("version") + 1)


def _offer_changes(workstream: Workstream, now: datetime) -> dict[str, Any]:
    if workstream.auto_accept:
        return {"accepted_at": now}
    return {"offer_expires_at": now + timedelta(seconds=workstream.offer_timeout_seconds)}


def _offer_detail(conversation: Conversation, offer: Offer) -> dict[str, Any]:
    return {**offer.decision, "method": conversation.workstream.get_assignment_method_display()}


def conversation_accept(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1: the offered agent accepts."""
    return _move(
        conversation,
        action=Action.ACCEPT,
        actor=agent,
        check=_primary(agent),
        changes={"accepted_at": timezone.now(), "offer_expires_at": None},
    )


def conversation_reject(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """RT-3: the offered agent rejects; the conversation is Open again for the next agent."""
    return _move(
        conversation, action=Action.REJECT, actor=agent, check=_primary(agent), detail={"declined_by": agent.pk}
    )


def conversation_offer_expire(*, conversation: Conversation) -> ConversationEvent:
    """RT-3: an offer not accepted within the workstream's offer timeout returns to Open."""
    return _move(
        conversation,
        action=Action.OFFER_TIMEOUT,
        check=_due("offer_expires_at", _("The offer has not timed out yet.")),
        detail={"declined_by": conversation.primary_agent_id},
    )


def conversation_assign(
    *, conversation: Conversation, agent: AbstractBaseUser, actor: AbstractBaseUser, override: bool = False
) -> ConversationEvent:
    """ST-1, SUP-5: a supervisor assigns an Open conversation to an agent of its queue, where
    the workstream allows it (SUP-2); they may override presence and capacity, not membership."""

    def check(conversation: Conversation, now: datetime) -> None:
        _supervising(actor, switch="allow_assign")(conversation, now)
        _require_member(conversation, agent)
        if not override:
            _require_presence_allowed(conversation, agent)

    return _move(
        conversation,
        action=Action.ASSIGN,
        actor=actor,
        agent=agent,
        override=override,
        check=check,
        changes={"accepted_at": timezone.now()},
    )


# --- ending and closing (ST-2 to ST-9, ST-21, ST-24) -------------------------------------


def conversation_end(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-3: the agent selects End; the conversation goes to Wrap-up."""
    return _move(conversation, action=Action.AGENT_END, actor=agent, check=_primary(agent))


def conversation_customer_end(*, conversation: Conversation) -> ConversationEvent:
    """The customer ends the chat or hangs up: Closed before an agent accepted it (ST-2,
    ST-7), Wrap-up after (ST-3), Closed for a call held by an external party (ST-22)."""
    return _move(conversation, action=Action.CUSTOMER_END)


def conversation_customer_disconnect(*, conversation: Conversation) -> ConversationEvent:
    """The live-chat customer is gone: Closed before an agent accepted it (ST-2, ST-7),
    Wrap-up after (ST-21)."""
    return _move(conversation, action=Action.CUSTOMER_DISCONNECT)


def conversation_customer_gone(*, conversation: Conversation) -> ConversationEvent:
    """The live-chat customer's last socket closed and none opened again within the
    workstream's customer reconnect timeout: as if they disconnected (ST-2, ST-7, ST-21)."""

    def check(conversation: Conversation, now: datetime) -> None:
        gone = conversation.customer_disconnected_at
        if gone is None or now < gone + timedelta(seconds=conversation.workstream.customer_reconnect_timeout_seconds):
            raise ConversationError(_("The customer is connected, or may still reconnect."))

    return _move(conversation, action=Action.CUSTOMER_DISCONNECT, check=check)


def conversation_release(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-4: the agent releases the conversation back to its queue."""
    return _move(
        conversation, action=Action.RELEASE, actor=agent, check=_primary(agent), detail={"released_by": agent.pk}
    )


def conversation_agent_reconnect_timeout(*, conversation: Conversation) -> ConversationEvent:
    """ST-4: the agent disconnected and did not come back within the workstream's timeout."""

    def check(conversation: Conversation, now: datetime) -> None:
        disconnected_at = (
            AgentProfile.objects.filter(user_id=conversation.primary_agent_id)
            .values_list("disconnected_at", flat=True)
            .first()
        )
        timeout = timedelta(seconds=conversation.workstream.agent_reconnect_timeout_seconds)
        if disconnected_at is None or now < disconnected_at + timeout:
            raise ConversationError(_("The agent is connected, or may still reconnect."))

    return _move(
        conversation,
        action=Action.AGENT_RECONNECT_TIMEOUT,
        check=check,
        detail={"disconnected_agent": conversation.primary_agent_id},
    )


def conversation_close_session(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """The agent closes the conversation's session. Where it goes depends on state and kind:
    live chat Active → Open (ST-4), or Waiting when persistent (ST-24); messaging Active →
    Waiting (ST-5); a record with its case resolved → Closed (ST-6); Wrap-up → Closed (ST-8)."""
    return _move(conversation, action=Action.CLOSE_SESSION, actor=agent, check=_primary(agent))


def conversation_inactivity_timeout(*, conversation: Conversation) -> ConversationEvent:
    """ST-9 (and the end of a persistent chat's period, ST-24): a Waiting conversation with
    no activity until its deadline is closed."""
    return _move(
        conversation,
        action=Action.INACTIVITY_TIMEOUT,
        check=_due("waiting_until", _("The conversation has had activity within its inactivity timeout.")),
    )


def conversation_wrap_up_block_expire(*, conversation: Conversation) -> ConversationEvent:
    """ST-20: the workstream's wrap-up block of N minutes has run out; the agent's capacity is free."""
    return _move(
        conversation,
        action=Action.WRAP_UP_BLOCK_EXPIRED,
        check=_due("capacity_release_at", _("The wrap-up block has not run out yet.")),
        changes={"capacity_units": 0, "capacity_release_at": None, "capacity_override": False},
    )


def conversation_resume(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-10: the agent resumes a Waiting conversation from My work items."""
    return _move(conversation, action=Action.RESUME, actor=agent, check=_primary(agent))


# --- transfers (ST-4, ST-22) --------------------------------------------------------------


def _to_queue(
    conversation: Conversation, *, queue: Queue, action: Action, actor: AbstractBaseUser, check: Check
) -> ConversationEvent:
    """Move the conversation to another queue, where it waits Open for that queue's agents."""
    left: list[int] = []

    def other_queue(conversation: Conversation, now: datetime) -> None:
        if queue.pk == conversation.queue_id:
            raise InvalidInput(_("The conversation is already in the queue %(queue)s.") % {"queue": queue})
        left.append(conversation.queue_id)

    with transaction.atomic():
        event = _move(
            conversation,
            action=action,
            actor=actor,
            check=_all(check, other_queue),
            changes={"queue": queue},
            detail={"from_queue": conversation.queue.name, "to_queue": queue.name},
        )
        # The queue it left lists it among its Open work items until told (RT-4).
        pushes.conversations_changed([pushes.Change(conversation.pk, left[0], event.pk, conversation.state, ())])
    return event


def conversation_transfer_to_queue(
    *, conversation: Conversation, queue: Queue, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-4, ST-22: to another queue; the conversation is Open there and the agent's capacity freed."""
    return _to_queue(
        conversation,
        queue=queue,
        action=Action.TRANSFER_TO_QUEUE,
        actor=actor,
        check=_primary_or_supervisor(actor, switch="allow_transfer"),
    )


def conversation_transfer_to_agent(
    *, conversation: Conversation, to_agent: AbstractBaseUser, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-22: a voice call to another agent stays Active with them as primary; the first
    agent's capacity is released at once."""

    def someone_else(conversation: Conversation, now: datetime) -> None:
        if to_agent.pk == conversation.primary_agent_id:
            raise InvalidInput(_("The call is already with %(agent)s.") % {"agent": to_agent})

    return _move(
        conversation,
        action=Action.TRANSFER_TO_AGENT,
        actor=actor,
        agent=to_agent,
        check=_all(_primary_or_supervisor(actor, switch="allow_transfer"), someone_else, _eligible(to_agent)),
        detail={"from_agent": conversation.primary_agent_id},
    )


def conversation_transfer_to_external(
    *, conversation: Conversation, number: str, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-22: a voice call to an external number stays Active with the external party as
    primary; the agent's capacity is released at once."""
    number = number.strip()
    if not EXTERNAL_NUMBER.match(number):
        raise InvalidInput(_("“%(number)s” is not a phone number.") % {"number": number})
    return _move(
        conversation,
        action=Action.TRANSFER_TO_EXTERNAL,
        actor=actor,
        agent=None,
        check=_primary_or_supervisor(actor, switch="allow_transfer"),
        changes={"external_party": number},
        detail={"from_agent": conversation.primary_agent_id, "number": number},
    )


# --- supervision (SUP-2 to SUP-7, seed 001) ---------------------------------------------------

# What a disabled switch refuses (SUP-2).
_SWITCH_REFUSALS = {
    "allow_monitor": _("This workstream does not let supervisors monitor or join its conversations."),
    "allow_assign": _("This workstream does not let supervisors assign."),
    "allow_transfer": _("This workstream does not let supervisors transfer."),
    "allow_force_close": _("This workstream does not let supervisors force close."),
}


def _supervising(actor: AbstractBaseUser, *, switch: str) -> Check:
    """A supervisor, where the conversation's workstream enables `switch` (SUP-2)."""

    def check(conversation: Conversation, now: datetime) -> None:
        _require_supervisor(actor)
        if not getattr(conversation.workstream, switch):
            raise NotPermitted(_SWITCH_REFUSALS[switch])

    return check


def _not_own(actor: AbstractBaseUser) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id == actor.pk:
            raise NotPermitted(_("This conversation is assigned to you; supervisors monitor other agents' work."))

    return check


def _unchanged(seen_version: int | None) -> Check:
    """The conversation is as the supervisor saw it when they chose (a confirmation dialog
    confirms what it showed): a transition since then refuses, and they look again."""

    def check(conversation: Conversation, now: datetime) -> None:
        if seen_version is not None and conversation.version != seen_version:
            raise ConcurrentChange(
                _("The conversation changed since you opened this (it is %(state)s now); look again and retry.")
                % {"state": State(conversation.state).label}
            )

    return check


def _record(
    conversation: Conversation,
    *,
    action: Action,
    actor: AbstractBaseUser,
    check: Check | None = None,
    claim: Callable[[Conversation], None] | None = None,
) -> ConversationEvent:
    """A supervisor's action that moves nothing (monitor, join, leave): asked of the table like
    a move, so a refusal names the state (ST-13), and recorded as an event with its actor. The
    version is left alone: watching a conversation must not fail anyone's claim on it. `claim`
    writes what the action changes and refuses if another request wrote it first, so a double
    click records one event and one notice even where the row lock is a no-op (SQLite)."""
    with transaction.atomic():
        now = timezone.now()
        _lock(conversation)
        rule = next_state(action, conversation_facts(conversation))
        if check is not None:
            check(conversation, now)
        if claim is not None:
            claim(conversation)
        event = ConversationEvent.objects.create(
            conversation=conversation,
            from_state=conversation.state,
            to_state=conversation.state,
            action=action,
            actor=actor,
            agent_id=conversation.primary_agent_id,
            created_at=now,
            detail={"rule": rule.spec},
        )
        if notice := _notice(
            conversation,
            action=action,
            agent_id=conversation.primary_agent_id,
            previous_agent_id=conversation.primary_agent_id,
            actor_id=actor.pk,
        ):
            _save_messages({conversation.pk: conversation}, [notice])
        pushes.conversations_changed([_push(conversation, event, [])])
    return event


def conversation_monitor(*, conversation: Conversation, actor: AbstractBaseUser) -> ConversationEvent:
    """SUP-3: a supervisor opens an Active or Wrap-up conversation of any channel but records
    to watch it live; never one assigned to themselves."""
    return _record(
        conversation,
        action=Action.MONITOR,
        actor=actor,
        check=_all(_supervising(actor, switch="allow_monitor"), _not_own(actor)),
    )


def conversation_supervisor_join(*, conversation: Conversation, actor: AbstractBaseUser) -> ConversationEvent:
    """SUP-4: the monitoring supervisor joins the chat; customer and agent see a notice, and
    the supervisor may write to both until they leave."""

    def claim(conversation: Conversation) -> None:
        # The through row's unique pair is the claim: a second join's insert fails.
        try:
            with transaction.atomic():
                Conversation.supervisors.through.objects.create(conversation=conversation, user=actor)
        except IntegrityError:
            raise InvalidInput(_("You are already in this chat.")) from None

    return _record(
        conversation,
        action=Action.SUPERVISOR_JOIN,
        actor=actor,
        check=_all(_supervising(actor, switch="allow_monitor"), _not_own(actor)),
        claim=claim,
    )


def conversation_supervisor_leave(*, conversation: Conversation, actor: AbstractBaseUser) -> ConversationEvent:
    """SUP-4: a supervisor who joined the chat leaves it; customer and agent see a notice."""

    def claim(conversation: Conversation) -> None:
        # Deleting the through row is the claim: a second leave deletes nothing.
        through = Conversation.supervisors.through
        if not through.objects.filter(conversation=conversation, user=actor).delete()[0]:
            raise InvalidInput(_("You have not joined this chat."))

    return _record(conversation, action=Action.SUPERVISOR_LEAVE, actor=actor, claim=claim)


def conversation_assign_to_queue(
    *, conversation: Conversation, queue: Queue, actor: AbstractBaseUser
) -> ConversationEvent:
    """SUP-5: a supervisor moves an Open, unassigned conversation to another queue, where it
    waits Open for that queue's agents."""
    return _to_queue(
        conversation,
        queue=queue,
        action=Action.ASSIGN_TO_QUEUE,
        actor=actor,
        check=_supervising(actor, switch="allow_assign"),
    )


def conversation_transfer_request(
    *,
    conversation: Conversation,
    to_agent: AbstractBaseUser,
    actor: AbstractBaseUser,
    seen_version: int | None = None,
) -> ConversationEvent:
    """SUP-6: a supervisor offers an accepted Active or Waiting messaging conversation, never
    once escalated to a call, to another agent of its queue showing an allowed presence. It
    stays where it is until that agent accepts, rejects, or the workstream's offer timeout
    passes; one transfer at a time."""

    def transferable(conversation: Conversation, now: datetime) -> None:
        if conversation.transfer_agent_id is not None:
            raise ConversationError(_("A transfer is already waiting for its agent's answer."))
        if to_agent.pk == conversation.primary_agent_id:
            raise InvalidInput(_("%(agent)s already has this conversation.") % {"agent": to_agent})

    now = timezone.now()
    return _move(
        conversation,
        action=Action.TRANSFER_REQUEST,
        actor=actor,
        check=_all(
            _supervising(actor, switch="allow_transfer"), _unchanged(seen_version), transferable, _eligible(to_agent)
        ),
        changes={
            "transfer_agent": to_agent,
            "transfer_expires_at": now + timedelta(seconds=conversation.workstream.offer_timeout_seconds),
        },
        detail={"to_agent": to_agent.pk},
        notify=(to_agent.pk,),
    )


def _transfer_offered_to(agent: AbstractBaseUser) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.transfer_agent_id != agent.pk:
            raise NotPermitted(_("No transfer of this conversation is waiting for you."))

    return check


def conversation_transfer_accept(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """SUP-6: the agent accepts a supervisor's transfer before it times out: they become the
    primary agent and take its capacity (no override), and the first agent stays on as a
    consultant (the first agent's capacity is released)."""
    first: list[int] = []

    def check(conversation: Conversation, now: datetime) -> None:
        _transfer_offered_to(agent)(conversation, now)
        if conversation.transfer_expires_at is not None and now >= conversation.transfer_expires_at:
            raise ConversationError(_("The transfer timed out."))
        _eligible(agent)(conversation, now)
        first.append(conversation.primary_agent_id)

    with transaction.atomic():
        event = _move(conversation, action=Action.TRANSFER_ACCEPT, actor=agent, agent=agent, check=check)
        conversation.consultants.add(first[0])
        conversation.consultants.remove(agent)
        event.detail["from_agent"] = first[0]
        event.save(update_fields=["detail"])
    return event


def conversation_transfer_reject(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """SUP-6: the agent rejects a supervisor's transfer; the conversation stays where it was."""
    return _move(
        conversation,
        action=Action.TRANSFER_REJECT,
        actor=agent,
        check=_transfer_offered_to(agent),
        changes={"transfer_agent": None, "transfer_expires_at": None},
        detail={"to_agent": agent.pk},
        notify=(agent.pk,),
    )


def conversation_transfer_expire(*, conversation: Conversation) -> ConversationEvent:
    """SUP-6: a transfer its agent did not answer within the workstream's offer timeout lapses;
    the conversation stays where it was."""
    return _move(
        conversation,
        action=Action.TRANSFER_TIMEOUT,
        check=_due("transfer_expires_at", _("The transfer has not timed out yet.")),
        changes={"transfer_agent": None, "transfer_expires_at": None},
        detail={"to_agent": conversation.transfer_agent_id},
        notify=(conversation.transfer_agent_id,) if conversation.transfer_agent_id else (),
    )


def conversation_force_close(
    *, conversation: Conversation, actor: AbstractBaseUser, seen_version: int | None = None
) -> ConversationEvent:
    """SUP-7: after confirming, a supervisor ends a voice or messaging conversation: it is
    Closed, capacity is released, and customer and agent are told a supervisor ended it."""
    return _move(
        conversation,
        action=Action.FORCE_CLOSE,
        actor=actor,
        check=_all(_supervising(actor, switch="allow_force_close"), _unchanged(seen_version)),
    )


# --- messages (ST-11, ST-12) -------------------------------------------------------------


def _same_customer(conversation: Conversation) -> Q:
    return Q(
        workstream_id=conversation.workstream_id,
        contact_id=conversation.contact_id,
        visitor_id=conversation.visitor_id,
        case_id=conversation.case_id,
    )


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput(_("A message cannot be empty."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            _("A message can be at most %(limit)s characters; this one has %(length)s.")
            % {"limit": MAX_MESSAGE_LENGTH, "length": len(body)}
        )
    return body


def _check_sender(
    conversation: Conversation,
    sender_role: SenderRole,
    sender: AbstractBaseUser | None,
    *,
    consultant: bool,
    joined: bool = False,
) -> None:
    if sender_role == SenderRole.AGENT and (
        sender is None or (conversation.primary_agent_id != sender.pk and not consultant)
    ):
        raise NotPermitted(_("Only the conversation's agents can write in it."))
    if sender_role == SenderRole.SUPERVISOR:
        _require_supervisor(sender)
        if not joined:
            raise NotPermitted(_("Join the chat before writing in it."))
    if conversation.state == State.CLOSED and sender_role != SenderRole.CUSTOMER:
        raise ConversationError(_("The conversation is Closed; nothing more can be written in it."))
    if (
        sender_role == SenderRole.CUSTOMER
        and conversation.state == State.WRAP_UP
        and conversation.kind == Kind.LIVE_CHAT
    ):
        raise ConversationError(_("This chat has ended."))


@dataclass(frozen=True)
class Post:
    """A message to store, as a socket, view or webhook received it."""

    conversation_id: int
    sender_role: SenderRole
    body: str
    sender: AbstractBaseUser | None = None
    idempotency_key: str | None = None
    # A customer writing to a Closed conversation starts a new one (ST-12), except from a
    # chat widget, whose token names only this conversation: there the chat has ended.
    may_start_successor: bool = True
    # The socket it came from, which learns of it from its acknowledgement instead of a push.
    origin: str = ""


@dataclass(frozen=True)
class Posted:
    """What became of a Post: the stored message (the earlier one, for a resend), or why not."""

    message: Message | None = None
    error: str = ""
    html: str = ""  # the message's transcript entry, for the sender's acknowledgement


def messages_post(*, posts: list[Post]) -> list[Posted]:
    """Store many messages in one transaction (the chat sockets' group commit), each exactly
    as `message_post` would: the conversation's next sequence, once per idempotency key
    (CH-5), the sender's right to write, sentiment for the customer's (SEN-1). A refused post
    gets its error and the others go ahead. Conversations whose state a message may change
    (Waiting, Closed: ST-11, ST-12) take the single path, after the batch, in order."""
    results: list[Posted | None] = [None] * len(posts)
    slow: list[int] = []
    with transaction.atomic():
        ids = sorted({p.conversation_id for p in posts})
        rows = {c.pk: c for c in _batch_query("locked conversations", ids)}
        _attach(rows.values(), "contact")  # the transcript titles customers' messages with it
        keys = sorted({p.idempotency_key for p in posts if p.idempotency_key})
        stored = {
            (m.conversation_id, m.idempotency_key): m
            for m in (_batch_query("stored messages", ids, keys) if keys else [])
        }
        # Consultants matter only for agents who are not the conversation's primary agent.
        consultants = (
            set(
                Conversation.consultants.through.objects.filter(conversation_id__in=ids).values_list(
                    "conversation_id", "user_id"
                )
            )
            if any(
                p.sender_role == SenderRole.AGENT
                and p.sender is not None
                and p.conversation_id in rows
                and rows[p.conversation_id].primary_agent_id != p.sender.pk
                for p in posts
            )
            else set()
        )
        joined = (
            set(
                Conversation.supervisors.through.objects.filter(conversation_id__in=ids).values_list(
                    "conversation_id", "user_id"
                )
            )
            if any(p.sender_role == SenderRole.SUPERVISOR for p in posts)
            else set()
        )
        new: list[Message] = []
        origins: list[str] = []
        for i, post in enumerate(posts):
            row = rows.get(post.conversation_id)
            if row is None:
                results[i] = Posted(error=_("There is no such conversation."))
                continue
            if row.state == State.CLOSED and not post.may_start_successor:
                results[i] = Posted(error=_("This chat has ended."))
                continue
            if row.state in (State.WAITING, State.CLOSED):
                slow.append(i)
                continue
            key = (row.pk, post.idempotency_key)
            if post.idempotency_key and key in stored:
                stored[key].conversation = row  # its acknowledgement renders it
                results[i] = Posted(stored[key])
                continue
            try:
                body = _clean_body(post.body)
                consultant = post.sender is not None and (row.pk, post.sender.pk) in consultants
                in_chat = post.sender is not None and (row.pk, post.sender.pk) in joined
                _check_sender(row, post.sender_role, post.sender, consultant=consultant, joined=in_chat)
            except ConversationError as error:
                results[i] = Posted(error=str(error))
                continue
            message = _append(
                row, sender_role=post.sender_role, body=body, sender=post.sender, key=post.idempotency_key
            )
            stored[key] = message
            new.append(message)
            origins.append(post.origin)
            results[i] = Posted(message)
        if new:
            _save_messages(rows, new, origins)
    for i in slow:
        post = posts[i]
        try:
            results[i] = Posted(
                message_post(
                    # Whole, not the batch's partial row: the state change reads all of it.
                    conversation=Conversation.objects.get(pk=post.conversation_id),
                    sender_role=post.sender_role,
                    body=post.body,
                    sender=post.sender,
                    idempotency_key=post.idempotency_key,
                )
            )
        except ConversationError as error:
            results[i] = Posted(error=str(error))
    # Rendered here, in the writer's thread: a resent message may still load its sender.
    return [replace(r, html=r.message.html) if r.message else r for r in results]


# The chat writer's queries, compiled by the ORM once per length of their lists and then run as
# raw SQL: compiling them anew was a third of writing a small batch, and a busy chat server
# writes hundreds of batches a second. Conversations bring only what a message needs (the rest
# loads when read): converting the other twenty columns of every row was a tenth of the writer.
_BATCH_QUERIES = {
    "locked conversations": lambda ids: (
        Conversation.objects.select_for_update(of=("self",))
        .only(
            *("state", "workstream", "queue", "contact", "visitor", "case", "primary_agent", "context"),
            *("last_sequence", "sentiment", "sentiment_level"),
        )
        .filter(pk__in=ids)
        .order_by("pk")
    ),
    "workstreams": lambda ids: Workstream.objects.filter(pk__in=ids).order_by(),
    "contacts": lambda ids: Contact.objects.filter(pk__in=ids).order_by(),
    # Unordered: the model's ordering would join the conversations to sort by them.
    "stored messages": lambda ids, keys: Message.objects.filter(
        conversation_id__in=ids, idempotency_key__in=keys
    ).order_by(),
}


@lru_cache(maxsize=512)
def _batch_sql(name: str, alias: str, *sizes: int) -> tuple[type, str, list[str], dict]:
    """The query's model, SQL, selected fields and their converters, as the ORM compiles them."""
    queryset = _BATCH_QUERIES[name](*(range(size) for size in sizes))
    compiler = queryset.query.get_compiler(using=alias)
    sql, _params = compiler.as_sql()
    columns = [column for column, _sql, _alias in compiler.select]
    return queryset.model, sql, [column.target.attname for column in columns], compiler.get_converters(columns)


def _batch_query(name: str, *values: list) -> list:
    """Run one of _BATCH_QUERIES for these lists (free of duplicates, as the ORM passes them):
    its rows as model instances, as the queryset would have made them."""
    model, sql, attnames, converters = _batch_sql(name, connection.alias, *map(len, values))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for each in values for value in each])
        rows = [list(row) for row in cursor.fetchall()]
    for row in rows:
        for position, (functions, expression) in converters.items():
            for convert in functions:
                row[position] = convert(row[position], expression, connection)
    return [model.from_db(connection.alias, attnames, row) for row in rows]


def _attach(rows, name: str) -> None:
    """Load the rows' related object `name` in one query, as select_related would have."""
    wanted = sorted({getattr(row, f"{name}_id") for row in rows} - {None})
    related = {obj.pk: obj for obj in _batch_query(f"{name}s", wanted)} if wanted else {}
    for row in rows:
        if (pk := getattr(row, f"{name}_id")) is not None:
            setattr(row, name, related[pk])


def message_post(
    *,
    conversation: Conversation,
    sender_role: SenderRole,
    body: str,
    sender: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Store a message with the conversation's next sequence number; a resend with the same
    idempotency key returns the stored message instead of a second copy (CH-5).

    A customer writing to a Waiting conversation makes it Open again (ST-11); to a Closed
    one starts a new conversation, because Closed is final (ST-12). Decided on the locked
    row, so a message racing a state change lands in the state that change left."""
    body = _clean_body(body)
    try:
        with transaction.atomic():
            _lock(conversation)
            if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
                return stored
            consultant = sender is not None and conversation.consultants.filter(pk=sender.pk).exists()
            joined = (
                sender_role == SenderRole.SUPERVISOR
                and sender is not None
                and conversation.supervisors.filter(pk=sender.pk).exists()
            )
            _check_sender(conversation, sender_role, sender, consultant=consultant, joined=joined)
            if conversation.state == State.CLOSED:
                conversation = _successor(conversation) or conversation_create(
                    workstream=conversation.workstream,
                    context=conversation.context,
                    contact=conversation.contact,
                    visitor=conversation.visitor,
                    case=conversation.case,
                    detail={"follows": conversation.pk},
                )
                _lock(conversation)
            if conversation.state == State.WAITING:
                if sender_role == SenderRole.CUSTOMER:
                    _move(conversation, action=Action.CUSTOMER_MESSAGE)
                else:
                    # Agent activity restarts the inactivity clock (ST-9); the version bump
                    # makes a timer that read the old deadline lose its claim and re-check.
                    Conversation.objects.filter(pk=conversation.pk).update(
                        waiting_until=timezone.now() + _waiting_period(conversation.workstream),
                        version=F("version") + 1,
                    )
            message = _append(conversation, sender_role=sender_role, body=body, sender=sender, key=idempotency_key)
            _save_messages({conversation.pk: conversation}, [message])
    except IntegrityError:
        # A concurrent resend with the same key committed first; everything here rolled back.
        if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
            return stored
        raise
    return message


def _append(
    conversation: Conversation,
    *,
    sender_role: SenderRole,
    body: str,
    sender: AbstractBaseUser | None = None,
    key: str | None = None,
    notice: Notice | str = "",
) -> Message:
    """The locked conversation's next message, unsaved; scored when the customer wrote it (SEN-1)."""
    conversation.last_sequence += 1
    message = Message(
        conversation=conversation,
        sequence=conversation.last_sequence,
        sender_role=sender_role,
        sender=sender,
        body=body,
        notice=notice,
        idempotency_key=key or None,
    )
    if sender_role == SenderRole.CUSTOMER:
        message.sentiment = sentiment.score(body, language=conversation.context.get("language") or "en")
    return message


def _save_messages(
    conversations: dict[int, Conversation], messages: list[Message], origins: list[str] | None = None
) -> None:
    """Write appended messages, and their conversations' last sequence and rolling sentiment,
    in the caller's transaction; push them after commit. Where the rolling sentiment falls to
    the workstream's alert threshold, record a sentiment alert event (SEN-1)."""
    _insert_messages(messages)
    moves: list[tuple[Conversation, str | None, str]] = []  # each level change: row, before, after
    for message in messages:
        if message.sentiment is None:
            continue
        row = conversations[message.conversation_id]
        before = row.sentiment_level or None
        row.sentiment = sentiment.rolling(row.sentiment, message.sentiment)
        row.sentiment_level = sentiment.level(row.sentiment)
        if before != row.sentiment_level:
            moves.append((row, before, row.sentiment_level))
    # Only a level that moved can cross the threshold: their workstreams alone are read.
    _attach([row for row, *_ in moves if not Conversation.workstream.is_cached(row)], "workstream")
    alerts = {  # the level each alert fell to
        row.pk: (row, after)
        for row, before, after in moves
        if sentiment.crossed(before, after, row.workstream.sentiment_alert_threshold)
    }
    levels_moved = {row.pk for row, *_ in moves}
    _write_heads([conversations[pk] for pk in dict.fromkeys(m.conversation_id for m in messages)])
    if levels_moved:
        pushes.sentiment_changed(sorted(levels_moved))
    if alerts:
        now = timezone.now()
        events = ConversationEvent.objects.bulk_create(
            [
                ConversationEvent(
                    conversation=row,
                    from_state=row.state,
                    to_state=row.state,
                    action=Action.SENTIMENT_ALERT,
                    agent_id=row.primary_agent_id,
                    created_at=now,
                    detail={
                        "level": level,
                        "level_label": str(SentimentLevel(level).label),
                        "threshold": row.workstream.sentiment_alert_threshold,
                    },
                )
                for row, level in alerts.values()
            ]
        )
        pushes.conversations_changed(
            [
                _push(row, event, [row.primary_agent_id] if row.primary_agent_id else [])
                for (row, _level), event in zip(alerts.values(), events, strict=True)
            ]
        )
    pushes.messages_posted(messages, origins)


def _insert_messages(messages: list[Message]) -> None:
    """bulk_create's work for new messages, with each statement's text built once per number of
    rows: at full load the ORM's INSERT compiler took a third of the chat writer's time."""
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        Message.objects.bulk_create(messages)
        return
    fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
    now = timezone.now()
    for message in messages:
        message.created_at = now  # auto_now_add, as bulk_create's pre_save sets it
    size = connection.ops.bulk_batch_size(fields, messages)
    with connection.cursor() as cursor:
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            cursor.execute(
                _insert_sql(connection.vendor, len(chunk)),
                [field.get_db_prep_save(getattr(m, field.attname), connection) for m in chunk for field in fields],
            )
            # Rows come back in the order given, as bulk_create relies on too.
            for message, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                message.pk = pk
                message._state.adding, message._state.db = False, connection.alias


@lru_cache(maxsize=64)
def _insert_sql(vendor: str, rows: int) -> str:
    quote = connection.ops.quote_name
    fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(Message._meta.pk.column)}"
    )


def _write_heads(rows: list[Conversation]) -> None:
    """The conversations' last sequence and rolling sentiment in one prepared statement run per
    row: bulk_update's CASE expressions cost more to build than the whole rest of a batch."""
    fields = [Conversation._meta.get_field(name) for name in ("last_sequence", "sentiment", "sentiment_level")]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Conversation._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s",
            [
                [*(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields), row.pk]
                for row in rows
            ],
        )


@dataclass(frozen=True)
class Mark:
    """How far one side's client has received (delivered) and shown (read) a transcript (CH-3)."""

    conversation_id: int
    customer: bool  # whose client: the customer's, or the agents'
    delivered: int
    read: int


def messages_mark(*, marks: list[Mark]) -> None:
    """Move delivery and read marks forward, never back, and tell the other side after commit.
    Marks only record what a client saw; they change no state, so they need no version."""
    latest: dict[tuple[int, bool], Mark] = {}
    for mark in marks:
        seen = latest.get((mark.conversation_id, mark.customer))
        latest[(mark.conversation_id, mark.customer)] = Mark(
            mark.conversation_id,
            mark.customer,
            max(mark.delivered, mark.read, seen.delivered if seen else 0),
            max(mark.read, seen.read if seen else 0),
        )
    with transaction.atomic():
        # In conversation order, as messages_post locks them, so the two cannot deadlock.
        for mark in sorted(latest.values(), key=lambda mark: mark.conversation_id):
            side = "customer" if mark.customer else "agent"
            delivered, read = f"{side}_delivered_sequence", f"{side}_read_sequence"
            Conversation.objects.filter(pk=mark.conversation_id).update(
                **{
                    delivered: Greatest(F(delivered), Least(mark.delivered, F("last_sequence"))),
                    read: Greatest(F(read), Least(mark.read, F("last_sequence"))),
                }
            )
        pushes.messages_marked(list(latest.values()))


def _successor(closed: Conversation) -> Conversation | None:
    """The conversation a message to this Closed one already started, if it is still going."""
    return (
        Conversation.objects.filter(_same_customer(closed), pk__gt=closed.pk)
        .exclude(state=State.CLOSED)
        .order_by("-pk")
        .first()
    )


def _stored_message(conversation: Conversation, sender_role: SenderRole, idempotency_key: str) -> Message | None:
    """The message already stored under this key: for a customer, also in a conversation a
    message to the Closed one started (ST-12), so a resend does not start a second."""
    if sender_role == SenderRole.CUSTOMER:
        scope = Q(conversation__in=Conversation.objects.filter(_same_customer(conversation), pk__gte=conversation.pk))
    else:
        scope = Q(conversation=conversation)
    return Message.objects.filter(scope, idempotency_key=idempotency_key).first()


# --- records (REC-1, ST-6) ----------------------------------------------------------------

MAX_CASE_TITLE_LENGTH = Case._meta.get_field("title").max_length


def _clean_case_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput(_("Give the case a title."))
    if len(title) > MAX_CASE_TITLE_LENGTH:
        raise InvalidInput(
            _("A case title can be at most %(limit)s characters; this one has %(length)s.")
            % {"limit": MAX_CASE_TITLE_LENGTH, "length": len(title)}
        )
    return title


def _require_conversation_worker(conversation: Conversation, actor: AbstractBaseUser) -> None:
    """The conversation's agent, one of its consultants, or a supervisor."""
    if conversation.primary_agent_id == actor.pk or is_supervisor(actor):
        return
    if not conversation.consultants.filter(pk=actor.pk).exists():
        raise NotPermitted(_("Only the conversation's agents or a supervisor can change its case."))


def _case_event(
    conversation: Conversation, *, action: Action, actor: AbstractBaseUser, case: Case, detail: dict[str, Any]
) -> ConversationEvent:
    """Record a change to the conversation's case in its timeline and push it after commit;
    the state does not move."""
    event = ConversationEvent.objects.create(
        conversation=conversation,
        from_state=conversation.state,
        to_state=conversation.state,
        action=action,
        actor=actor,
        agent_id=conversation.primary_agent_id,
        created_at=timezone.now(),
        detail={"case": case.pk, "case_title": case.title, **detail},
    )
    agents = [conversation.primary_agent_id] if conversation.primary_agent_id else []
    pushes.conversations_changed([_push(conversation, event, agents)])
    return event


def _set_case(conversation: Conversation, *, case: Case, action: Action, actor: AbstractBaseUser) -> ConversationEvent:
    """Link the locked conversation to `case`, claiming it on its version."""
    previous = conversation.case
    if not Conversation.objects.filter(pk=conversation.pk, version=conversation.version).update(
        case=case, version=conversation.version + 1
    ):
        raise ConcurrentChange(_("The conversation changed meanwhile; try again."))
    conversation.case, conversation.version = case, conversation.version + 1
    detail = {"previous_case_title": previous.title} if previous else {}
    return _case_event(conversation, action=action, actor=actor, case=case, detail=detail)


def _check_case_change(conversation: Conversation, actor: AbstractBaseUser, action: Action) -> None:
    if not actor.has_perm("conversations.add_case") or not actor.has_perm("conversations.change_case"):
        raise NotPermitted(_("You may not work with cases."))
    if conversation.kind == Kind.RECORD:
        raise InvalidInput(_("This work item is its case; it cannot be linked to another."))
    if conversation.state == State.CLOSED:
        # Refused as the table refuses moves (ST-13): naming the action and the state.
        raise IllegalTransition(
            state=State.CLOSED, action=action, why=str(_("Closed conversations are final and cannot be reopened."))
        )
    _require_conversation_worker(conversation, actor)


def conversation_case_create(*, conversation: Conversation, actor: AbstractBaseUser, title: str) -> Case:
    """REC-1: create an active case for the conversation's customer (their contact and its
    account) and link the conversation to it, replacing any earlier link. Its agents, its
    consultants or a supervisor may; not on a Closed conversation or a record work item."""
    title = _clean_case_title(title)
    with transaction.atomic():
        _lock(conversation)
        _check_case_change(conversation, actor, Action.CASE_CREATE)
        contact = conversation.contact
        case = Case.objects.create(title=title, contact=contact, account=contact.account if contact else None)
        _set_case(conversation, case=case, action=Action.CASE_CREATE, actor=actor)
    return case


def conversation_case_link(*, conversation: Conversation, case: Case, actor: AbstractBaseUser) -> ConversationEvent:
    """REC-1: link the conversation to an existing active case of the same customer (their
    contact's or their account's), replacing any earlier link. Same rights as creating one."""
    with transaction.atomic():
        _lock(conversation)
        _check_case_change(conversation, actor, Action.CASE_LINK)
        # Another customer's case is refused before anything about it, its title included, is told.
        if not customer_cases(conversation).filter(pk=case.pk).exists():
            raise NotPermitted(_("That case belongs to another customer."))
        case = Case.objects.select_for_update().get(pk=case.pk)
        if conversation.case_id == case.pk:
            raise InvalidInput(_("The conversation is already linked to the case “%(title)s”.") % {"title": case.title})
        if case.is_closed:
            raise ConversationError(
                _("The case “%(title)s” is %(status)s; only active cases can be linked.")
                % {"title": case.title, "status": case.get_status_display()}
            )
        return _set_case(conversation, case=case, action=Action.CASE_LINK, actor=actor)


def _require_case_worker(case: Case, actor: AbstractBaseUser) -> None:
    """Agents change the cases of conversations they work on (as agent or consultant);
    supervisors any case."""
    if not actor.has_perm("conversations.change_case"):
        raise NotPermitted(_("You may not change cases."))
    if is_supervisor(actor):
        return
    if not Conversation.objects.filter(Q(primary_agent=actor) | Q(consultants=actor), case=case).exists():
        raise NotPermitted(_("Only an agent working this case, or a supervisor, can change it."))


def case_update(*, case: Case, actor: AbstractBaseUser, title: str, status: str) -> Case:
    """REC-1: change a case's title and status. Resolving or cancelling it (making it
    inactive) lets its record work item close with its session (ST-6); an inactive case
    can be made active again. Every conversation of the case still going records the change."""
    title = _clean_case_title(title)
    if status not in CaseStatus.values:
        raise InvalidInput(_("“%(status)s” is not a case status.") % {"status": status})
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        changes = {
            name: (getattr(current, name), value)
            for name, value in (("title", title), ("status", status))
            if getattr(current, name) != value
        }
        if not changes:
            return current
        claimed = Case.objects.filter(pk=current.pk, title=current.title, status=current.status).update(
            **{name: new for name, (_old, new) in changes.items()}
        )
        if not claimed:
            raise ConcurrentChange(_("The case changed meanwhile; try again."))
        current.title, current.status = title, status
        detail = {"changes": {name: list(pair) for name, pair in changes.items()}}
        if "status" in changes:
            detail["status_label"] = str(current.get_status_display())
        for conversation in current.conversations.exclude(state=State.CLOSED).order_by("pk"):
            _case_event(conversation, action=Action.CASE_UPDATE, actor=actor, case=current, detail=detail)
    case.title, case.status = current.title, current.status
    return case


def case_resolve(*, case: Case, actor: AbstractBaseUser) -> Case:
    """Resolve an active case, so that closing its session closes its record work item (ST-6).
    Agents resolve the cases of conversations they work on; supervisors any case."""
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        if current.status != CaseStatus.ACTIVE:
            raise ConversationError(_("The case “%(title)s” is not active.") % {"title": current.title})
        return case_update(case=case, actor=actor, title=current.title, status=CaseStatus.RESOLVED)


def case_route(*, case: Case, actor: AbstractBaseUser, workstream: Workstream) -> Conversation:
    """MSG-2: make an active case a record work item, routed like any other work (the case
    workstream's routing rules by its context, else its default queue). One going record work
    item per case; resolving the case and closing its session closes it (ST-6)."""
    if workstream.kind != Kind.RECORD:
        raise InvalidInput(_("The workstream %(workstream)s does not handle cases.") % {"workstream": workstream})
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        if current.status != CaseStatus.ACTIVE:
            raise ConversationError(
                _("The case “%(title)s” is %(status)s; only active cases become work items.")
                % {"title": current.title, "status": current.get_status_display()}
            )
        if (
            Conversation.objects.filter(case=current, workstream__channel=Channel.CASE)
            .exclude(state=State.CLOSED)
            .exists()
        ):
            raise ConversationError(_("The case “%(title)s” is already a work item.") % {"title": current.title})
        return conversation_create(
            workstream=workstream,
            case=current,
            contact=current.contact,
            actor=actor,
            # What routing rules can read of a case, as customer attributes (RT-1).
            context={"customer": {"case_title": current.title, "account": str(current.account or "")}},
        )


# --- knowledge (KB-1) -----------------------------------------------------------------------


def conversation_article_send(
    *, conversation: Conversation, agent: AbstractBaseUser, article: Article, url: str
) -> Message:
    """KB-1: the agent sends a published article's title and link (`url`, absolute) into the
    conversation's transcript, as their own message through `message_post`."""
    if conversation.kind not in (Kind.LIVE_CHAT, Kind.MESSAGING):
        raise InvalidInput(_("Articles can be sent only in chat and messaging conversations."))
    if not Article.objects.filter(pk=article.pk, published=True).exists():
        raise InvalidInput(_("The article “%(title)s” is not published.") % {"title": article.title})
    return message_post(
        conversation=conversation, sender_role=SenderRole.AGENT, sender=agent, body=f"{article.title}\n{url}"
    )
