"""Supervisor actions end to end in headless Chromium (seed 001): supervisor, agent and customer
in three browser contexts against one daphne server with its worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.models import Conversation, ConversationEvent
from omnichannel.conversations.roles import SUPERVISOR
from omnichannel.testing.browser import (
    accept_offer,
    agent_at_home,
    bodies,
    open_widget,
    send,
    start_chat,
    wait_state,
    wait_until,
)
from omnichannel.testing.fixtures import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 15_000


@pytest.fixture
def sofie(make_agent):
    """A supervisor in no queue, so distribution never offers her the customer's chat."""
    return make_agent(role=SUPERVISOR, first_name="Sofie", queues=[])


def chat_in_progress(new_page, agent):
    """A customer in the widget chatting with the agent, who accepted the offer."""
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    frame = open_widget(customer)
    conversation = start_chat(frame)
    accept_offer(agent_page, conversation)
    return agent_page, frame, conversation


def supervisor_page(new_page, supervisor):
    page = new_page()
    log_in(page, supervisor.username)
    page.wait_for_url("**/supervisor/")
    return page


def test_supervisor_monitors_joins_writes_leaves_and_force_closes(new_page, agent, sofie, chat_workstream, screenshot):
    """SUP-3, SUP-4, SUP-7: from the dashboard the supervisor monitors the chat: customer and
    agent messages arrive live with the sentiment trend; Join tells both sides, the supervisor's
    message reaches both, Leave tells both; Force close asks first, then closes it and the
    customer's widget and the agent's panel both say a supervisor ended it."""
    agent_page, frame, conversation = chat_in_progress(new_page, agent)
    board = supervisor_page(new_page, sofie)
    row = board.locator(f"#conversation-{conversation.pk}")
    row.get_by_role("button", name="Monitor").click(timeout=LIVE)
    board.wait_for_url(f"**/supervisor/conversations/{conversation.pk}/")
    transcript = board.locator("[data-chat-transcript]")

    composer = frame.get_by_label("Your message")
    reply = agent_page.get_by_label("Reply to the customer")
    send(composer, "This is terrible, my order never came")
    expect(transcript.locator(".message__body")).to_have_text(["This is terrible, my order never came"], timeout=LIVE)
    send(reply, "I am so sorry, let me check")
    expect(transcript.locator(".message--agent .message__body")).to_have_text(
        ["I am so sorry, let me check"], timeout=LIVE
    )
    expect(board.locator(".sentiment-trend")).to_be_visible(timeout=LIVE)
    expect(board.locator(".timeline-item[data-action='monitor']")).to_contain_text("Sofie")

    board.get_by_role("button", name="Join chat").click()
    joined = "Sofie (supervisor) joined the chat"
    expect(frame.locator(".message__notice", has_text=joined)).to_be_visible(timeout=LIVE)
    expect(agent_page.locator(".message__notice", has_text=joined)).to_be_visible(timeout=LIVE)
    # Join reloaded the page: write once its scripts have run (before, Enter only adds a line).
    expect(board.get_by_label("Write to customer and agent")).to_be_visible(timeout=LIVE)
    board.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    send(board.get_by_label("Write to customer and agent"), "Hello, I am the supervisor; we will fix this.")
    expect(bodies(frame).last).to_have_text("Hello, I am the supervisor; we will fix this.", timeout=LIVE)
    expect(bodies(agent_page).last).to_have_text("Hello, I am the supervisor; we will fix this.", timeout=LIVE)
    screenshot(board, "monitoring")

    board.get_by_role("button", name="Leave chat").click()
    left = "Sofie (supervisor) left the chat"
    expect(frame.locator(".message__notice", has_text=left)).to_be_visible(timeout=LIVE)
    expect(agent_page.locator(".message__notice", has_text=left)).to_be_visible(timeout=LIVE)
    expect(board.get_by_label("Write to customer and agent")).to_have_count(0)

    # Leave reloaded the page: the link opens the dialog once htmx has loaded (before, it opens
    # the same confirmation as a page of its own).
    board.wait_for_function("() => window.htmx && document.readyState === 'complete'")
    board.get_by_role("link", name="Force close").click()
    dialog = board.locator("#supervisor-dialog")
    expect(dialog).to_contain_text("told that a supervisor ended it", timeout=LIVE)
    assert Conversation.objects.get(pk=conversation.pk).state == "active"  # nothing before confirming
    screenshot(board, "force-close-confirmation")
    dialog.get_by_role("button", name="Force close").click()
    wait_state(conversation, "closed", timeout=15)
    ended = "A supervisor ended the chat"
    expect(frame.locator(".message__notice", has_text=ended)).to_be_visible(timeout=LIVE)
    expect(agent_page.locator(".message__notice", has_text=ended)).to_be_visible(timeout=LIVE)
    expect(board.locator("#supervisor-live .badge-closed").first).to_be_visible(timeout=LIVE)
    screenshot(board, "closed")
    actors = ConversationEvent.objects.filter(conversation=conversation, actor=sofie)
    assert list(actors.values_list("action", flat=True)) == [
        "monitor",
        "supervisor_join",
        "supervisor_leave",
        "force_close",
    ]


