"""Ending and closing (ST-2 to ST-9, ST-20, ST-21, ST-24): by the agent, by the customer,
by the customer's or the agent's departure, and by the worker's deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from ..errors import ConversationError
from ..models import AgentProfile, Conversation, ConversationEvent
from ..states import Action
from .checks import due, primary
from .transitions import move


def conversation_end(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-3: the agent selects End; the conversation goes to Wrap-up."""
    return move(conversation, action=Action.AGENT_END, actor=agent, check=primary(agent))


def conversation_customer_end(*, conversation: Conversation) -> ConversationEvent:
    """The customer ends the chat or hangs up: Closed before an agent accepted it (ST-2,
    ST-7), Wrap-up after (ST-3), Closed for a call held by an external party (ST-22)."""
    return move(conversation, action=Action.CUSTOMER_END)


def conversation_customer_disconnect(*, conversation: Conversation) -> ConversationEvent:
    """The live-chat customer is gone: Closed before an agent accepted it (ST-2, ST-7),
    Wrap-up after (ST-21)."""
    return move(conversation, action=Action.CUSTOMER_DISCONNECT)


def conversation_customer_gone(*, conversation: Conversation) -> ConversationEvent:
    """The live-chat customer's last socket closed and none opened again within the
    workstream's customer reconnect timeout: as if they disconnected (ST-2, ST-7, ST-21)."""

    def check(conversation: Conversation, now: datetime) -> None:
        gone = conversation.customer_disconnected_at
        if gone is None or now < gone + timedelta(seconds=conversation.workstream.customer_reconnect_timeout_seconds):
            raise ConversationError(_("The customer is connected, or may still reconnect."))

    return move(conversation, action=Action.CUSTOMER_DISCONNECT, check=check)


def conversation_release(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """ST-4: the agent releases the conversation back to its queue."""
    return move(
        conversation, action=Action.RELEASE, actor=agent, check=primary(agent), detail={"released_by": agent.pk}
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

    return move(
        conversation,
        action=Action.AGENT_RECONNECT_TIMEOUT,
        check=check,
        detail={"disconnected_agent": conversation.primary_agent_id},
    )


def conversation_close_session(*, conversation: Conversation, agent: AbstractBaseUser) -> ConversationEvent:
    """The agent closes the conversation's session. Where it goes depends on state and kind:
    live chat Active → Open (ST-4), or Waiting when persistent (ST-24); messaging Active →
    Waiting (ST-5); a record with its case resolved → Closed (ST-6); Wrap-up → Closed (ST-8)."""
    return move(conversation, action=Action.CLOSE_SESSION, actor=agent, check=primary(agent))


def conversation_inactivity_timeout(*, conversation: Conversation) -> ConversationEvent:
    """ST-9 (and the end of a persistent chat's period, ST-24): a Waiting conversation with
    no activity until its deadline is closed."""
    return move(
        conversation,
        action=Action.INACTIVITY_TIMEOUT,
        check=due("waiting_until", _("The conversation has had activity within its inactivity timeout.")),
    )


def conversation_wrap_up_block_expire(*, conversation: Conversation) -> ConversationEvent:
    """ST-20: the workstream's wrap-up block of N minutes has run out; the agent's capacity is free."""
    return move(
        conversation,
        action=Action.WRAP_UP_BLOCK_EXPIRED,
        check=due("capacity_release_at", _("The wrap-up block has not run out yet.")),
        changes={"capacity_units": 0, "capacity_release_at": None, "capacity_override": False},
    )
