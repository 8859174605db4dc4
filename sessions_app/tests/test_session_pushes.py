"""The workspace's agent socket keeps the session panel live (SES-7, SES-8): it follows the
conversations the agent has sessions for and pushes the same session-panel partial the page renders."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.models import SenderRole
from omnichannel.websockets import websocket_urlpatterns
from sessions_app import actions as session_actions

pytestmark = pytest.mark.django_db(transaction=True)


async def receive_until(socket, needle: str, timeout: float = 5) -> str:
    """Pushes arrive in order but not only ours: read until one carries `needle`."""
    while True:
        html = await socket.receive_from(timeout=timeout)
        if needle in html:
            return html


def test_a_customer_message_pushes_the_unread_count_of_a_session_not_in_focus(agent, active_chat, active_sms):
    """SES-8: a customer writing in a session not in focus updates its unread count live; a
    session opened after the socket connected is followed too."""

    async def scenario():
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/workspace/")
        socket.scope["user"] = agent
        assert (await socket.connect())[0]
        await database_sync_to_async(session_actions.session_open)(agent=agent, conversation=active_chat)
        await receive_until(socket, 'id="session-panel"')
        await database_sync_to_async(session_actions.session_open)(agent=agent, conversation=active_sms)
        await receive_until(socket, 'data-session="')
        post = database_sync_to_async(message_post)
        await post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="Anyone there?")
        html = await receive_until(socket, "data-unread")
        assert f"{active_chat.title}. 1 new updates in your conversation" in html
        await post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="This is awful and I hate it.")
        html = await receive_until(socket, "data-sentiment-alert")
        assert "It&#x27;s important that you are very attentive in your conversation." in html
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_change_before_the_socket_joined_reaches_the_page_on_connecting(agent, active_chat):
    """SES-7: the page rendered, then the customer wrote angrily before the page's socket had
    joined its groups (no push reached it): on connecting, the socket sends the session panel
    fresh, with the sentiment alert."""
    session_actions.session_open(agent=agent, conversation=active_chat)
    message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="This is awful and I hate it.")

    async def scenario():
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/workspace/")
        socket.scope["user"] = agent
        assert (await socket.connect())[0]
        html = await socket.receive_from(timeout=5)
        await socket.disconnect()
        return html

    html = async_to_sync(scenario)()
    assert 'id="session-panel"' in html and "data-sentiment-alert" in html


def test_a_conversation_transferred_away_pushes_nothing_of_it_to_the_old_agent(
    agent, other_agent, active_sms, other_queue
):
    """SEC-1: once the conversation is another agent's, the old agent's socket pushes its
    session without state, sentiment alert or unread count."""
    session_actions.session_open(agent=agent, conversation=active_sms)
    session_actions.session_focus(agent=agent, session=None)
    conversation_transfer_to_queue(conversation=active_sms, queue=other_queue, actor=agent)
    other_queue.members.add(other_agent)
    conversation_pick(conversation=active_sms, agent=other_agent)

    async def scenario():
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/workspace/")
        socket.scope["user"] = agent
        assert (await socket.connect())[0]
        post = database_sync_to_async(message_post)
        await post(conversation=active_sms, sender_role=SenderRole.CUSTOMER, body="This is awful and I hate it.")
        await session_focus_home(agent)
        html = await receive_until(socket, 'id="session-panel"')
        assert "data-unread" not in html and "data-sentiment-alert" not in html
        await socket.disconnect()

    async_to_sync(scenario)()


@database_sync_to_async
def session_focus_home(agent):
    session_actions.session_focus(agent=agent, session=None)
