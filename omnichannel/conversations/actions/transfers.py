"""Transfers (ST-4, ST-22, SUP-6): to another queue, and for calls to another agent or an
external number; and a supervisor's transfer to an agent, who accepts or rejects it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import ConversationError, InvalidInput, NotPermitted
from ..models import Conversation, ConversationEvent, Queue
from ..states import Action
from .checks import Check, all_of, due, eligible, primary_or_supervisor, supervising, unchanged
from .transitions import move

EXTERNAL_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")


def to_queue(
    conversation: Conversation, *, queue: Queue, action: Action, actor: AbstractBaseUser, check: Check
) -> ConversationEvent:
    """Move the conversation to another queue, where it waits Open for that queue's agents."""

    def other_queue(conversation: Conversation, now: datetime) -> None:
        if queue.pk == conversation.queue_id:
            raise InvalidInput(_("The conversation is already in the queue %(queue)s.") % {"queue": queue})

    return move(
        conversation,
        action=action,
        actor=actor,
        check=all_of(check, other_queue),
        changes={"queue": queue},
        detail={"from_queue": conversation.queue.name, "to_queue": queue.name},
    )


def conversation_transfer_to_queue(
    *, conversation: Conversation, queue: Queue, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-4, ST-22: to another queue; the conversation is Open there and the agent's capacity freed."""
    return to_queue(
        conversation,
        queue=queue,
        action=Action.TRANSFER_TO_QUEUE,
        actor=actor,
        check=primary_or_supervisor(actor, switch="allow_transfer"),
    )


def conversation_transfer_to_agent(
    *, conversation: Conversation, to_agent: AbstractBaseUser, actor: AbstractBaseUser
) -> ConversationEvent:
    """ST-22: a voice call to another agent stays Active with them as primary; the first
    agent's capacity is released at once."""

    def someone_else(conversation: Conversation, now: datetime) -> None:
        if to_agent.pk == conversation.primary_agent_id:
            raise InvalidInput(_("The call is already with %(agent)s.") % {"agent": to_agent})

    return move(
        conversation,
        action=Action.TRANSFER_TO_AGENT,
        actor=actor,
        agent=to_agent,
        check=all_of(primary_or_supervisor(actor, switch="allow_transfer"), someone_else, eligible(to_agent)),
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
    return move(
        conversation,
        action=Action.TRANSFER_TO_EXTERNAL,
        actor=actor,
        agent=None,
        check=primary_or_supervisor(actor, switch="allow_transfer"),
        changes={"external_party": number},
        detail={"from_agent": conversation.primary_agent_id, "number": number},
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
    return move(
        conversation,
        action=Action.TRANSFER_REQUEST,
        actor=actor,
        check=all_of(
            supervising(actor, switch="allow_transfer"), unchanged(seen_version), transferable, eligible(to_agent)
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
        eligible(agent)(conversation, now)
        first.append(conversation.primary_agent_id)

    with transaction.atomic():
        event = move(conversation, action=Action.TRANSFER_ACCEPT, actor=agent, agent=agent, check=check)
        conversation.consultants.add(first[0])
        conversation.consultants.remove(agent)
        event.detail["from_agent"] = first[0]
        event.save(update_fields=["detail"])
    return event


def conversation_transfer_reject(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """SUP-6: the agent rejects a supervisor's transfer; the conversation stays where it was."""
    return move(
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
    return move(
        conversation,
        action=Action.TRANSFER_TIMEOUT,
        check=due("transfer_expires_at", _("The transfer has not timed out yet.")),
        changes={"transfer_agent": None, "transfer_expires_at": None},
        detail={"to_agent": conversation.transfer_agent_id},
        notify=(conversation.transfer_agent_id,) if conversation.transfer_agent_id else (),
    )
