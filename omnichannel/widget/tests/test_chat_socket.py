"""The chat sockets, customer and agent, driven as a browser would (CH-3, CH-5, SEC-1, REL-1)."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from omnichannel.asgi import application
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.models import Conversation, CustomerConnection, Message, SenderRole
from omnichannel.conversations.sockets.chat import MAX_FRAME_BYTES
from omnichannel.websockets import websocket_urlpatterns
from omnichannel.widget.tokens import chat_token

pytestmark = pytest.mark.django_db(transaction=True)


def customer_socket():
    return WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/customer/")


def agent_socket(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/chat/")
    communicator.scope["user"] = user
    return communicator


def token_for(conversation: Conversation) -> str:
    return chat_token(conversation_id=conversation.pk, visitor_id=conversation.visitor_id)


async def send(socket, frame: dict) -> None:
    await socket.send_to(text_data=json.dumps(frame))


async def receive(socket, kind: str, timeout: float = 5, **match) -> dict:
    """The next frame of this kind (and these values), skipping others (pushes interleave with replies)."""
    while True:
        frame = json.loads(await socket.receive_from(timeout=timeout))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def subscribed_customer(conversation: Conversation, after: int = 0, acks: str = "message"):
    socket = customer_socket()
    assert (await socket.connect())[0]
    await send(socket, {"type": "subscribe", "token": token_for(conversation), "after": after, "acks": acks})
    frames = []
    while (frame := json.loads(await socket.receive_from(timeout=5)))["type"] != "subscribed":
        frames.append(frame)
    return socket, frames, frame


def test_message_is_acknowledged_with_its_sequence_and_reaches_the_agent(active_chat, agent):
    """CH-3, CH-5: the customer's message is stored, acknowledged with its sequence and its
    rendered entry (the sender's socket gets no push of its own message), and pushed live to the
    agent's panel, rendered; the agent's reply comes back the same way."""

    async def scenario():
        customer, _, subscribed = await subscribed_customer(active_chat)
        assert subscribed["state"] == "active"
        panel = agent_socket(agent)
        assert (await panel.connect())[0]
        frame = {"type": "subscribe", "conversation": active_chat.pk, "after": subscribed["last"], "acks": "message"}
        await send(panel, frame)
        await receive(panel, "subscribed")

        await send(customer, {"type": "message", "conversation": active_chat.pk, "key": "k-1", "body": "Hello there"})
        before_ack = []
        while (ack := json.loads(await customer.receive_from(timeout=5)))["type"] != "ack":
            before_ack.append(ack)
        pushed = await receive(panel, "message")
        assert ack["sequence"] == pushed["sequence"] == subscribed["last"] + 1
        assert "Hello there" in pushed["html"] and pushed["role"] == "customer"
        assert (ack["html"], ack["role"]) == (pushed["html"], "customer")
        assert before_ack == [] and await customer.receive_nothing(0.2)

        await send(panel, {"type": "message", "conversation": active_chat.pk, "key": "a-1", "body": "Hi, I can help"})
        reply = await receive(customer, "message", role="agent")
        assert "Hi, I can help" in reply["html"] and reply["sequence"] == ack["sequence"] + 1
        await customer.disconnect()
        await panel.disconnect()

    async_to_sync(scenario)()
    bodies = list(active_chat.messages.filter(notice="").values_list("sender_role", "body"))
    assert bodies == [("customer", "Hello there"), ("agent", "Hi, I can help")]


def test_a_client_that_does_not_take_messages_from_acks_still_gets_its_own_pushed(active_chat):
    """CH-5: a page loaded before acks carried messages (it subscribes without acks "message")
    still gets its own message pushed, after its ack, so it never sits at "Sending…"."""

    async def scenario():
        socket, _, _ = await subscribed_customer(active_chat, acks="")
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "old", "body": "Hi"})
        ack = await receive(socket, "ack")
        pushed = await receive(socket, "message")
        await socket.disconnect()
        return ack, pushed

    ack, pushed = async_to_sync(scenario)()
    assert (pushed["sequence"], pushed["html"]) == (ack["sequence"], ack["html"])


def test_resend_with_the_same_key_is_stored_once_and_acknowledged_alike(active_chat):
    """CH-5, REL-1: a client that did not see its acknowledgement sends again with the same
    key, on a new socket: one message, and the same sequence in both acknowledgements."""

    async def scenario():
        acks = []
        for _ in range(2):
            socket, _, _ = await subscribed_customer(active_chat)
            await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "same", "body": "Once"})
            acks.append(await receive(socket, "ack"))
            await socket.disconnect()
        return acks

    first, second = async_to_sync(scenario)()
    assert first["sequence"] == second["sequence"]
    assert first["html"] == second["html"] and "Once" in second["html"]
    assert Message.objects.filter(conversation=active_chat, body="Once").count() == 1


def test_a_resend_after_the_chat_ended_is_still_acknowledged(active_chat):
    """CH-5: a client whose acknowledgement was lost as the chat ended gets it on resending
    under the same key; a new message is refused with the reason."""

    async def scenario():
        socket, _, _ = await subscribed_customer(active_chat)
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "last", "body": "Bye"})
        first = await receive(socket, "ack")
        await send(socket, {"type": "end", "conversation": active_chat.pk})
        await receive(socket, "state", state="wrap_up")
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "last", "body": "Bye"})
        again = await receive(socket, "ack")
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "new", "body": "Hello?"})
        refused = await receive(socket, "error")
        await socket.disconnect()
        return first, again, refused

    first, again, refused = async_to_sync(scenario)()
    assert again["sequence"] == first["sequence"]
    assert refused == {"type": "error", "key": "new", "error": "This chat has ended."}
    assert Message.objects.filter(conversation=active_chat, body="Bye").count() == 1


def test_reconnecting_client_resumes_after_its_last_sequence(active_chat, agent):
    """CH-5: on reconnecting, the client gets exactly the messages after the last one it saw."""
    for n in range(1, 6):
        message_post(conversation=active_chat, sender_role=SenderRole.AGENT, sender=agent, body=f"m{n}")
    sequences = list(active_chat.messages.values_list("sequence", flat=True))

    async def scenario():
        socket, backlog, subscribed = await subscribed_customer(active_chat, after=sequences[2])
        await socket.disconnect()
        return backlog, subscribed

    backlog, subscribed = async_to_sync(scenario)()
    assert [f["sequence"] for f in backlog] == sequences[3:]
    assert subscribed["last"] == sequences[-1]


def test_a_chat_token_reaches_only_its_own_conversation(active_chat, make_conversation, chat_workstream):
    """SEC-1: a forged or altered token opens nothing; one customer socket serves one conversation."""
    other = make_conversation(chat_workstream)

    async def scenario():
        socket = customer_socket()
        await socket.connect()
        forged = token_for(active_chat)[:-2] + "xx"
        await send(socket, {"type": "subscribe", "token": forged})
        assert "cannot open" in (await receive(socket, "error"))["error"]
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "k", "body": "sneak"})
        assert "Open the conversation" in (await receive(socket, "error"))["error"]
        await send(socket, {"type": "subscribe", "token": token_for(active_chat)})
        await receive(socket, "subscribed")
        await send(socket, {"type": "subscribe", "token": token_for(other)})
        assert "cannot open" in (await receive(socket, "error"))["error"]
        await send(socket, {"type": "message", "conversation": other.pk, "key": "k2", "body": "sneak"})
        assert "Open the conversation" in (await receive(socket, "error"))["error"]
        await socket.disconnect()

    async_to_sync(scenario)()
    assert not Message.objects.filter(body="sneak").exists()


def test_agents_open_only_conversations_they_may_see(active_chat, other_agent):
    """SEC-1: another agent's conversation cannot be opened or written in from the agent socket."""

    async def scenario():
        panel = agent_socket(other_agent)
        assert (await panel.connect())[0]
        await send(panel, {"type": "subscribe", "conversation": active_chat.pk})
        assert "cannot open" in (await receive(panel, "error"))["error"]
        await panel.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("origin", "opens"), [(b"https://evil.example", False), (None, False), (b"http://localhost:8000", True)]
)
def test_socket_opens_only_from_the_products_own_origins(active_chat, origin, opens):
    """SEC-1: the product's sockets accept only pages from its own hosts; a client that sends no
    Origin is refused too (docs/chat-protocol.md)."""

    async def scenario():
        headers = [(b"host", b"localhost")] + ([(b"origin", origin)] if origin else [])
        socket = WebsocketCommunicator(application, "/ws/chat/customer/", headers=headers)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert async_to_sync(scenario)() is opens


