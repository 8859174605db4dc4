"""The customer's chat socket: the shared chat protocol, for the one conversation the
customer's chat token names (SEC-1), and the customer's presence in it (ST-2, ST-7, ST-21)."""

from channels.db import database_sync_to_async

from omnichannel.conversations.actions.ending import conversation_customer_end
from omnichannel.conversations.actions.live_chat import customer_connect, customer_disconnect, customer_heartbeat
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Conversation, SenderRole
from omnichannel.conversations.sockets.chat import ChatConsumer
from omnichannel.conversations.states import Channel

from .tokens import read_chat_token


class CustomerChatConsumer(ChatConsumer):
    customer = True

    async def authorize(self, content: dict) -> int | None:
        token = read_chat_token(content.get("token"))
        if token is None:
            return None
        if getattr(self, "conversation_id", token.conversation_id) != token.conversation_id:
            return None  # one customer socket, one conversation
        exists = await database_sync_to_async(
            Conversation.objects.filter(pk=token.conversation_id, workstream__channel=Channel.LIVE_CHAT).exists
        )()
        if not exists:
            return None
        if not hasattr(self, "conversation_id"):
            self.conversation_id = token.conversation_id
            await database_sync_to_async(customer_connect)(
                conversation_id=self.conversation_id, channel_name=self.channel_name
            )
        return self.conversation_id

    def sender(self, conversation_id: int):
        return SenderRole.CUSTOMER, None

    def post_options(self) -> dict:
        return {"may_start_successor": False}

    async def end(self, conversation_id: int) -> str:
        def end() -> str:
            try:
                conversation_customer_end(conversation=Conversation.objects.get(pk=conversation_id))
            except ConversationError as refused:
                return str(refused)
            return ""

        return await database_sync_to_async(end)()

    async def alive(self) -> None:
        if hasattr(self, "conversation_id"):
            await database_sync_to_async(customer_heartbeat)(
                conversation_id=self.conversation_id, channel_name=self.channel_name
            )

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if hasattr(self, "conversation_id"):
            await database_sync_to_async(customer_disconnect)(channel_name=self.channel_name)
