"""The dashboard's socket (SUP-1): every transition, sentiment move, presence change and
queue-depth sample re-renders the dashboard's live partials, fresh from the database, with
the filters and page the supervisor's page shows. Bursts coalesce, and each dashboard renders
at most twice a second."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from django.http import QueryDict
from django.template.loader import render_to_string

from omnichannel.conversations import groups
from omnichannel.conversations.selectors import is_supervisor
from omnichannel.conversations.sockets.base import Consumer

from .contexts import dashboard_context
from .forms import DashboardFilters

LIVE_PARTIALS = ("kpis", "queue-depth", "rows")


class DashboardConsumer(Consumer):
    # A busy contact centre changes something many times a second; each open dashboard
    # renders at most this often, so supervisors cost the server a bounded share of it.
    min_interval = 0.5

    async def connect(self) -> None:
        self.user = self.scope["user"]
        if not self.user.is_authenticated or not await database_sync_to_async(is_supervisor)(self.user):
            await self.close(code=4403)  # SEC-1
            return
        self.params = QueryDict(self.scope.get("query_string", b"").decode("latin-1"))
        if not await self._valid():
            await self.close(code=4400)  # the page named the bad filters; nothing to follow
            return
        self.stale = False
        self.refresher: asyncio.Task | None = None
        await self.channel_layer.group_add(groups.SUPERVISORS, self.channel_name)
        await self.accept()
        # What changed between the page's render and this connection (or while a dropped
        # socket reconnected) would otherwise wait for the next change: render now.
        self._changed()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "refresher", None) is not None:
            self.refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.refresher
        if hasattr(self, "stale"):
            await self.channel_layer.group_discard(groups.SUPERVISORS, self.channel_name)

    async def conversation_changed(self, event: dict) -> None:
        self._changed()

    async def conversation_sentiment(self, event: dict) -> None:
        self._changed()

    async def presence_changed(self, event: dict) -> None:
        self._changed()

    async def queue_depth_sampled(self, event: dict) -> None:
        self._changed()

    def _changed(self) -> None:
        """Mark the view stale; one refresher renders until it is current. A change after a
        quiet spell shows at once; what arrives during a render, or within min_interval of
        it, is served by one render after."""
        self.stale = True
        if self.refresher is None or self.refresher.done():
            self.refresher = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        while self.stale:
            self.stale = False
            started = loop.time()
            html = await self.render()
            if html:
                await self.send(text_data=html)
            await asyncio.sleep(max(0.0, self.min_interval - (loop.time() - started)))

    @database_sync_to_async
    def _valid(self) -> bool:
        return DashboardFilters(self.params).is_valid()

    @database_sync_to_async
    def render(self) -> str:
        context, valid = dashboard_context(user=self.user, params=self.params)
        if not valid:
            return ""
        return "".join(render_to_string(f"supervision/home.html#{name}", context) for name in LIVE_PARTIALS)
