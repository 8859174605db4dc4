"""Agents' presence and connections (PR-1, PR-2).

An agent is connected while at least one of their sockets (browser tabs) is open and
heartbeating; the moment the last one goes, `disconnected_at` starts the reconnect clocks
that the worker applies (ST-4, and Offline after OFFLINE_AFTER_SECONDS).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import groups, pushes
from ..errors import InvalidInput, NotPermitted
from ..models import AgentConnection, AgentProfile, Presence, PresenceBase, PresenceChange, PresenceReason
from ..presences import base_presence
from ..selectors import capacity_in_use
from .connections import Tracker


def _profile_for_update(agent_id: int) -> AgentProfile:
    # of=self: lock the profile, not the shared presence row beside it, which every agent
    # showing that presence would otherwise contend for (and deadlock on).
    profile = (
        AgentProfile.objects.select_for_update(of=("self",)).select_related("presence").filter(user_id=agent_id).first()
    )
    if profile is None:
        raise NotPermitted(_("This user is not an agent."))
    return profile


def _set_presence(
    profile: AgentProfile,
    presence: Presence,
    *,
    reason: PresenceReason,
    actor: AbstractBaseUser | None,
    now: datetime,
    before_busy: Presence | None = None,
) -> None:
    profile.presence = presence
    profile.presence_before_busy = before_busy
    profile.save(update_fields=["presence", "presence_before_busy"])
    PresenceChange.objects.create(
        agent_id=profile.user_id, presence=presence, reason=reason, actor=actor, created_at=now
    )
    pushes.send_on_commit(
        [groups.agent_group(profile.user_id), groups.SUPERVISORS],
        {"type": "presence.changed", "agent_id": profile.user_id, "presence": presence.name},
    )
    pushes.wake_distribution_on_commit()


def agent_presence_set(
    *, agent: AbstractBaseUser, presence: Presence, actor: AbstractBaseUser | None = None
) -> AgentProfile:
    """The agent (or a supervisor) chooses a presence; it ends any automatic Busy."""
    actor = actor or agent
    if actor.pk != agent.pk and not actor.has_perm("conversations.supervise_conversation"):
        raise NotPermitted(_("Only the agent or a supervisor can change this presence."))
    if presence.pk is None:
        raise InvalidInput(_("Unknown presence."))
    with transaction.atomic():
        profile = _profile_for_update(agent.pk)
        _set_presence(profile, presence, reason=PresenceReason.CHOSEN, actor=actor, now=timezone.now())
    return profile


def agent_capacity_changed(
    *, agent_id: int, now: datetime, profile: AgentProfile | None = None, in_use: int | None = None
) -> None:
    """PR-2: Busy while capacity is full, and back to the earlier presence once it frees,
    for agents configured so. Runs inside the transaction that changed the capacity; a
    caller that already holds the locked profile and knows the load passes them."""
    profile = profile or _profile_for_update(agent_id)
    if not profile.auto_busy:
        return
    if in_use is None:
        in_use = capacity_in_use(agent_id=agent_id, now=now)
    if in_use >= profile.capacity and profile.presence.base == PresenceBase.AVAILABLE:
        busy = base_presence(PresenceBase.BUSY)
        _set_presence(
            profile, busy, reason=PresenceReason.CAPACITY_FULL, actor=None, now=now, before_busy=profile.presence
        )
    elif in_use < profile.capacity and profile.presence_before_busy_id and profile.presence.base == PresenceBase.BUSY:
        _set_presence(profile, profile.presence_before_busy, reason=PresenceReason.CAPACITY_FREED, actor=None, now=now)


CONNECTIONS = Tracker(
    connections=AgentConnection,
    owner="agent_id",
    lock=_profile_for_update,
    owners=lambda agent_id: AgentProfile.objects.filter(user_id=agent_id),
    gone_since="disconnected_at",
)


def agent_connect(*, agent: AbstractBaseUser, channel_name: str) -> None:
    """A socket of the agent's opened: they are connected, and any reconnect clock stops."""
    CONNECTIONS.connect(owner_id=agent.pk, channel_name=channel_name)
    pushes.wake_distribution_on_commit()  # a connected agent can be offered work


def agent_heartbeat(*, agent: AbstractBaseUser, channel_name: str) -> None:
    """The socket is alive. If a worker counted it as gone meanwhile, it is connected again."""
    if not CONNECTIONS.heartbeat(owner_id=agent.pk, channel_name=channel_name):
        pushes.wake_distribution_on_commit()


def agent_disconnect(*, channel_name: str) -> None:
    """A socket closed: when it was the agent's last, the reconnect clock starts."""
    CONNECTIONS.disconnect(channel_name=channel_name)


def agent_go_offline(*, profile: AgentProfile, now: datetime) -> bool:
    """PR-2: the agent's last connection has been gone past the timeout: Offline."""
    with transaction.atomic():
        profile = _profile_for_update(profile.user_id)
        limit = timedelta(seconds=settings.OMNICHANNEL["OFFLINE_AFTER_SECONDS"])
        if profile.disconnected_at is None or now - profile.disconnected_at < limit:
            return False
        if profile.presence.base == PresenceBase.OFFLINE:
            return False
        offline = base_presence(PresenceBase.OFFLINE)
        _set_presence(profile, offline, reason=PresenceReason.DISCONNECTED, actor=None, now=now)
    return True
