"""The supervisor's chat socket on the conversation page (SUP-3, SUP-4): the shared chat
protocol, reading any conversation the supervisor may monitor, and writing in it as the
supervisor once they joined (the front door refuses them before)."""

from channels.db import database_sync_to_async

from omnichannel.conversations.chat import ChatConsumer
from omnichannel.conversations.models import Conversation, SenderRole
from omnichannel.conversations.selectors import is_supervisor
from omnichannel.conversations.states import Channel


class SupervisorChatConsumer(ChatConsumer):
    max_subscriptions = 10

    async def connect(self) -> None:
        self.user = self.scope["user"]
        if not self.user.is_authenticated or not await database_sync_to_async(is_supervisor)(self.user):
            await self.close(code=4403)
            return
        await super().connect()

    async def authorize(self, content: dict) -> int | None:
        conversation_id = content.get("conversation")
        if not isinstance(conversation_id, int):
            return None
        return conversation_id if await self.may_see(conversation_id) else None

    async def may_see(self, conversation_id: int) -> bool:
        """Where the workstream lets supervisors monitor, and not their own conversation (SUP-3)."""
        return await database_sync_to_async(
            Conversation.objects.filter(pk=conversation_id, workstream__allow_monitor=True)
            .exclude(workstream__channel=Channel.CASE)
            .exclude(primary_agent=self.user)
            .exists
        )()

    async def may_mark(self, conversation_id: int) -> bool:
        # A supervisor watching is not the agent reading: the customer's read marks stay the agent's.
        return False

    def sender(self, conversation_id: int):
        return SenderRole.SUPERVISOR, self.user