def test_oversized_and_malformed_frames_get_a_clear_error_and_store_nothing(active_chat):
    """SEC-1: message size limits answer with an error; the socket stays usable."""

    async def scenario():
        socket, _, _ = await subscribed_customer(active_chat)
        await socket.send_to(text_data="x" * (MAX_FRAME_BYTES + 1))
        assert "too large" in (await receive(socket, "error"))["error"]
        await socket.send_to(text_data="{not json")
        assert "not understood" in (await receive(socket, "error"))["error"]
        body = "y" * 4001
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "long", "body": body})
        error = await receive(socket, "error")
        assert error["key"] == "long" and "at most 4000 characters" in error["error"]
        await send(socket, {"type": "message", "conversation": active_chat.pk, "key": "ok", "body": "fine"})
        assert (await receive(socket, "ack"))["key"] == "ok"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert list(active_chat.messages.filter(notice="").values_list("body", flat=True)) == ["fine"]


def test_rate_limit_refuses_the_excess_and_keeps_everything_accepted(active_chat):
    """SEC-1, REL-1: a flood past the per-connection limit gets "try again" errors for the
    excess; every acknowledged message is stored, once, and nothing else is."""

    async def scenario():
        socket, _, _ = await subscribed_customer(active_chat)
        for n in range(40):
            await send(
                socket, {"type": "message", "conversation": active_chat.pk, "key": f"f{n}", "body": f"flood {n}"}
            )
        acked, refused = set(), set()
        while len(acked) + len(refused) < 40:
            frame = json.loads(await socket.receive_from(timeout=5))
            if frame["type"] == "ack":
                acked.add(frame["key"])
            elif frame["type"] == "error":
                assert frame["retry"] is True and "Too many messages" in frame["error"]
                refused.add(frame["key"])
        await socket.disconnect()
        return acked, refused

    acked, refused = async_to_sync(scenario)()
    assert refused and len(acked) >= 20
    stored = set(active_chat.messages.filter(notice="").values_list("idempotency_key", flat=True))
    assert stored == acked


