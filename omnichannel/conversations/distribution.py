"""Push distribution (RT-2, RT-3, RT-5): offer Open conversations, best first, to eligible agents.

Each queue's agents are read once per round into plain `routing.Candidate`s and the choice is
made by `routing.choose_agent`; the offer itself goes through `actions.conversation_offer`,
which re-checks capacity under the agent's lock, so a stale snapshot can lose a race but
never over-assign. Several workers may run this at once.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from . import actions, routing
from .errors import ConversationError
from .models import AgentConnection, AgentProfile, Conversation, ConversationEvent, Distribution
from .selectors import connection_fresh_since, holding_capacity
from .states import Action, State


def _candidates(queue_id: int, now: datetime) -> tuple[dict[int, routing.Candidate], dict[int, AgentProfile]]:
    """Every member of the queue who is an agent, as distribution sees them now."""
    profiles = list(AgentProfile.objects.filter(user__queues=queue_id).select_related("user", "presence"))
    ids = [p.user_id for p in profiles]
    load = {
        row["primary_agent"]: row
        for row in Conversation.objects.filter(primary_agent__in=ids)
        .filter(holding_capacity(now) | Q(state=State.ACTIVE))
        .values("primary_agent")
        .annotate(
            units=Sum("capacity_units", filter=holding_capacity(now)),
            active=Count("pk", filter=Q(state=State.ACTIVE)),
        )
    }
    connected = set(
        AgentConnection.objects.filter(agent__in=ids, last_seen__gte=connection_fresh_since(now)).values_list(
            "agent_id", flat=True
        )
    )
    candidates = {
        p.user_id: routing.Candidate(
            agent_id=p.user_id,
            name=p.user.get_full_name() or p.user.get_username(),
            presence=p.presence.name,
            presence_allowed=False,  # per workstream, filled in below
            connected=p.user_id in connected,
            capacity=p.capacity,
            in_use=(load.get(p.user_id) or {}).get("units") or 0,
            active=(load.get(p.user_id) or {}).get("active") or 0,
            last_offered_at=p.last_offered_at,
        )
        for p in profiles
    }
    return candidates, {p.user_id: p for p in profiles}


def _declined(conversation_ids: list[int]) -> dict[int, dict[int, datetime]]:
    """conversation → agent → when they last rejected it or let its offer lapse."""
    declined: dict[int, dict[int, datetime]] = defaultdict(dict)
    rows = ConversationEvent.objects.filter(
        conversation__in=conversation_ids, action__in=[Action.REJECT, Action.OFFER_TIMEOUT]
    ).values_list("conversation_id", "detail", "created_at")
    for conversation_id, detail, at in rows:
        if agent_id := detail.get("declined_by"):
            declined[conversation_id][agent_id] = at
    return declined


def distribute(*, queue_ids: list[int] | None = None, limit: int = 500) -> int:
    """One round: offer waiting push conversations in priority-then-age order; return offers made."""
    now = timezone.now()
    waiting = Conversation.objects.filter(state=State.OPEN, workstream__distribution=Distribution.PUSH)
    if queue_ids is not None:
        waiting = waiting.filter(queue_id__in=queue_ids)
    waiting = list(waiting.select_related("workstream", "queue").order_by("-priority", "created_at")[:limit])
    by_queue: dict[int, list[Conversation]] = defaultdict(list)
    for conversation in waiting:
        by_queue[conversation.queue_id].append(conversation)
    declined = _declined([c.pk for c in waiting])
    allowed_cache: dict[int, set[int]] = {}
    offers = 0
    for queue_id, conversations in by_queue.items():
        candidates, profiles = _candidates(queue_id, now)
        if not candidates:
            continue
        for conversation in conversations:
            workstream = conversation.workstream
            if workstream.pk not in allowed_cache:
                allowed_cache[workstream.pk] = set(workstream.allowed_presences.values_list("pk", flat=True))
            decision = routing.choose_agent(
                [
                    dataclasses.replace(
                        c,
                        presence_allowed=routing.presence_allowed(
                            presence_id=profiles[c.agent_id].presence_id,
                            base=profiles[c.agent_id].presence.base,
                            allowed=allowed_cache[workstream.pk],
                        ),
                        declined_at=declined[conversation.pk].get(c.agent_id),
                    )
                    for c in candidates.values()
                ],
                units=workstream.capacity_units,
                method=workstream.assignment_method,
                affinity_agent_id=conversation.last_agent_id,
            )
            if decision.agent_id is None:
                continue
            try:
                actions.conversation_offer(
                    conversation=conversation,
                    agent=profiles[decision.agent_id].user,
                    decision=decision.as_detail(),
                )
            except ConversationError:
                continue  # lost a race for the conversation or the agent; the next round sees fresh state
            offers += 1
            chosen = candidates[decision.agent_id]
            candidates[decision.agent_id] = dataclasses.replace(
                chosen, in_use=chosen.in_use + workstream.capacity_units, active=chosen.active + 1, last_offered_at=now
            )
    return offers
