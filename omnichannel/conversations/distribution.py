"""Push distribution (RT-2, RT-3, RT-5): offer Open conversations, best first, to eligible agents.

Each queue's agents are read once per round into plain `routing.Candidate`s and the choice is
made by `routing.choose_agent`; the offer itself goes through `conversation_offer`,
which re-checks capacity under the agent's lock, so a stale snapshot can lose a race but
never over-assign. Several workers may run this at once.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from . import routing
from .actions.assignment import Offer, conversations_offer
from .models import AgentConnection, AgentProfile, Conversation, ConversationEvent, Distribution
from .selectors import allowed_presences_by_workstream, connection_fresh_since, holding_capacity
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
    declined: dict[int, dict[int, datetime]] = {}
    rows = ConversationEvent.objects.filter(
        conversation__in=conversation_ids, action__in=[Action.REJECT, Action.OFFER_TIMEOUT]
    ).values_list("conversation_id", "detail", "created_at")
    for conversation_id, detail, at in rows:
        if agent_id := detail.get("declined_by"):
            declined.setdefault(conversation_id, {})[agent_id] = at
    return declined


def distribute(*, queue_ids: list[int] | None = None, limit: int = 1000, batch: int = 500) -> int:
    """One round: offer waiting push conversations in priority-then-age order; return offers made."""
    now = timezone.now()
    waiting = Conversation.objects.filter(state=State.OPEN, workstream__distribution=Distribution.PUSH)
    if queue_ids is not None:
        waiting = waiting.filter(queue_id__in=queue_ids)
    waiting = list(waiting.select_related("workstream").order_by("-priority", "created_at")[:limit])
    by_queue: dict[int, list[Conversation]] = defaultdict(list)
    for conversation in waiting:
        by_queue[conversation.queue_id].append(conversation)
    declined = _declined([c.pk for c in waiting])
    allowed = allowed_presences_by_workstream({c.workstream_id for c in waiting})
    offers = 0
    # Queues in random order, so that concurrent workers mostly serve different queues.
    for queue_id in random.sample(list(by_queue), len(by_queue)):
        candidates, profiles = _candidates(queue_id, now)
        if not candidates:
            continue
        planned: list[Offer] = []
        # Per workstream, the queue's candidates with that workstream's presence rule applied;
        # each choice then updates the chosen agent's load in every view.
        views: dict[int, dict[int, routing.Candidate]] = {}
        for conversation in by_queue[queue_id]:
            workstream = conversation.workstream
            if workstream.pk not in views:
                views[workstream.pk] = {
                    agent_id: dataclasses.replace(
                        c,
                        presence_allowed=routing.presence_allowed(
                            presence_id=profiles[agent_id].presence_id,
                            base=profiles[agent_id].presence.base,
                            allowed=allowed[workstream.pk],
                        ),
                    )
                    for agent_id, c in candidates.items()
                }
            view = views[workstream.pk]
            pool = list(view.values())
            if declines := declined.get(conversation.pk):
                pool = [dataclasses.replace(c, declined_at=declines.get(c.agent_id)) for c in pool]
            decision = routing.choose_agent(
                pool,
                units=workstream.capacity_units,
                method=workstream.assignment_method,
                affinity_agent_id=conversation.last_agent_id,
            )
            if decision.agent_id is None:
                continue
            planned.append(Offer(conversation, profiles[decision.agent_id].user, decision.as_detail()))
            for each in views.values():
                chosen = each[decision.agent_id]
                each[decision.agent_id] = dataclasses.replace(
                    chosen,
                    in_use=chosen.in_use + workstream.capacity_units,
                    active=chosen.active + 1,
                    last_offered_at=now,
                )
        # The batch re-checks everything under locks; what it skips is seen afresh next round.
        for start in range(0, len(planned), batch):
            offers += len(conversations_offer(offers=planned[start : start + batch]))
    return offers
