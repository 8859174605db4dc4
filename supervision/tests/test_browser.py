"""The ongoing-conversations dashboard in headless Chromium (SUP-1): the supervisor watches
while a customer starts a chat in the widget and an agent takes it, all in one daphne server
with its worker, so every change reaches the dashboard's socket without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.models import AgentConnection, Conversation
from omnichannel.conversations.roles import SUPERVISOR
from omnichannel.testing.browser import WIDGET, accept_offer, wait_until
from omnichannel.testing.fixtures import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE = 15_000


def test_dashboard_updates_live_and_filters(new_page, make_agent, agent, chat_workstream, screenshot):
    """SUP-1: a new chat appears on the dashboard, its move to Active shows, the wait clock
    ticks and the key figures follow, with no reload; the state filter narrows the rows and
    its socket keeps following the narrowed view."""
    # Not a member of any queue: the supervisor's own agent socket must not take the chat.
    supervisor = make_agent(role=SUPERVISOR, first_name="Sofie", queues=[])
    board = new_page()
    log_in(board, supervisor.username)
    board.wait_for_url("**/supervisor/")
    dashboard = board.locator("#dashboard")
    expect(dashboard).to_have_attribute("data-live", "on", timeout=LIVE)
    expect(board.get_by_text("No ongoing conversations match.")).to_be_visible()
    board.evaluate("document.body.dataset.loaded = 'once'")  # gone if anything reloads the page

    customer = new_page()
    customer.goto("/demo/")
    frame = customer.frame_locator(WIDGET)
    frame.get_by_role("button", name="Chat with us").click()
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.get_by_label("Your message")).to_be_visible()
    conversation = wait_until(lambda: Conversation.objects.order_by("-pk").first(), timeout=15, what="the conversation")

    row = board.locator(f"#conversation-{conversation.pk}")
    expect(row).to_have_attribute("data-state", "open", timeout=LIVE)
    expect(row).to_contain_text(f"Visitor {conversation.visitor_id}")
    expect(board.locator('[data-kpi="waiting"]')).to_have_text("1")
    clock = row.locator("time.elapsed")
    expect(clock).to_have_text(re.compile(r"^\d+:\d\d$"))
    first = clock.inner_text()
    expect(clock).not_to_have_text(first, timeout=LIVE)  # ticks in the browser

    # The state filter: only Open conversations, swapped in place, with its own socket.
    board.get_by_label("State").select_option("open")
    board.wait_for_url(re.compile(r"\?.*state=open"))
    expect(dashboard).to_have_attribute("ws-connect", re.compile(r"state=open"))
    expect(dashboard).to_have_attribute("data-live", "on", timeout=LIVE)
    expect(row).to_be_visible()

    # An agent comes online; the worker offers the chat: it is Active and leaves the Open view.
    agent_page = new_page()
    log_in(agent_page, agent.username)
    agent_page.wait_for_url("**/agent/")
    wait_until(lambda: AgentConnection.objects.filter(agent=agent).exists(), timeout=15, what="the agent's socket")
    expect(row).to_be_hidden(timeout=LIVE)
    expect(board.locator('[data-kpi="waiting"]')).to_have_text("0")

    board.get_by_label("State").select_option("")
    expect(row).to_have_attribute("data-state", "active", timeout=LIVE)
    expect(row).to_contain_text("Anna Jensen")
    expect(dashboard).to_have_attribute("data-live", "on", timeout=LIVE)

    # The customer ends the chat: Wrap-up shows live.
    accept_offer(agent_page, conversation)
    customer.on("dialog", lambda dialog: dialog.accept())
    frame.get_by_role("button", name="End chat").click()
    expect(row).to_have_attribute("data-state", "wrap_up", timeout=LIVE)
    assert board.evaluate("document.body.dataset.loaded") == "once"
    screenshot(board, "dashboard")