def test_typing_reaches_the_other_side_only(active_chat, agent):
    """CH-3: the customer's typing shows in the agent's panel, not back in the customer's own."""

    async def scenario():
        customer, _, _ = await subscribed_customer(active_chat)
        panel = agent_socket(agent)
        await panel.connect()
        await send(panel, {"type": "subscribe", "conversation": active_chat.pk})
        await receive(panel, "subscribed")
        await send(customer, {"type": "typing", "conversation": active_chat.pk})
        frame = await receive(panel, "typing")
        assert frame == {"type": "typing", "conversation": active_chat.pk, "customer": True}
        assert await customer.receive_nothing(timeout=0.3)
        await customer.disconnect()
        await panel.disconnect()

    async_to_sync(scenario)()


def test_read_marks_move_forward_and_reach_the_other_side(active_chat, agent):
    """CH-3: delivered and read marks are stored, never move back, and the customer sees them."""
    message = message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="Are you there?")

    async def scenario():
        customer, _, _ = await subscribed_customer(active_chat)
        panel = agent_socket(agent)
        await panel.connect()
        await send(panel, {"type": "subscribe", "conversation": active_chat.pk})
        await receive(panel, "subscribed")
        await send(
            panel,
            {"type": "mark", "conversation": active_chat.pk, "delivered": message.sequence, "read": message.sequence},
        )
        marks = await receive(customer, "marks")
        await send(panel, {"type": "mark", "conversation": active_chat.pk, "delivered": 0, "read": 0})
        await receive(customer, "marks")
        await customer.disconnect()
        await panel.disconnect()
        return marks

    marks = async_to_sync(scenario)()
    assert marks["customer"] is False and marks["read"] == message.sequence
    active_chat.refresh_from_db()
    assert active_chat.agent_read_sequence == active_chat.agent_delivered_sequence == message.sequence


def test_customer_ends_the_chat_from_the_widget(active_chat, agent):
    """ST-3, CH-3: End in the widget moves the chat to Wrap-up; both sides get the state and the notice."""

    async def scenario():
        customer, _, _ = await subscribed_customer(active_chat)
        await send(customer, {"type": "end", "conversation": active_chat.pk})
        frames = {}
        while len(frames) < 2:
            frame = json.loads(await customer.receive_from(timeout=5))
            frames.setdefault(frame["type"], frame)
            frames.pop("pong", None)
        await customer.disconnect()
        return frames["state"], frames["message"]

    state, notice = async_to_sync(scenario)()
    assert state["state"] == "wrap_up"
    assert "The customer ended the chat" in notice["html"]
    active_chat.refresh_from_db()
    assert active_chat.state == "wrap_up"


def test_customer_socket_is_the_customers_connection(active_chat):
    """ST-21: the customer's socket makes them present; closing the last one starts the clock."""

    async def scenario():
        socket, _, _ = await subscribed_customer(active_chat)
        assert await database_sync_to_async(CustomerConnection.objects.filter(conversation=active_chat).count)() == 1
        await socket.disconnect()

    async_to_sync(scenario)()
    active_chat.refresh_from_db()
    assert not CustomerConnection.objects.exists()
    assert active_chat.customer_disconnected_at is not None
