"""The one front door for every change to a conversation.

Views, consumers, timers, the demo loader and tests all call these functions. Each checks
who may act, asks the transition table (`states.next_state`), claims the row with a
conditional UPDATE on its version, holds or frees capacity (`capacity.capacity_hold`),
writes a ConversationEvent and schedules the push for after commit. A refused action
raises a ConversationError whose message names the problem, and changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import pushes
from .capacity import Hold, capacity_hold, fits, units_over
from .errors import CapacityExceeded, ConcurrentChange, ConversationError, InvalidInput, NotPermitted
from .models import (
    AgentProfile,
    Case,
    CaseStatus,
    Contact,
    Conversation,
    ConversationEvent,
    Message,
    PresenceBase,
    Queue,
    SenderRole,
    Visitor,
    Workstream,
)
from .selectors import capacity_in_use, is_supervisor
from .states import Action, Facts, Kind, State, next_state

MAX_MESSAGE_LENGTH = 4000
CLAIM_ATTEMPTS = 3
EXTERNAL_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
_KEEP = object()


# --- the transition engine -------------------------------------------------------------


def _facts(conversation: Conversation) -> Facts:
    return Facts(
        state=State(conversation.state),
        kind=conversation.kind,
        accepted=conversation.accepted_at is not None,
        persistent=conversation.workstream.persistent_chat,
        case_closed=bool(conversation.case_id and conversation.case.is_closed),
    )


def _waiting_period(workstream: Workstream) -> timedelta:
    if workstream.kind == Kind.LIVE_CHAT:
        return timedelta(days=workstream.persistent_chat_days)
    return timedelta(minutes=workstream.waiting_timeout_minutes)


def _reserve_capacity(
    *, agent: AbstractBaseUser, units: int, override: bool, now: datetime, conversation_id: int
) -> int:
    """Check the agent can take `units` more; return the units over capacity an override allows."""
    # Locking the profile row serialises every assignment to one agent on PostgreSQL;
    # on SQLite the IMMEDIATE transaction already holds the database's write lock.
    profile = AgentProfile.objects.select_for_update().filter(user=agent).first()
    if profile is None:
        raise NotPermitted(_("%(user)s is not an agent.") % {"user": agent})
    in_use = capacity_in_use(agent_id=agent.pk, now=now, exclude_conversation_id=conversation_id)
    if fits(capacity=profile.capacity, in_use=in_use, units=units):
        return 0
    if not override:
        raise CapacityExceeded(
            _("%(agent)s has %(free)s free capacity units; this conversation needs %(units)s.")
            % {"agent": profile, "free": max(0, profile.capacity - in_use), "units": units}
        )
    return units_over(capacity=profile.capacity, in_use=in_use, units=units)


def _try_move(
    conversation: Conversation,
    *,
    action: Action,
    actor: AbstractBaseUser | None,
    agent: Any,
    override: bool,
    changes: dict[str, Any],
    detail: dict[str, Any],
    now: datetime,
) -> ConversationEvent | None:
    rule = next_state(action, _facts(conversation))
    source, target = State(conversation.state), rule.target
    previous_agent_id = conversation.primary_agent_id
    new_agent = conversation.primary_agent if agent is _KEEP else agent
    if target == State.OPEN:
        new_agent = None  # back in the queue: nobody holds it
    workstream = conversation.workstream

    held = Hold(conversation.capacity_units, conversation.capacity_release_at).held_at(now)
    already_holding = bool(held) and new_agent is not None and new_agent.pk == previous_agent_id
    hold = capacity_hold(
        state=target,
        has_agent=new_agent is not None,
        units=held if already_holding else workstream.capacity_units,
        wrap_up_block=workstream.wrap_up_block,
        wrap_up_block_minutes=workstream.wrap_up_block_minutes,
        now=now,
    )
    over = 0
    if hold.units and not already_holding:
        over = _reserve_capacity(
            agent=new_agent, units=hold.units, override=override, now=now, conversation_id=conversation.pk
        )

    fields: dict[str, Any] = {
        "state": target,
        "primary_agent": new_agent,
        "capacity_units": hold.units,
        "capacity_release_at": hold.release_at,
        "capacity_override": bool(hold.units) and (over > 0 or (already_holding and conversation.capacity_override)),
        "version": conversation.version + 1,
    }
    if target != source:
        fields["state_changed_at"] = now
        fields["waiting_until"] = now + _waiting_period(workstream) if target == State.WAITING else None
    if target == State.OPEN:
        fields["accepted_at"] = None
    if new_agent is not None or target == State.OPEN:
        fields["external_party"] = ""  # an agent or the queue has it back: one primary party (ST-22)
    fields.update(changes)

    claimed = Conversation.objects.filter(pk=conversation.pk, version=conversation.version).update(**fields)
    if not claimed:
        return None
    for name, value in fields.items():
        setattr(conversation, name, value)

    event = ConversationEvent.objects.create(
        conversation=conversation,
        from_state=source,
        to_state=target,
        action=action,
        actor=actor,
        agent=new_agent,
        created_at=now,
        detail={"rule": rule.spec, **detail, **({"units_over_capacity": over} if over else {})},
    )
    pushes.conversation_changed(
        conversation_id=conversation.pk,
        event_id=event.pk,
        state=target,
        agent_ids=[pk for pk in {previous_agent_id, conversation.primary_agent_id} if pk],
    )
    return event


def _move(
    conversation: Conversation,
    *,
    action: Action,
    actor: AbstractBaseUser | None = None,
    agent: Any = _KEEP,
    override: bool = False,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> ConversationEvent:
    """Apply one rule of the table. If another writer changed the row first, re-read it and
    ask the table again, so a loser's error names the state it actually found."""
    for _attempt in range(CLAIM_ATTEMPTS):
        with transaction.atomic():
            event = _try_move(
                conversation,
                action=action,
                actor=actor,
                agent=agent,
                override=override,
                changes=changes or {},
                detail=detail or {},
                now=timezone.now(),
            )
        if event is not None:
            return event
        conversation.refresh_from_db()
        if conversation.case_id:
            conversation.case.refresh_from_db()
    raise ConcurrentChange(_("The conversation is changing right now; try again."))


