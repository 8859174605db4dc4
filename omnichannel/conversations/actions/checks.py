"""Who may act, and whether a deadline has come: checks that actions run on the locked row.

A check is `check(conversation, now)` and raises a ConversationError to refuse; the
transition engine runs it after the table has allowed the move and before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from .. import routing
from ..errors import ConcurrentChange, ConversationError, NotPermitted
from ..models import AgentProfile, Conversation
from ..routing import Refusal, Standing
from ..selectors import allowed_presences_by_workstream, is_supervisor
from ..states import State

Check = Callable[[Conversation, datetime], None]

# What a disabled switch refuses (SUP-2).
_SWITCH_REFUSALS = {
    "allow_monitor": _("This workstream does not let supervisors monitor or join its conversations."),
    "allow_assign": _("This workstream does not let supervisors assign."),
    "allow_transfer": _("This workstream does not let supervisors transfer."),
    "allow_force_close": _("This workstream does not let supervisors force close."),
}


def all_of(*checks: Check) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        for each in checks:
            each(conversation, now)

    return check


def due(field: str, message: str) -> Check:
    """The deadline stored in `field` has passed."""

    def check(conversation: Conversation, now: datetime) -> None:
        deadline = getattr(conversation, field)
        if deadline is None or now < deadline:
            raise ConversationError(message)

    return check


def primary(agent: AbstractBaseUser) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id != agent.pk:
            raise NotPermitted(_("Only the conversation's agent can do this."))

    return check


def require_supervisor(actor: AbstractBaseUser | None) -> None:
    if actor is None or not is_supervisor(actor):
        raise NotPermitted(_("Only a supervisor can do this."))


def supervising(actor: AbstractBaseUser, *, switch: str) -> Check:
    """A supervisor, where the conversation's workstream enables `switch` (SUP-2)."""

    def check(conversation: Conversation, now: datetime) -> None:
        require_supervisor(actor)
        if not getattr(conversation.workstream, switch):
            raise NotPermitted(_SWITCH_REFUSALS[switch])

    return check


def primary_or_supervisor(actor: AbstractBaseUser, *, switch: str) -> Check:
    """The conversation's agent, or a supervisor where the workstream enables `switch` (SUP-2)."""

    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id == actor.pk:
            return
        if not is_supervisor(actor):
            raise NotPermitted(_("Only the conversation's agent or a supervisor can do this."))
        if not getattr(conversation.workstream, switch):
            raise NotPermitted(_SWITCH_REFUSALS[switch])

    return check


def not_own(actor: AbstractBaseUser) -> Check:
    def check(conversation: Conversation, now: datetime) -> None:
        if conversation.primary_agent_id == actor.pk:
            raise NotPermitted(_("This conversation is assigned to you; supervisors monitor other agents' work."))

    return check


def unchanged(seen_version: int | None) -> Check:
    """The conversation is as the supervisor saw it when they chose (a confirmation dialog
    confirms what it showed): a transition since then refuses, and they look again."""

    def check(conversation: Conversation, now: datetime) -> None:
        if seen_version is not None and conversation.version != seen_version:
            raise ConcurrentChange(
                _("The conversation changed since you opened this (it is %(state)s now); look again and retry.")
                % {"state": State(conversation.state).label}
            )

    return check


def require_standing(
    conversation: Conversation, agent: AbstractBaseUser, standing: Standing, *, presence: bool = True
) -> None:
    """Refuse, naming agent, queue or presence, unless `standing` makes the agent eligible (RT-2)."""
    refusal = routing.standing_refusal(standing, presence=presence)
    if refusal == Refusal.NOT_AGENT:
        raise NotPermitted(_("%(user)s is not an agent.") % {"user": agent})
    if refusal == Refusal.NOT_MEMBER:
        raise NotPermitted(
            _("%(agent)s is not a member of the queue %(queue)s.") % {"agent": agent, "queue": conversation.queue}
        )
    if refusal == Refusal.PRESENCE:
        raise NotPermitted(
            _("%(agent)s is %(presence)s, which this workstream does not allow.")
            % {"agent": standing.name, "presence": standing.presence}
        )
    if refusal == Refusal.NOT_CONNECTED:
        raise NotPermitted(_("%(agent)s is not connected.") % {"agent": agent})


def standing(conversation: Conversation, agent: AbstractBaseUser) -> Standing:
    """The agent's standing for this conversation, read from the database."""
    profile = AgentProfile.objects.select_related("presence").filter(user_id=agent.pk).first()
    if profile is None:
        return Standing(is_agent=False, member=False, presence_allowed=False)
    allowed = allowed_presences_by_workstream({conversation.workstream_id})[conversation.workstream_id]
    return Standing(
        name=str(profile),
        presence=str(profile.presence),
        is_agent=True,
        member=conversation.queue.members.filter(pk=agent.pk).exists(),
        presence_allowed=routing.presence_allowed(
            presence_id=profile.presence_id, base=profile.presence.base, allowed=allowed
        ),
    )


def eligible(agent: AbstractBaseUser, *, presence: bool = True) -> Check:
    """RT-2: a member of the conversation's queue, showing a presence the workstream allows
    (unless a supervisor overrides presence, SUP-5)."""

    def check(conversation: Conversation, now: datetime) -> None:
        require_standing(conversation, agent, standing(conversation, agent), presence=presence)

    return check


def require_conversation_worker(conversation: Conversation, actor: AbstractBaseUser) -> None:
    """The conversation's agent, one of its consultants, or a supervisor."""
    if conversation.primary_agent_id == actor.pk or is_supervisor(actor):
        return
    if not conversation.consultants.filter(pk=actor.pk).exists():
        raise NotPermitted(_("Only the conversation's agents or a supervisor can change its case."))
