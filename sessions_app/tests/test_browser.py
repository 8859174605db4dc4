"""The agent's side in headless Chromium against a daphne server with its in-process worker."""

import re
import time

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.models import AgentConnection
from omnichannel.testing.fixtures import log_in

pytestmark = pytest.mark.browser


def wait_connected(agent, timeout=10):
    deadline = time.monotonic() + timeout
    while not AgentConnection.objects.filter(agent=agent).exists():
        assert time.monotonic() < deadline, "the agent's socket never connected"
        time.sleep(0.1)


def test_offer_arrives_live_with_a_countdown_and_accept_opens_it(
    new_page, agent, chat_workstream, make_conversation, screenshot
):
    """RT-2, RT-3, SES-3: the worker (inside the server process, so its pushes reach the in-memory
    channel layer's sockets too) offers a new chat to the connected agent; the notification
    counts down; Accept starts the Active conversation's session."""
    page = new_page()
    log_in(page, agent.username)
    page.wait_for_url("**/agent/")
    wait_connected(agent)
    conversation = make_conversation(chat_workstream)
    offer = page.locator(f'[data-offer="{conversation.pk}"]')
    offer.wait_for(timeout=10_000)
    assert re.fullmatch(r"\d+ s", offer.locator("time.countdown").inner_text())
    screenshot(page, "offer")
    offer.get_by_role("button", name="Accept").click()
    pane = page.locator(f'#session-pane[data-conversation-id="{conversation.pk}"]')
    expect(pane.locator(".session-header .badge-active")).to_be_visible(timeout=15_000)


def test_agent_picks_from_open_work_items(new_page, agent, sms_workstream, make_conversation):
    """RT-4: in pick mode the agent picks from Open work items and the conversation opens.
    (Its live appearance is proven in test_agent_socket; created here, in the test process, it
    reaches the server's sockets only through Redis, so the page is loaded after creating it.)"""
    sms_workstream.distribution = "pick"
    sms_workstream.save()
    page = new_page()
    log_in(page, agent.username)
    page.wait_for_url("**/agent/")
    wait_connected(agent)
    conversation = make_conversation(sms_workstream)
    page.reload()
    pick = page.get_by_role("button", name=f"Pick {conversation.title}")
    pick.wait_for(timeout=10_000)
    pick.click()
    expect(page.locator(f'#session-pane[data-conversation-id="{conversation.pk}"]')).to_be_visible(timeout=15_000)