# --- checks shared by several actions --------------------------------------------------


def _require_primary(conversation: Conversation, agent: AbstractBaseUser) -> None:
    if conversation.primary_agent_id != agent.pk:
        raise NotPermitted(_("Only the conversation's agent can do this."))


def _require_primary_or_supervisor(conversation: Conversation, actor: AbstractBaseUser) -> None:
    if conversation.primary_agent_id != actor.pk and not is_supervisor(actor):
        raise NotPermitted(_("Only the conversation's agent or a supervisor can do this."))


def _require_eligible(conversation: Conversation, agent: AbstractBaseUser) -> None:
    """RT-2: a member of the conversation's queue, showing a presence the workstream allows."""
    if not conversation.queue.members.filter(pk=agent.pk).exists():
        raise NotPermitted(
            _("%(agent)s is not a member of the queue %(queue)s.") % {"agent": agent, "queue": conversation.queue}
        )
    profile = AgentProfile.objects.select_related("presence").filter(user=agent).first()
    if profile is None:
        raise NotPermitted(_("%(user)s is not an agent.") % {"user": agent})
    allowed = conversation.workstream.allowed_presences.all()
    # No list configured: every presence but Offline may receive work.
    permitted = profile.presence in allowed if allowed else profile.presence.base != PresenceBase.OFFLINE
    if not permitted:
        raise NotPermitted(
            _("%(agent)s is %(presence)s, which this workstream does not allow.")
            % {"agent": profile, "presence": profile.presence}
        )


def _require_supervisor(actor: AbstractBaseUser | None) -> None:
    if actor is None or not is_supervisor(actor):
        raise NotPermitted(_("Only a supervisor can do this."))


# --- creation and assignment (ST-1, RT-3, RT-4) ------------------------------------------


def conversation_create(
    *,
    workstream: Workstream,
    queue: Queue | None = None,
    contact: Contact | None = None,
    visitor: Visitor | None = None,
    case: Case | None = None,
    actor: AbstractBaseUser | None = None,
    detail: dict[str, Any] | None = None,
) -> Conversation:
    """Create an Open conversation in `queue`, or the workstream's default queue."""
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            workstream=workstream,
            queue=queue or workstream.default_queue,
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
            detail=detail or {},
        )
        pushes.conversation_changed(conversation_id=conversation.pk, event_id=event.pk, state=State.OPEN, agent_ids=[])
    return conversation


