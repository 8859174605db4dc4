"""Reads: each page or rule asks here, with its joins done up front so a page costs a fixed
number of queries however many rows it shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet, Sum

from .capacity import units_over
from .models import (
    AgentProfile,
    CannedResponse,
    Conversation,
    ConversationEvent,
    Message,
    PreChatQuestion,
    Queue,
    Workstream,
)
from .routing import presence_allowed
from .states import SUPERVISOR_SWITCHES, Action, Facts, State, channels_where, supervisor_actions

ONGOING = ~Q(state=State.CLOSED)
SUPERVISOR_SWITCH_NAMES = set(SUPERVISOR_SWITCHES.values())


def is_supervisor(user) -> bool:
    return user.has_perm("conversations.supervise_conversation")


def is_agent(user) -> bool:
    return user.has_perm("conversations.work_conversation")


def holding_capacity(now: datetime) -> Q:
    """Conversations whose capacity hold is still in force at `now` (the one definition, ST-20)."""
    return Q(capacity_units__gt=0) & (Q(capacity_release_at__isnull=True) | Q(capacity_release_at__gt=now))


def capacity_in_use(*, agent_id: int, now: datetime, exclude_conversation_id: int | None = None) -> int:
    rows = Conversation.objects.filter(holding_capacity(now), primary_agent_id=agent_id)
    if exclude_conversation_id is not None:
        rows = rows.exclude(pk=exclude_conversation_id)
    return rows.aggregate(total=Sum("capacity_units"))["total"] or 0


def capacity_in_use_by_agent(*, agent_ids: list[int], now: datetime) -> dict[int, int]:
    """capacity_in_use for many agents in one query."""
    rows = (
        Conversation.objects.filter(holding_capacity(now), primary_agent__in=agent_ids)
        .values("primary_agent")
        .annotate(total=Sum("capacity_units"))
    )
    return {row["primary_agent"]: row["total"] for row in rows}


def allowed_presences_by_workstream(workstream_ids: set[int]) -> dict[int, set[int]]:
    """Each workstream's allowed presence ids (empty: any but Offline, see routing.presence_allowed)."""
    allowed: dict[int, set[int]] = {pk: set() for pk in workstream_ids}
    through = Workstream.allowed_presences.through.objects.filter(workstream_id__in=workstream_ids)
    for workstream_id, presence_id in through.values_list("workstream_id", "presence_id"):
        allowed[workstream_id].add(presence_id)
    return allowed


def connection_fresh_since(now: datetime) -> datetime:
    """Connections heard from since then are alive; older ones belong to a dead process."""
    return now - timedelta(seconds=settings.OMNICHANNEL["CONNECTION_STALE_SECONDS"])


def conversations_visible_to(user) -> QuerySet[Conversation]:
    """SEC-1: supervisors see every conversation; an agent sees their own (and those they
    consult on) and the Open work waiting in their queues, not colleagues' conversations."""
    rows = Conversation.objects.all()
    if is_supervisor(user):
        return rows
    if not is_agent(user):
        return rows.none()
    return rows.filter(
        Q(primary_agent=user) | Q(consultants=user) | Q(queue__members=user, state=State.OPEN)
    ).distinct()


def visible_conversation_ids(user, conversations: Iterable[Conversation]) -> set[int]:
    """Which of these loaded conversations the user may see, as conversations_visible_to says
    (SEC-1): an agent's own need no query, the others one between them, and only when there are any."""
    ids = {conversation.pk for conversation in conversations}
    if is_supervisor(user):
        return ids
    if not is_agent(user):
        return set()
    own = {conversation.pk for conversation in conversations if conversation.primary_agent_id == user.pk}
    if own == ids:
        return own
    return own | set(conversations_visible_to(user).filter(pk__in=ids - own).values_list("pk", flat=True))


