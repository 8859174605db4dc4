"""Steps browser tests share: the agent in the workspace, the customer in the chat widget."""

from __future__ import annotations

import time

from django.db.models import F
from playwright.sync_api import expect

from omnichannel.conversations.models import AgentConnection, Conversation

from .fixtures import log_in

WIDGET = "iframe[data-omnichannel-chat]"
TIMEOUT_MS = 15_000


def wait_until(predicate, *, timeout: float = 10, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def agent_at_home(new_page, agent):
    """The agent signed in on /agent/, its socket connected, so the worker offers it chats."""
    page = new_page()
    log_in(page, agent.username)
    page.wait_for_url("**/agent/")
    wait_until(lambda: AgentConnection.objects.filter(agent=agent).exists(), what="the agent's socket")
    return page


def open_widget(page):
    """The customer on the demo page opens the chat; the frame locator of the widget."""
    page.goto("/demo/")
    frame = page.frame_locator(WIDGET)
    frame.get_by_role("button", name="Chat with us").click()
    return frame


def start_chat(frame, **answers):
    for label, value in answers.items():
        frame.get_by_label(label).fill(value)
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.get_by_label("Your message")).to_be_visible()
    return wait_until(lambda: Conversation.objects.order_by("-pk").first(), what="the conversation")


def accept_offer(agent_page, conversation):
    """Accept the offer: the conversation's session starts in the workspace with its
    communication panel (SES-3), which is subscribed once this returns."""
    offer = agent_page.locator(f'.offer[data-offer="{conversation.pk}"]')
    offer.get_by_role("button", name="Accept").click(timeout=TIMEOUT_MS)
    expect(agent_page.locator(f'#session-pane[data-conversation-id="{conversation.pk}"]')).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(agent_page.get_by_label("Reply to the customer")).to_be_visible()
    # Once subscribed, the panel marks everything it shows as delivered; from then on its
    # socket also hears what is not stored, such as the customer typing.
    wait_until(
        lambda: Conversation.objects.filter(
            pk=conversation.pk, agent_delivered_sequence__gte=F("last_sequence")
        ).exists(),
        what="the agent's panel to subscribe",
    )


def state_of(conversation) -> str:
    return Conversation.objects.values_list("state", flat=True).get(pk=conversation.pk)


def wait_state(conversation, state: str, timeout: float = 10) -> None:
    wait_until(lambda: state_of(conversation) == state, timeout=timeout, what=f"state {state}")


def bodies(scope):
    """The message bodies of a transcript, in the widget or the communication panel."""
    return scope.locator(".message__body")


def send(composer, text: str) -> None:
    composer.fill(text)
    composer.press("Enter")
