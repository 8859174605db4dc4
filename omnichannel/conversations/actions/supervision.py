"""A supervisor's actions (SUP-2 to SUP-7, seed 001): monitor, join and leave a chat, assign
to an agent or a queue, force close. Each where the workstream enables it (SUP-2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import InvalidInput
from ..models import Conversation, ConversationEvent, Queue
from ..selectors import conversation_facts
from ..states import Action, next_state
from .checks import Check, all_of, eligible, not_own, supervising, unchanged
from .events import NewEvent, events_record
from .transcript import messages_save, notice_for
from .transfers import to_queue
from .transitions import lock, move


def conversation_assign(
    *, conversation: Conversation, agent: AbstractBaseUser, actor: AbstractBaseUser, override: bool = False
) -> ConversationEvent:
    """ST-1, SUP-5: a supervisor assigns an Open conversation to an agent of its queue, where
    the workstream allows it (SUP-2); they may override presence and capacity, not membership."""

    def check(conversation: Conversation, now: datetime) -> None:
        supervising(actor, switch="allow_assign")(conversation, now)
        eligible(agent, presence=not override)(conversation, now)

    return move(
        conversation,
        action=Action.ASSIGN,
        actor=actor,
        agent=agent,
        override=override,
        check=check,
        changes={"accepted_at": timezone.now()},
    )


def _watch(
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
        lock(conversation)
        rule = next_state(action, conversation_facts(conversation))
        if check is not None:
            check(conversation, now)
        if claim is not None:
            claim(conversation)
        if notice := notice_for(
            conversation,
            action=action,
            agent_id=conversation.primary_agent_id,
            previous_agent_id=conversation.primary_agent_id,
            actor_id=actor.pk,
        ):
            messages_save({conversation.pk: conversation}, [notice])
        (event,) = events_record(
            events=[
                NewEvent(
                    conversation=conversation,
                    action=action,
                    actor=actor,
                    detail={"rule": rule.spec},
                )
            ],
            now=now,
        )
    return event


def conversation_monitor(*, conversation: Conversation, actor: AbstractBaseUser) -> ConversationEvent:
    """SUP-3: a supervisor opens an Active or Wrap-up conversation of any channel but records
    to watch it live; never one assigned to themselves."""
    return _watch(
        conversation,
        action=Action.MONITOR,
        actor=actor,
        check=all_of(supervising(actor, switch="allow_monitor"), not_own(actor)),
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

    return _watch(
        conversation,
        action=Action.SUPERVISOR_JOIN,
        actor=actor,
        check=all_of(supervising(actor, switch="allow_monitor"), not_own(actor)),
        claim=claim,
    )


def conversation_supervisor_leave(*, conversation: Conversation, actor: AbstractBaseUser) -> ConversationEvent:
    """SUP-4: a supervisor who joined the chat leaves it; customer and agent see a notice."""

    def claim(conversation: Conversation) -> None:
        # Deleting the through row is the claim: a second leave deletes nothing.
        through = Conversation.supervisors.through
        if not through.objects.filter(conversation=conversation, user=actor).delete()[0]:
            raise InvalidInput(_("You have not joined this chat."))

    return _watch(conversation, action=Action.SUPERVISOR_LEAVE, actor=actor, claim=claim)


def conversation_assign_to_queue(
    *, conversation: Conversation, queue: Queue, actor: AbstractBaseUser
) -> ConversationEvent:
    """SUP-5: a supervisor moves an Open, unassigned conversation to another queue, where it
    waits Open for that queue's agents."""
    return to_queue(
        conversation,
        queue=queue,
        action=Action.ASSIGN_TO_QUEUE,
        actor=actor,
        check=supervising(actor, switch="allow_assign"),
    )


def conversation_force_close(
    *, conversation: Conversation, actor: AbstractBaseUser, seen_version: int | None = None
) -> ConversationEvent:
    """SUP-7: after confirming, a supervisor ends a voice or messaging conversation: it is
    Closed, capacity is released, and customer and agent are told a supervisor ended it."""
    return move(
        conversation,
        action=Action.FORCE_CLOSE,
        actor=actor,
        check=all_of(supervising(actor, switch="allow_force_close"), unchanged(seen_version)),
    )