def test_supervisor_transfers_and_the_second_agent_accepts(
    new_page, agent, other_agent, sofie, chat_workstream, screenshot
):
    """SUP-6: the supervisor transfers an active chat to an agent of the same queue; the second
    agent gets Accept and Reject on their home and accepts; the customer sees them join, the
    first agent stays on as a consultant who can still write, and the supervisor's page shows
    the outcome live."""
    first_page, frame, conversation = chat_in_progress(new_page, agent)
    second_page = agent_at_home(new_page, other_agent)
    board = supervisor_page(new_page, sofie)
    board.goto(f"/supervisor/conversations/{conversation.pk}/")

    board.get_by_role("link", name="Transfer").click()
    dialog = board.locator("#supervisor-dialog")
    candidate = dialog.locator(f'[data-candidate="{other_agent.pk}"]')
    expect(candidate).to_be_visible(timeout=LIVE)
    expect(dialog.locator(f'[data-candidate="{agent.pk}"]')).to_have_count(0)
    candidate.locator("input").check()
    dialog.get_by_role("button", name="Transfer").click()
    expect(board.locator("[data-transfer-status]")).to_contain_text("Waiting for Bo Nielsen to accept", timeout=LIVE)

    offer = second_page.locator(f'[data-transfer="{conversation.pk}"]')
    expect(offer).to_contain_text("Transfer from a supervisor", timeout=LIVE)
    screenshot(second_page, "transfer-offer")
    offer.get_by_role("button", name="Accept").click()
    # The accepted transfer starts the conversation's session in the second agent's workspace.
    expect(second_page.locator(f'#session-pane[data-conversation-id="{conversation.pk}"]')).to_be_visible(timeout=LIVE)
    expect(frame.locator(".message__notice", has_text="Bo joined the chat")).to_be_visible(timeout=LIVE)
    expect(board.locator("[data-transfer-status]")).to_contain_text("Transfer accepted", timeout=LIVE)

    row = Conversation.objects.get(pk=conversation.pk)
    assert row.primary_agent == other_agent and list(row.consultants.all()) == [agent]
    send(second_page.get_by_label("Reply to the customer"), "Bo here, I will take over.")
    expect(bodies(frame).last).to_have_text("Bo here, I will take over.", timeout=LIVE)
    send(first_page.get_by_label("Reply to the customer"), "Anna still here to help.")
    expect(bodies(frame).last).to_have_text("Anna still here to help.", timeout=LIVE)
    wait_until(
        lambda: ConversationEvent.objects.filter(conversation=conversation, action="transfer_accept").exists(),
        what="the accept event",
    )
    screenshot(board, "transfer-accepted")


def test_supervisor_assigns_from_the_dashboard_with_an_override(new_page, make_agent, sofie, chat_workstream):
    """SUP-5, SES-3: the customer's chat waits Open because the only agent shows Away, which the
    workstream does not allow. From the dashboard row the supervisor opens Assign: no agent
    fits; the override lists the agent with the reason; assigning makes the chat theirs, the
    customer sees them join, the agent is told who assigned it and, being at Home, is taken to
    its session with the communication panel, and My work items shows it, all without a reload."""
    anna = make_agent(first_name="Anna", presence="away")
    agent_page = agent_at_home(new_page, anna)
    customer = new_page()
    frame = open_widget(customer)
    conversation = start_chat(frame)
    board = supervisor_page(new_page, sofie)
    row = board.locator(f"#conversation-{conversation.pk}")
    expect(row).to_have_attribute("data-state", "open", timeout=LIVE)

    row.get_by_role("button", name="Assign").click()
    dialog = board.locator("#supervisor-dialog")
    expect(dialog).to_contain_text("No agent fits now.", timeout=LIVE)
    dialog.get_by_role("link", name="Override presence and capacity").click()
    candidate = dialog.locator(f'[data-candidate="{anna.pk}"]')
    expect(candidate).to_contain_text("presence not allowed", timeout=LIVE)
    candidate.locator("input").check()
    dialog.get_by_role("button", name="Assign", exact=True).click()

    board.wait_for_url("**/supervisor/")
    expect(board.get_by_text("Assigned to Anna")).to_be_visible(timeout=LIVE)
    wait_state(conversation, "active", timeout=15)
    expect(frame.locator(".message__notice", has_text="Anna joined the chat")).to_be_visible(timeout=LIVE)
    notice = agent_page.locator("#agent-notices .agent-notice")
    expect(notice).to_contain_text("Sofie assigned it to you. Its session is open.", timeout=LIVE)
    expect(notice).to_contain_text(f"Visitor {conversation.visitor_id}")
    expect(agent_page.locator(f'#session-pane[data-conversation-id="{conversation.pk}"]')).to_be_visible(timeout=LIVE)
    expect(agent_page.get_by_label("Reply to the customer")).to_be_visible()
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_have_count(0)
    agent_page.locator("#session-home").click()
    expect(agent_page.locator("#work-items")).to_contain_text(f"Visitor {conversation.visitor_id}", timeout=LIVE)
    event = ConversationEvent.objects.get(conversation=conversation, action="assign")
    assert (event.actor, event.agent) == (sofie, anna)
