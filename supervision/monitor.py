"""The supervisor's chat socket on the conversation page (SUP-3, SUP-4): the shared chat
protocol, reading the conversations the supervisor monitors, and writing in it as the
supervisor once they joined (the front door refuses them before)."""

from channels.db import database_sync_to_async

from omnichannel.conversations.models import Conversation, SenderRole
from omnichannel.conversations.selectors import is_supervisor, supervisor_monitoring
from omnichannel.conversations.sockets.chat import StaffChatConsumer


class SupervisorChatConsumer(StaffChatConsumer):
    max_subscriptions = 10

    admits = staticmethod(is_supervisor)

    async def may_see(self, conversation_id: int) -> bool:
        """Only what the supervisor monitors: Monitor recorded and refused what SUP-3 refuses."""
        return await database_sync_to_async(supervisor_monitoring)(conversation_id=conversation_id, user=self.user)

    async def may_type(self, conversation_id: int) -> bool:
        # Watching is silent (SUP-4): customer and agent learn of the supervisor only when they join.
        return await database_sync_to_async(
            Conversation.supervisors.through.objects.filter(conversation_id=conversation_id, user=self.user).exists
        )()

    async def may_mark(self, conversation_id: int) -> bool:
        # A supervisor watching is not the agent reading: the customer's read marks stay the agent's.
        return False

    def sender(self, conversation_id: int):
        return SenderRole.SUPERVISOR, self.user