def conversation_pick(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1, RT-4: an eligible agent picks an Open work item; it is theirs, accepted, at once."""
    _require_eligible(conversation, agent)
    return _move(conversation, action=Action.PICK, actor=agent, agent=agent, changes={"accepted_at": timezone.now()})


def conversation_offer(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1, RT-2: distribution offers an Open conversation to an eligible agent; it becomes
    Active and reserves their capacity until they accept or reject (RT-3)."""
    _require_eligible(conversation, agent)
    return _move(conversation, action=Action.OFFER, agent=agent)


def conversation_accept(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-1: the offered agent accepts."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.ACCEPT, actor=agent, changes={"accepted_at": timezone.now()})


def conversation_reject(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """RT-3: the offered agent rejects; the conversation is Open again for the next agent."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.REJECT, actor=agent, detail={"rejected_by": agent.pk})


def conversation_offer_expire(*, conversation: Conversation) -> ConversationEvent:
    """RT-3: an offer not accepted within the workstream's offer timeout returns to Open."""
    deadline = conversation.state_changed_at + timedelta(seconds=conversation.workstream.offer_timeout_seconds)
    if conversation.accepted_at is None and timezone.now() < deadline:
        raise ConversationError(_("The offer has not timed out yet."))
    return _move(conversation, action=Action.OFFER_TIMEOUT, detail={"offered_to": conversation.primary_agent_id})


def conversation_assign(
    *, conversation: Conversation, agent: AbstractBaseUser, actor: AbstractBaseUser | None, override: bool = False
) -> ConversationEvent:
    """ST-1: a supervisor assigns an Open conversation to an agent (SUP-5), or distribution
    does with auto-accept (actor None). Only a supervisor may override presence and capacity."""
    if actor is not None or override:
        _require_supervisor(actor)
    if not override:
        _require_eligible(conversation, agent)
    return _move(
        conversation,
        action=Action.ASSIGN,
        actor=actor,
        agent=agent,
        override=override,
        changes={"accepted_at": timezone.now()},
    )


# --- ending and closing (ST-2 to ST-9, ST-21, ST-24) -------------------------------------


def conversation_end(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-3: the agent selects End; the conversation goes to Wrap-up."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.AGENT_END, actor=agent)


def conversation_customer_end(*, conversation: Conversation) -> ConversationEvent:
    """The customer selects End in the chat: Closed before an agent accepted it (ST-2, ST-7),
    Wrap-up after (ST-3)."""
    return _move(conversation, action=Action.CUSTOMER_END)


def conversation_customer_disconnect(*, conversation: Conversation) -> ConversationEvent:
    """The live-chat customer is gone: Closed before an agent accepted it (ST-2, ST-7),
    Wrap-up after (ST-21)."""
    return _move(conversation, action=Action.CUSTOMER_DISCONNECT)


def conversation_release(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-4: the agent releases the conversation back to its queue."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.RELEASE, actor=agent, detail={"released_by": agent.pk})


def conversation_agent_reconnect_timeout(*, conversation: Conversation) -> ConversationEvent:
    """ST-4: the agent disconnected and did not come back within the workstream's timeout."""
    return _move(
        conversation,
        action=Action.AGENT_RECONNECT_TIMEOUT,
        detail={"disconnected_agent": conversation.primary_agent_id},
    )


def conversation_close_session(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """The agent closes the conversation's session. Where it goes depends on state and kind:
    live chat Active → Open (ST-4), or Waiting when persistent (ST-24); messaging Active →
    Waiting (ST-5); a record with its case resolved → Closed (ST-6); Wrap-up → Closed (ST-8)."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.CLOSE_SESSION, actor=agent)


def conversation_inactivity_timeout(*, conversation: Conversation) -> ConversationEvent:
    """ST-9 (and the end of a persistent chat's period, ST-24): a Waiting conversation with
    no activity until its deadline is closed."""
    if conversation.waiting_until is not None and timezone.now() < conversation.waiting_until:
        raise ConversationError(_("The conversation has had activity within its inactivity timeout."))
    return _move(conversation, action=Action.INACTIVITY_TIMEOUT)


def conversation_resume(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-10: the agent resumes a Waiting conversation from My work items."""
    _require_primary(conversation, agent)
    return _move(conversation, action=Action.RESUME, actor=agent)


# --- transfers (ST-4, ST-22) --------------------------------------------------------------


def conversation_transfer_to_queue(
    *, conversation: Conversation, queue: Queue, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-4, ST-22: to another queue; the conversation is Open there and the agent's capacity freed."""
    _require_primary_or_supervisor(conversation, actor)
    if queue.pk == conversation.queue_id:
        raise InvalidInput(_("The conversation is already in the queue %(queue)s.") % {"queue": queue})
    return _move(
        conversation,
        action=Action.TRANSFER_TO_QUEUE,
        actor=actor,
        changes={"queue": queue},
        detail={"from_queue": conversation.queue_id, "to_queue": queue.pk},
    )


def conversation_transfer_to_agent(
    *, conversation: Conversation, to_agent: AbstractBaseUser, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-22: a voice call to another agent stays Active with them as primary; the first
    agent's capacity is released at once."""
    _require_primary_or_supervisor(conversation, actor)
    if to_agent.pk == conversation.primary_agent_id:
        raise InvalidInput(_("The call is already with %(agent)s.") % {"agent": to_agent})
    _require_eligible(conversation, to_agent)
    return _move(
        conversation,
        action=Action.TRANSFER_TO_AGENT,
        actor=actor,
        agent=to_agent,
        detail={"from_agent": conversation.primary_agent_id},
    )


def conversation_transfer_to_external(
    *, conversation: Conversation, number: str, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-22: a voice call to an external number stays Active with the external party as
    primary; the agent's capacity is released at once."""
    _require_primary_or_supervisor(conversation, actor)
    number = number.strip()
    if not EXTERNAL_NUMBER.match(number):
        raise InvalidInput(_("“%(number)s” is not a phone number.") % {"number": number})
    return _move(
        conversation,
        action=Action.TRANSFER_TO_EXTERNAL,
        actor=actor,
        agent=None,
        changes={"external_party": number},
        detail={"from_agent": conversation.primary_agent_id, "number": number},
    )


# --- messages (ST-11, ST-12) -------------------------------------------------------------


def _same_customer(conversation: Conversation) -> Q:
    return Q(
        workstream_id=conversation.workstream_id,
        contact_id=conversation.contact_id,
        visitor_id=conversation.visitor_id,
        case_id=conversation.case_id,
    )


def _check_message(*, conversation: Conversation, sender_role: SenderRole, sender, body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput(_("A message cannot be empty."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            _("A message can be at most %(limit)s characters; this one has %(length)s.")
            % {"limit": MAX_MESSAGE_LENGTH, "length": len(body)}
        )
    if sender_role == SenderRole.AGENT and (
        sender is None
        or (conversation.primary_agent_id != sender.pk and not conversation.consultants.filter(pk=sender.pk).exists())
    ):
        raise NotPermitted(_("Only the conversation's agents can write in it."))
    if sender_role == SenderRole.SUPERVISOR:
        _require_supervisor(sender)
    if conversation.state == State.CLOSED and sender_role != SenderRole.CUSTOMER:
        raise ConversationError(_("The conversation is Closed; nothing more can be written in it."))
    return body


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
    one starts a new conversation, because Closed is final (ST-12)."""
    body = _check_message(conversation=conversation, sender_role=sender_role, sender=sender, body=body)
    if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
        return stored
    try:
        with transaction.atomic():
            if conversation.state == State.CLOSED:
                conversation = _successor(conversation) or conversation
            if conversation.state == State.CLOSED:
                conversation = conversation_create(
                    workstream=conversation.workstream,
                    contact=conversation.contact,
                    visitor=conversation.visitor,
                    case=conversation.case,
                    detail={"follows": conversation.pk},
                )
            elif conversation.state == State.WAITING:
                if sender_role == SenderRole.CUSTOMER:
                    _move(conversation, action=Action.CUSTOMER_MESSAGE)
                else:
                    # Agent activity restarts the inactivity clock (ST-9).
                    Conversation.objects.filter(pk=conversation.pk).update(
                        waiting_until=timezone.now() + _waiting_period(conversation.workstream)
                    )
            Conversation.objects.filter(pk=conversation.pk).update(last_sequence=F("last_sequence") + 1)
            sequence = Conversation.objects.values_list("last_sequence", flat=True).get(pk=conversation.pk)
            message = Message.objects.create(
                conversation=conversation,
                sequence=sequence,
                sender_role=sender_role,
                sender=sender,
                body=body,
                idempotency_key=idempotency_key or None,
            )
            pushes.message_posted(conversation_id=conversation.pk, sequence=sequence)
    except IntegrityError:
        # A concurrent resend with the same key committed first; everything here rolled back.
        if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
            return stored
        raise
    conversation.last_sequence = sequence
    return message


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


# --- records (ST-6) ------------------------------------------------------------------------


def case_resolve(*, case: Case, actor: AbstractBaseUser) -> Case:
    """Resolve an active case, so that closing its session closes its record work item (ST-6)."""
    if not actor.has_perm("conversations.change_case"):
        raise NotPermitted(_("You may not resolve cases."))
    if not Case.objects.filter(pk=case.pk, status=CaseStatus.ACTIVE).update(status=CaseStatus.RESOLVED):
        raise ConversationError(_("The case “%(title)s” is not active.") % {"title": case.title})
    case.status = CaseStatus.RESOLVED
    return case
