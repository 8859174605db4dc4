"""The agent's sockets, one per tab: on every page the agent bar's, on the workspace the
workspace's, which pushes the session panel too.

Either is the agent's connection (PR-2: presence and reconnect timeouts follow it, kept alive
by heartbeats) and the channel for offers (RT-3) and presence changes. Pushes carry ids only;
what is sent is rendered fresh from the database with the same partials the pages use, and
only partials every page of the socket's kind shows: what the workspace shows of Home or the
focused session changes with every switch, which a push could cross on its way, so the
workspace socket names the conversations that changed and the page fetches those regions.
"""

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterable

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string

from omnichannel.conversations import groups
from omnichannel.conversations.actions.presence import agent_connect, agent_disconnect, agent_heartbeat
from omnichannel.conversations.models import Conversation, SenderRole
from omnichannel.conversations.selectors import conversations_visible_to, is_agent
from omnichannel.conversations.sockets.base import Consumer
from omnichannel.conversations.sockets.chat import StaffChatConsumer

from .actions import sessions_open_assigned
from .context_processors import agent_bar_context
from .models import AgentSession
from .selectors import assignments, focused, workspace_sessions

logger = logging.getLogger(__name__)


class AgentConsumer(Consumer):
    """The agent bar's socket (every page with it but the workspace): it joins the agent's own
    group and their queues' groups and pushes the offers and the presence selector."""

    async def connect(self) -> None:
        self.user = self.scope["user"]
        if not self.user.is_authenticated or not await database_sync_to_async(is_agent)(self.user):
            await self.close(code=4403)
            return
        self.recent_changes: deque[tuple[int, ...]] = deque(maxlen=20)
        # Work assigned while no page of the agent's was open gets its session now (SUP-5).
        started = await database_sync_to_async(sessions_open_assigned)(agent=self.user)
        await self._join()
        await self.accept()
        await database_sync_to_async(agent_connect)(agent=self.user, channel_name=self.channel_name)
        self.heartbeat = asyncio.create_task(self._heartbeat())
        # What changed between the page's render and joining the groups came by no push.
        await self.push()
        if started:
            await self._tell_assigned([session.conversation_id for session in started])

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "heartbeat"):
            return
        self.heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.heartbeat
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)
        await database_sync_to_async(agent_disconnect)(channel_name=self.channel_name)

    async def _join(self) -> None:
        queue_ids = await database_sync_to_async(lambda: list(self.user.queues.values_list("pk", flat=True)))()
        self.groups_joined = [groups.agent_group(self.user.pk), *map(groups.queue_group, queue_ids)]
        for name in self.groups_joined:
            await self.channel_layer.group_add(name, self.channel_name)

    async def _heartbeat(self) -> None:
        # Off the shared sync thread, so a burst of renders cannot delay it past the stale limit.
        beat = database_sync_to_async(agent_heartbeat, thread_sensitive=False)
        while True:
            await asyncio.sleep(settings.OMNICHANNEL["HEARTBEAT_SECONDS"])
            try:
                await beat(agent=self.user, channel_name=self.channel_name)
            except Exception:
                logger.exception("heartbeat of %s failed; trying again", self.channel_name)

    async def conversation_changed(self, event: dict) -> None:
        # The same change reaches us through the agent's, the queue's and the session's groups.
        key = tuple(event.get("event_ids", ()))
        if key and key in self.recent_changes:
            return
        self.recent_changes.append(key)
        await self.push(changed=event.get("conversation_ids", ()))

    async def conversation_assigned(self, event: dict) -> None:
        """Work assigned with nothing to accept: its session opens (once, whichever of the
        agent's sockets gets there first) and every page of theirs shows the notice (SES-3, SUP-5)."""
        await database_sync_to_async(sessions_open_assigned)(agent=self.user)
        await self._tell_assigned(event["conversation_ids"])

    async def _tell_assigned(self, conversation_ids: list[int]) -> None:
        if html := await database_sync_to_async(self.render_assignments)(conversation_ids):
            await self.send(text_data=html)

    async def presence_changed(self, event: dict) -> None:
        await self.send(text_data=await database_sync_to_async(self.render_agent_bar)())

    async def push(self, *, changed: Iterable[int] = ()) -> None:
        await self.send(text_data=await database_sync_to_async(self.render_agent_bar)())

    def render_agent_bar(self) -> str:
        """Offers and presence, fresh from the database."""
        context = agent_bar_context(self.user)
        return "".join(
            render_to_string(f"sessions_app/_agent_bar.html#{name}", context) for name in ("offers", "presence")
        )

    def render_assignments(self, conversation_ids: list[int]) -> str:
        """A notice for each of these conversations assigned to the agent whose session is open."""
        items = assignments(self.user, conversation_ids)
        return render_to_string("sessions_app/_agent_bar.html#assignments", {"assignments": items}) if items else ""