def _with_display_joins(rows: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return rows.select_related("workstream", "queue", "contact", "case", "primary_agent")


def conversation_for_page(*, user, pk: int) -> Conversation:
    """The conversation with its timeline, or Conversation.DoesNotExist when the user may not see it."""
    events = ConversationEvent.objects.select_related("actor", "agent").order_by("id")
    return (
        _with_display_joins(conversations_visible_to(user))
        .prefetch_related(Prefetch("events", queryset=events))
        .get(pk=pk)
    )


def my_work_items(user) -> QuerySet[Conversation]:
    """The agent's accepted Active, Wrap-up and Waiting conversations (SES-2 "My work items")."""
    return _with_display_joins(
        Conversation.objects.filter(primary_agent=user, state__in=[State.ACTIVE, State.WRAP_UP, State.WAITING]).exclude(
            state=State.ACTIVE, accepted_at__isnull=True
        )
    ).order_by("-state_changed_at")


CLOSED_WORK_ITEMS_SHOWN = 20


def closed_work_items(user) -> QuerySet[Conversation]:
    """The agent's most recently Closed conversations (SES-2 "Closed work items")."""
    return _with_display_joins(Conversation.objects.filter(primary_agent=user, state=State.CLOSED)).order_by(
        "-state_changed_at"
    )[:CLOSED_WORK_ITEMS_SHOWN]


def pending_offers(user) -> QuerySet[Conversation]:
    """Conversations offered to the agent and not yet accepted (RT-3)."""
    return _with_display_joins(
        Conversation.objects.filter(primary_agent=user, state=State.ACTIVE, accepted_at__isnull=True)
    ).order_by("offer_expires_at")


def pending_transfers(user) -> QuerySet[Conversation]:
    """Conversations a supervisor is transferring to the agent, awaiting their answer (SUP-6)."""
    return _with_display_joins(
        Conversation.objects.filter(transfer_agent=user, state__in=[State.ACTIVE, State.WAITING])
    ).order_by("transfer_expires_at")


def open_work_items(user) -> QuerySet[Conversation]:
    """Open conversations in the agent's queues, in the order they are served (SES-2, RT-4)."""
    return _with_display_joins(Conversation.objects.filter(state=State.OPEN, queue__members=user)).order_by(
        "-priority", "created_at"
    )


def transcript(conversation: Conversation) -> list[Message]:
    """The conversation's messages in order, ready for the message partial without further queries."""
    messages = list(conversation.messages.select_related("sender").order_by("sequence"))
    for message in messages:
        message.conversation = conversation
    return messages


def canned_responses_for(conversation: Conversation) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(Q(workstream=conversation.workstream_id) | Q(workstream__isnull=True))


def can_write(user, conversation: Conversation) -> bool:
    """Whether the user writes in this conversation as its agent (its primary or a consultant)."""
    if conversation.state == State.CLOSED or not is_agent(user):
        return False
    return conversation.primary_agent_id == user.pk or conversation.consultants.filter(pk=user.pk).exists()


def conversation_facts(conversation: Conversation) -> Facts:
    """What the transition table needs to know of a conversation (its workstream and case joined)."""
    return Facts(
        state=State(conversation.state),
        kind=conversation.kind,
        accepted=conversation.accepted_at is not None,
        has_agent=conversation.primary_agent_id is not None,
        escalated=conversation.escalated_at is not None,
        persistent=conversation.workstream.persistent_chat,
        case_closed=bool(conversation.case_id and conversation.case.is_closed),
    )


def supervisor_actions_for(conversation: Conversation, user) -> set[str]:
    """What this supervisor may do to the conversation now (SUP-2 to SUP-7), decided on the
    row and its joined workstream alone, so a list of rows costs no query per row."""
    workstream = conversation.workstream
    return {
        str(action)
        for action in supervisor_actions(
            conversation_facts(conversation),
            switches={name: getattr(workstream, name) for name in SUPERVISOR_SWITCH_NAMES},
            own=conversation.primary_agent_id == user.pk,
            transfer_pending=conversation.transfer_agent_id is not None,
        )
    }


def supervisor_monitoring(*, conversation_id: int, user) -> bool:
    """Whether the supervisor monitors the conversation: they recorded a Monitor on it (SUP-3
    refused what it must), and its workstream still lets supervisors monitor, it is no record
    and not their own. Their page and socket then follow it through later states, read-only."""
    return (
        Conversation.objects.filter(
            pk=conversation_id, workstream__allow_monitor=True, events__action=Action.MONITOR, events__actor=user
        )
        .filter(workstream__channel__in=channels_where("with_customer"))
        .exclude(primary_agent=user)
        .exists()
    )


@dataclass(frozen=True)
class Candidate:
    """An agent a supervisor may give a conversation to, with what the dialog shows (SUP-5, SUP-6)."""

    profile: AgentProfile
    free: int
    units_over: int
    presence_allowed: bool

    @property
    def agent(self):
        return self.profile.user


def agent_candidates(conversation: Conversation, *, now: datetime, override: bool = False) -> list[Candidate]:
    """The agents of the conversation's queue for a supervisor's dialog, most free capacity
    first: those showing an allowed presence with room for it; with `override`, every member
    (SUP-5), each with the units an assignment would take them over capacity. Three queries."""
    profiles = list(
        AgentProfile.objects.select_related("user", "presence")
        .filter(user__queues=conversation.queue_id)
        .exclude(user_id=conversation.primary_agent_id)
        .order_by("user__first_name", "user__username")
    )
    load = capacity_in_use_by_agent(agent_ids=[p.user_id for p in profiles], now=now)
    allowed = allowed_presences_by_workstream({conversation.workstream_id})[conversation.workstream_id]
    units = conversation.workstream.capacity_units
    candidates = []
    for profile in profiles:
        in_use = load.get(profile.user_id, 0)
        candidate = Candidate(
            profile=profile,
            free=max(0, profile.capacity - in_use),
            units_over=units_over(capacity=profile.capacity, in_use=in_use, units=units),
            presence_allowed=presence_allowed(
                presence_id=profile.presence_id, base=profile.presence.base, allowed=allowed
            ),
        )
        if override or (candidate.presence_allowed and not candidate.units_over):
            candidates.append(candidate)
    return sorted(candidates, key=lambda c: -c.free)


def other_queues(conversation: Conversation) -> QuerySet[Queue]:
    """Every queue but the conversation's own (SUP-5)."""
    return Queue.objects.exclude(pk=conversation.queue_id).order_by("name")


def pre_chat_labels(workstream_id: int) -> dict[str, str]:
    """The workstream's pre-chat questions by key, as the customer read them."""
    return dict(PreChatQuestion.objects.filter(workstream_id=workstream_id).values_list("key", "label"))
