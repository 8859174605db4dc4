"""Creating work and handing it to an agent (ST-1, ST-10, RT-1 to RT-4): routing a new
conversation to a queue, offers (one, or distribution's batch), accept, reject, the offer's
timeout, pick, and resuming Waiting work."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import routing
from ..errors import ConversationError
from ..models import (
    AgentConnection,
    AgentProfile,
    Case,
    Contact,
    Conversation,
    ConversationEvent,
    Queue,
    RoutingRule,
    Visitor,
    Workstream,
)
from ..routing import Standing
from ..selectors import allowed_presences_by_workstream, capacity_in_use_by_agent, connection_fresh_since
from ..states import Action, State
from .checks import due, eligible, primary, require_standing
from .events import NewEvent, events_record
from .presence import agent_capacity_changed
from .transcript import messages_save, notice_for
from .transitions import Plan, move, plan_transition, planned_event


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
    first_agent: AbstractBaseUser | None = None,
) -> Conversation:
    """Create an Open conversation. Without an explicit queue, the workstream's routing rules
    choose one by the conversation's context; unmatched ones go to the default queue (RT-1).
    `first_agent` is offered it first while eligible, as a returning customer's last agent is (RT-5)."""
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
            last_agent=first_agent,
            state=State.OPEN,
            state_changed_at=now,
        )
        events_record(
            events=[NewEvent(conversation=conversation, action=Action.CREATE, actor=actor, from_state="", detail=detail)],
            now=now,
        )
    return conversation


def conversation_pick(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1, RT-4: an eligible agent picks an Open work item; it is theirs, accepted, at once."""
    return move(
        conversation,
        action=Action.PICK,
        actor=agent,
        agent=agent,
        check=eligible(agent),
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
        event = move(
            conversation,
            action=Action.ASSIGN if conversation.workstream.auto_accept else Action.OFFER,
            agent=agent,
            check=eligible(agent),
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
        planned: list[tuple[Conversation, Plan, Action, Offer]] = []
        for offer in offers:
            row = rows.get(offer.conversation.pk)
            if row is None:
                continue
            action = Action.ASSIGN if row.workstream.auto_accept else Action.OFFER

            def standing(conversation: Conversation, now: datetime, agent=offer.agent) -> None:
                profile = profiles.get(agent.pk)
                require_standing(
                    conversation,
                    agent,
                    Standing(
                        is_agent=profile is not None,
                        member=(conversation.queue_id, agent.pk) in members,
                        presence_allowed=profile is not None
                        and routing.presence_allowed(
                            presence_id=profile.presence_id,
                            base=profile.presence.base,
                            allowed=allowed[conversation.workstream_id],
                        ),
                        connected=agent.pk in connected,
                        presence=str(profile.presence) if profile else "",
                    ),
                )

            try:
                plan = plan_transition(
                    row,
                    action=action,
                    agent=offer.agent,
                    override=False,
                    check=standing,
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
        notices = [
            notice
            for row, plan, action, offer in planned
            if (notice := notice_for(row, action=action, agent_id=offer.agent.pk, previous_agent_id=None))
        ]
        if notices:
            messages_save(rows, notices)
        offered = {offer.agent.pk for *_, offer in planned}
        AgentProfile.objects.filter(user_id__in=offered).update(last_offered_at=now)
        for agent_id in offered:
            agent_capacity_changed(agent_id=agent_id, now=now, profile=profiles[agent_id], in_use=load[agent_id])
        events = events_record(
            events=[
                planned_event(row, plan, action=action, actor=None, detail=_offer_detail(row, offer))
                for row, plan, action, offer in planned
            ],
            now=now,
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
    return move(
        conversation,
        action=Action.ACCEPT,
        actor=agent,
        check=primary(agent),
        changes={"accepted_at": timezone.now(), "offer_expires_at": None},
    )


def conversation_reject(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """RT-3: the offered agent rejects; the conversation is Open again for the next agent."""
    return move(
        conversation, action=Action.REJECT, actor=agent, check=primary(agent), detail={"declined_by": agent.pk}
    )


def conversation_offer_expire(*, conversation: Conversation) -> ConversationEvent:
    """RT-3: an offer not accepted within the workstream's offer timeout returns to Open."""
    return move(
        conversation,
        action=Action.OFFER_TIMEOUT,
        check=due("offer_expires_at", _("The offer has not timed out yet.")),
        detail={"declined_by": conversation.primary_agent_id},
    )



def conversation_resume(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-10: the agent resumes a Waiting conversation from My work items."""
    return move(conversation, action=Action.RESUME, actor=agent, check=primary(agent))

