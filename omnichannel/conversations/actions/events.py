"""The one event writer (ST-23): every ConversationEvent is written here and announced after
commit, so the timeline, the pushes and whatever later reads events (webhooks, reports) see
the same thing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from .. import pushes
from ..models import Conversation, ConversationEvent
from ..states import Action


@dataclass(frozen=True)
class NewEvent:
    """What happened to a conversation, as it is after the change (its state and primary agent
    are read from it)."""

    conversation: Conversation
    action: Action
    detail: dict[str, Any] = field(default_factory=dict)
    actor: AbstractBaseUser | None = None
    from_state: str | None = None  # None: the state did not move
    # Agents besides the conversation's queue whose pages the push re-renders.
    notify: tuple[int, ...] = ()
    # The queue it left, whose Open work items list it until told (RT-4).
    left_queue_id: int | None = None


def events_record(*, events: list[NewEvent], now: datetime) -> list[ConversationEvent]:
    """Write the events in the caller's transaction and push each after commit."""
    rows = ConversationEvent.objects.bulk_create(
        [
            ConversationEvent(
                conversation=e.conversation,
                from_state=e.conversation.state if e.from_state is None else e.from_state,
                to_state=e.conversation.state,
                action=e.action,
                actor=e.actor,
                agent_id=e.conversation.primary_agent_id,
                created_at=now,
                detail=e.detail,
            )
            for e in events
        ]
    )
    changes = []
    assigned: dict[int, list[int]] = defaultdict(list)
    for e, row in zip(events, rows, strict=True):
        c = e.conversation
        changes.append(pushes.Change(c.pk, c.queue_id, row.pk, c.state, tuple(e.notify)))
        if e.left_queue_id is not None:
            changes.append(pushes.Change(c.pk, e.left_queue_id, row.pk, c.state, ()))
        if e.action == Action.ASSIGN and c.primary_agent_id is not None:
            assigned[c.primary_agent_id].append(c.pk)
    pushes.conversations_changed(changes)
    if assigned:
        pushes.conversations_assigned(assigned)
    return rows