class WorkspaceConsumer(AgentConsumer):
    """The workspace's agent socket. It also joins the groups of the conversations the agent
    has sessions for, so a customer's message updates the session panel's unread count (SES-8)
    and a transition its state and sentiment alert (SES-7); after each change it names the
    conversations that changed in a JSON frame, `{"changed": [ids]}`, and the page fetches
    again what Home or the focused session shows (SES-2, SES-3, RT-4)."""

    session_groups: frozenset[str] = frozenset()

    async def _join(self) -> None:
        await super()._join()
        await self._follow_sessions()

    async def disconnect(self, code: int) -> None:
        for name in self.session_groups:
            await self.channel_layer.group_discard(name, self.channel_name)
        await super().disconnect(code)

    async def _follow_sessions(self) -> None:
        ids = await database_sync_to_async(
            lambda: list(
                AgentSession.objects.filter(agent=self.user, conversation__isnull=False).values_list(
                    "conversation_id", flat=True
                )
            )
        )()
        wanted = frozenset(groups.conversation_group(pk) for pk in ids)
        for name in wanted - self.session_groups:
            await self.channel_layer.group_add(name, self.channel_name)
        for name in self.session_groups - wanted:
            await self.channel_layer.group_discard(name, self.channel_name)
        self.session_groups = wanted

    async def sessions_changed(self, event: dict) -> None:
        await self._follow_sessions()
        await self.send(text_data=await database_sync_to_async(self.render_session_panel)())

    async def message_posted(self, event: dict) -> None:
        if event.get("sender_role") == SenderRole.CUSTOMER:
            await self.send(text_data=await database_sync_to_async(self.render_session_panel)())

    async def push(self, *, changed: Iterable[int] = ()) -> None:
        await self.send(text_data=await database_sync_to_async(self.render_workspace)())
        await self.send(text_data=json.dumps({"changed": sorted(changed)}))

    def render_workspace(self) -> str:
        return self.render_agent_bar() + self.render_session_panel()

    def render_session_panel(self) -> str:
        sessions = workspace_sessions(self.user)
        context = {"sessions": sessions, "current": focused(sessions)}
        return render_to_string("sessions_app/workspace.html#session-panel", context)


class AgentChatConsumer(StaffChatConsumer):
    """The communication panel's socket (one per tab): the shared chat protocol for every
    conversation the agent may see, written in as their agent."""

    max_subscriptions = 50
    burst, per_second = 30, 15.0

    admits = staticmethod(is_agent)

    async def may_see(self, conversation_id: int) -> bool:
        return await database_sync_to_async(conversations_visible_to(self.user).filter(pk=conversation_id).exists)()

    async def may_mark(self, conversation_id: int) -> bool:
        # Only the conversation's own agents' reading tells the customer it was read.
        return await database_sync_to_async(
            Conversation.objects.filter(
                Q(primary_agent=self.user) | Q(consultants=self.user), pk=conversation_id
            ).exists
        )()

    def sender(self, conversation_id: int):
        return SenderRole.AGENT, self.user
