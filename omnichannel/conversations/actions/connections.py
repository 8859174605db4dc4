"""One connection tracker for agents' and customers' sockets (PR-2, ST-2, ST-7, ST-21).

Each open socket is a row kept fresh by heartbeats, so a server process that died without
closing its sockets cannot keep anyone connected: the worker's sweep counts a silent socket
as closed when it was last heard. When the owner's last socket goes, the owner records when
(`disconnected_at` of the agent, `customer_disconnected_at` of the live chat), which starts
the clocks the worker applies. Connect and disconnect both lock the owner's row first, so
they never interleave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from ..selectors import connection_fresh_since

SWEEP_BATCH = 500


@dataclass(frozen=True)
class Tracker:
    connections: type[models.Model]  # a row per socket: channel_name, last_seen, the owner
    owner: str  # the connection's foreign key to its owner, as an attribute name ("agent_id")
    lock: Callable[[int], None]  # lock the owner's row
    owners: Callable[[int], models.QuerySet]  # the owner's row, to record its presence on
    gone_since: str  # the owner's field that says since when its last socket is gone

    def connect(self, *, owner_id: int, channel_name: str) -> None:
        """A socket opened: the owner is here, and any departure clock stops."""
        with transaction.atomic():
            self.lock(owner_id)
            self.connections.objects.update_or_create(
                channel_name=channel_name, defaults={self.owner: owner_id, "last_seen": timezone.now()}
            )
            self.owners(owner_id).update(**{self.gone_since: None})

    def heartbeat(self, *, owner_id: int, channel_name: str) -> bool:
        """The socket is alive. False when a sweep had counted it as gone and it connected again."""
        if self.connections.objects.filter(channel_name=channel_name).update(last_seen=timezone.now()):
            return True
        self.connect(owner_id=owner_id, channel_name=channel_name)
        return False

    def disconnect(self, *, channel_name: str, at: datetime | None = None, stale_before: datetime | None = None) -> None:
        """A socket closed (or, with `stale_before`, went silent before then): when it was the
        owner's last, the departure clock starts at `at`."""
        at = at or timezone.now()
        owner_id = self.connections.objects.filter(channel_name=channel_name).values_list(self.owner, flat=True).first()
        if owner_id is None:
            return
        with transaction.atomic():
            self.lock(owner_id)
            connection = self.connections.objects.filter(channel_name=channel_name)
            if stale_before is not None:
                connection = connection.filter(last_seen__lt=stale_before)  # it may have heartbeated since
            if not connection.delete()[0]:
                return
            alive = self.connections.objects.filter(
                **{self.owner: owner_id}, last_seen__gte=connection_fresh_since(timezone.now())
            )
            if not alive.exists():
                self.owners(owner_id).filter(**{f"{self.gone_since}__isnull": True}).update(
                    **{self.gone_since: at}
                )

    def sweep(self, now: datetime) -> int:
        """The worker's pass: sockets of a process that died stop heartbeating; each counts as
        closed when last heard."""
        fresh_since = connection_fresh_since(now)
        stale = list(self.connections.objects.filter(last_seen__lt=fresh_since)[:SWEEP_BATCH])
        for connection in stale:
            self.disconnect(channel_name=connection.channel_name, at=connection.last_seen, stale_before=fresh_since)
        return len(stale)
