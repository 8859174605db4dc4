"""The conversation page's socket: it re-renders the page's live partial on every transition."""

from channels.db import database_sync_to_async
from django.http import Http404
from django.template.loader import render_to_string

from ..contexts import conversation_context
from ..groups import conversation_group
from .base import Consumer


class ConversationConsumer(Consumer):
    async def connect(self) -> None:
        self.user = self.scope["user"]
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not self.user.is_authenticated or not await self._render():
            await self.close(code=4403)
            return
        self.group = conversation_group(self.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def conversation_changed(self, event: dict) -> None:
        html = await self._render()
        if html:
            await self.send(text_data=html)

    @database_sync_to_async
    def _render(self) -> str:
        # Rendered fresh from the database, with the same permission check as the page.
        try:
            context = conversation_context(user=self.user, pk=self.conversation_id)
        except Http404:
            return ""
        return render_to_string("conversations/conversation_detail.html#conversation-live", context)
