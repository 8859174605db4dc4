"""The agent workspace in headless Chromium against a daphne server with its worker; where a
conversation is involved, the customer chats from the widget in a second browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from omnichannel.conversations import actions
from omnichannel.conversations.models import AgentProfile, Case, Contact, Conversation, PresenceBase
from omnichannel.testing.fixtures import log_in
from omnichannel.widget.tests.test_browser import agent_at_home, open_widget, send, start_chat, wait_until
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT = 15_000


def session_item(page, title: str):
    return page.locator("#session-list .session", has=page.locator(".session__title", has_text=title))


def customer_chat(new_page, agent_page):
    """A customer starts a chat in the widget and the agent accepts it; (frame, conversation)."""
    customer = new_page()
    frame = open_widget(customer)
    conversation = start_chat(frame)
    agent_page.locator(f'.offer[data-offer="{conversation.pk}"]').get_by_role("button", name="Accept").click(
        timeout=TIMEOUT
    )
    title = f"Visitor {conversation.visitor_id}"
    expect(session_item(agent_page, title)).to_have_class(re.compile(r"\bis-focused\b"), timeout=TIMEOUT)
    expect(agent_page.get_by_label("Reply to the customer")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator(".message__notice", has_text="joined the chat")).to_be_visible(timeout=TIMEOUT)
    return frame, conversation


def test_accepting_an_offer_starts_a_session(new_page, agent, chat_workstream, screenshot):
    """SES-3, PR-2: accepting the incoming chat starts its session: the presence updates as
    configured (capacity now full, so Busy), the communication panel appears, the Active
    conversation page loads in the application tab panel and Knowledge base search opens."""
    AgentProfile.objects.filter(user=agent).update(capacity=chat_workstream.capacity_units)
    agent_page = agent_at_home(new_page, agent)
    expect(agent_page.get_by_label("Presence")).to_have_text(re.compile("Available"))
    frame, conversation = customer_chat(new_page, agent_page)
    assert agent_page.url.endswith("/agent/")
    title = f"Visitor {conversation.visitor_id}"
    expect(agent_page.locator(".session-header h1")).to_have_text(title)
    expect(agent_page.locator(".comm-panel__header h2")).to_have_text(title)
    selected = agent_page.get_by_role("tab", selected=True)
    expect(selected).to_have_text("Active conversation")
    active = agent_page.locator("#tabpanel-active_conversation")
    expect(active).to_contain_text(title, timeout=TIMEOUT)
    expect(agent_page.get_by_role("tab", name="Knowledge base search")).to_be_visible()
    expect(agent_page.locator("#tabpanel-knowledge_search")).not_to_contain_text("Loading…", timeout=TIMEOUT)
    busy = AgentProfile.objects.select_related("presence").get(user=agent).presence
    assert busy.base == PresenceBase.BUSY
    expect(agent_page.locator("#presence select option:checked")).to_have_text(str(busy), timeout=TIMEOUT)
    # The chat works from the session's panel.
    send(frame.get_by_label("Your message"), "Hello from the widget")
    expect(agent_page.locator(".comm-panel .message__body")).to_have_text(["Hello from the widget"], timeout=TIMEOUT)
    screenshot(agent_page, "session")


def test_home_is_anchored_and_the_panel_collapses_and_remembers(new_page, agent, active_chat):
    """SES-1: the vertical session panel has Home anchored first, with no X; it is expanded by
    default; the hamburger collapses and expands it; the state survives a reload."""
    session_actions.session_open(agent=agent, conversation=active_chat)
    page = agent_at_home(new_page, agent)
    home = page.locator("#session-list .session").first
    expect(home.get_by_role("button", name="Home")).to_be_visible()
    expect(home.locator(".session__close")).to_have_count(0)
    title = page.locator(".session__title", has_text=active_chat.title)
    toggle = page.get_by_role("button", name="Collapse or expand the session panel")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(title).to_be_visible()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(title).to_be_hidden()
    page.reload()
    expect(page.get_by_role("button", name="Collapse or expand the session panel")).to_have_attribute(
        "aria-expanded", "false"
    )
    expect(page.locator(".session__title", has_text=active_chat.title)).to_be_hidden()
    page.get_by_role("button", name="Collapse or expand the session panel").click()
    expect(page.locator(".session__title", has_text=active_chat.title)).to_be_visible()
    page.get_by_role("button", name="Home").click()
    expect(page.get_by_role("heading", name="Agent dashboard")).to_be_visible()


def test_dashboard_streams_menus_and_shift_click(new_page, agent, make_workstream, make_conversation):
    """SES-2: Home shows My, Open and Closed work items; the "…" menu offers Open for My and
    Closed and Pick for Open, each starting the conversation's session; Shift+click on a case
    or a contact starts a case or contact session."""
    sms = make_workstream("sms", distribution="pick")
    contact = Contact.objects.create(first_name="Kenny", last_name="Smith")
    case = Case.objects.create(title="Broken tent pole", contact=contact)
    mine = make_conversation(sms, contact=contact, case=case)
    actions.conversation_pick(conversation=mine, agent=agent)
    waiting = make_conversation(sms)
    closed = make_conversation(sms)
    actions.conversation_pick(conversation=closed, agent=agent)
    actions.conversation_end(conversation=closed, agent=agent)
    actions.conversation_close_session(conversation=closed, agent=agent)
    page = agent_at_home(new_page, agent)
    streams = {
        name: page.locator("section.card", has=page.get_by_role("heading", name=name))
        for name in ("My work items", "Open work items", "Closed work items")
    }
    expect(streams["My work items"].locator("tbody tr")).to_have_count(1)
    expect(streams["Open work items"].locator("tbody tr")).to_have_count(1)
    expect(streams["Closed work items"].locator("tbody tr")).to_have_count(1)

    def menu(stream, title):
        stream.get_by_role("button", name=f"More options for {title}").click()
        return stream.get_by_role("menuitem")

    expect(menu(streams["Closed work items"], closed.title)).to_have_text(["Open"])
    streams["Closed work items"].get_by_role("menuitem", name="Open").click()
    expect(page.locator(".session-header h1")).to_have_text(closed.title, timeout=TIMEOUT)

    page.get_by_role("button", name="Home").click()
    expect(menu(streams["Open work items"], waiting.title)).to_have_text(["Pick"])
    streams["Open work items"].get_by_role("menuitem", name="Pick").click()
    expect(page.locator(".session-header h1")).to_have_text(waiting.title, timeout=TIMEOUT)
    assert Conversation.objects.get(pk=waiting.pk).primary_agent == agent

    page.get_by_role("button", name="Home").click()
    expect(menu(streams["My work items"], mine.title)).to_have_text(["Open"])
    streams["My work items"].get_by_role("menuitem", name="Open").click()
    expect(page.locator(".session-header h1")).to_have_text("Kenny Smith", timeout=TIMEOUT)

    page.get_by_role("button", name="Home").click()
    streams["My work items"].get_by_role("link", name="Broken tent pole").click(modifiers=["Shift"])
    expect(page.locator(".session-header h1")).to_have_text("Broken tent pole", timeout=TIMEOUT)
    expect(page.get_by_role("tab", selected=True)).to_have_text(f"Case {case.pk}")
    page.get_by_role("button", name="Home").click()
    streams["My work items"].locator(f'[data-session-open="contact:{contact.pk}"]').click(modifiers=["Shift"])
    expect(page.locator(".session-header h1")).to_have_text("Kenny Smith", timeout=TIMEOUT)
    expect(page.get_by_role("tab", selected=True)).to_have_text(f"Contact {contact.pk}")
    kinds = list(AgentSession.objects.filter(agent=agent).order_by("position").values_list("kind", flat=True))
    assert kinds == ["conversation", "conversation", "conversation", "case", "contact"]


def test_switching_sessions_keeps_an_unsaved_case_title_also_after_reload(
    new_page, agent, make_conversation, chat_workstream
):
    """SES-4: a case title typed and not saved is still there on returning to its session, and
    after a page reload; nothing was saved to the case."""
    case = Case.objects.create(title="Tent pole")
    # The agent works a chat about the case, so the case is theirs to edit.
    actions.conversation_pick(conversation=make_conversation(chat_workstream, case=case), agent=agent)
    session_actions.session_open(agent=agent, case=case)
    other = make_conversation(chat_workstream)
    actions.conversation_pick(conversation=other, agent=agent)
    session_actions.session_open(agent=agent, conversation=other)
    page = agent_at_home(new_page, agent)
    session_item(page, "Tent pole").get_by_role("button", name="Tent pole").click()
    title = page.get_by_label("Title")
    expect(title).to_have_value("Tent pole", timeout=TIMEOUT)
    title.fill("Tent pole snapped in the storm")
    session_item(page, other.title).get_by_role("button", name=other.title).click()
    expect(page.locator(".session-header h1")).to_have_text(other.title, timeout=TIMEOUT)
    session_item(page, "Tent pole").get_by_role("button", name="Tent pole").click()
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped in the storm", timeout=TIMEOUT)
    wait_until(
        lambda: (
            AgentSession.objects.get(agent=agent, case=case).draft.get(f"case-{case.pk}", {}).get("title")
            == "Tent pole snapped in the storm"
        ),
        what="the draft to be saved",
    )
    page.reload()
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped in the storm", timeout=TIMEOUT)
    assert Case.objects.get(pk=case.pk).title == "Tent pole"
    # Saving the case drops the draft.
    page.get_by_role("button", name="Save case").click()
    wait_until(lambda: Case.objects.get(pk=case.pk).title == "Tent pole snapped in the storm", what="the save")
    wait_until(lambda: not AgentSession.objects.get(agent=agent, case=case).draft, what="the draft to go")
