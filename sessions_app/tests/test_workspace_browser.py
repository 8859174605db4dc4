"""The agent workspace in headless Chromium against a daphne server with its worker; where a
conversation is involved, the customer chats from the widget in a second browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.models import (
    AgentProfile,
    Case,
    Contact,
    Conversation,
    ConversationEvent,
    PresenceBase,
)
from omnichannel.testing.browser import agent_at_home, open_widget, send, start_chat, wait_until
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT = 15_000


@pytest.fixture(autouse=True)
def _patient_expectations():
    """Every expectation here waits as long as the slowest step may take on a loaded machine."""
    expect.set_options(timeout=TIMEOUT)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


def session_item(page, title: str):
    return page.locator("#session-list .session", has=page.locator(".session__title", has_text=title))


def go_home(page) -> None:
    page.get_by_role("button", name="Home").click()
    expect(page.get_by_role("heading", name="Agent dashboard")).to_be_visible(timeout=TIMEOUT)


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
    # Accept reloads the workspace: its scripts run once the new page has loaded.
    agent_page.wait_for_load_state("load")
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
    or a contact, or Open case / Open contact in the menu, starts a case or contact session."""
    sms = make_workstream("sms", distribution="pick")
    contact = Contact.objects.create(first_name="Kenny", last_name="Smith")
    case = Case.objects.create(title="Broken tent pole", contact=contact)
    mine = make_conversation(sms, contact=contact, case=case)
    conversation_pick(conversation=mine, agent=agent)
    waiting = make_conversation(sms)
    closed = make_conversation(sms)
    conversation_pick(conversation=closed, agent=agent)
    conversation_end(conversation=closed, agent=agent)
    conversation_close_session(conversation=closed, agent=agent)
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

    go_home(page)
    expect(menu(streams["Open work items"], waiting.title)).to_have_text(["Pick"])
    streams["Open work items"].get_by_role("menuitem", name="Pick").click()
    expect(page.locator(".session-header h1")).to_have_text(waiting.title, timeout=TIMEOUT)
    page.wait_for_load_state("load")  # Pick reloads the workspace
    assert Conversation.objects.get(pk=waiting.pk).primary_agent == agent

    go_home(page)
    expect(menu(streams["My work items"], mine.title)).to_have_text(["Open", "Open case", "Open contact"])
    streams["My work items"].get_by_role("menuitem", name="Open", exact=True).click()
    expect(page.locator(".session-header h1")).to_have_text("Kenny Smith", timeout=TIMEOUT)

    go_home(page)
    streams["My work items"].get_by_role("link", name="Broken tent pole").click(modifiers=["Shift"])
    expect(page.locator(".session-header h1")).to_have_text("Broken tent pole", timeout=TIMEOUT)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Broken tent pole")
    go_home(page)
    streams["My work items"].locator(f'[data-session-open="contact:{contact.pk}"]').click(modifiers=["Shift"])
    expect(page.locator(".session-header h1")).to_have_text("Kenny Smith", timeout=TIMEOUT)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Kenny Smith")
    # Open case from the menu focuses the case session already open.
    go_home(page)
    menu(streams["My work items"], mine.title)
    streams["My work items"].get_by_role("menuitem", name="Open case").click()
    expect(page.locator(".session-header h1")).to_have_text("Broken tent pole", timeout=TIMEOUT)
    kinds = list(AgentSession.objects.filter(agent=agent).order_by("position").values_list("kind", flat=True))
    assert kinds == ["conversation", "conversation", "conversation", "case", "contact"]


def test_switching_sessions_keeps_an_unsaved_case_title_also_after_reload(
    new_page, agent, make_conversation, chat_workstream
):
    """SES-4: a case title typed and not saved (in a case's form, and a new case's in a chat's
    Active conversation page) is still there on returning to its session, and after a page
    reload; nothing was saved."""
    case = Case.objects.create(title="Tent pole")
    # The agent works a chat about the case, so the case is theirs to edit.
    conversation_pick(conversation=make_conversation(chat_workstream, case=case), agent=agent)
    session_actions.session_open(agent=agent, case=case)
    other = make_conversation(chat_workstream)
    conversation_pick(conversation=other, agent=agent)
    session_actions.session_open(agent=agent, conversation=other)
    page = agent_at_home(new_page, agent)
    session_item(page, "Tent pole").locator(".session__switch").click()
    title = page.get_by_label("Title")
    expect(title).to_have_value("Tent pole", timeout=TIMEOUT)
    title.fill("Tent pole snapped in the storm")
    session_item(page, other.title).locator(".session__switch").click()
    expect(page.locator(".session-header h1")).to_have_text(other.title, timeout=TIMEOUT)
    # In the chat's session, a new case's title typed in the Active conversation page.
    page.get_by_label("New case title").fill("Wrong size delivered")
    session_item(page, "Tent pole").locator(".session__switch").click()
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped in the storm", timeout=TIMEOUT)
    session_item(page, other.title).locator(".session__switch").click()
    expect(page.get_by_label("New case title")).to_have_value("Wrong size delivered", timeout=TIMEOUT)
    page.reload()
    expect(page.get_by_label("New case title")).to_have_value("Wrong size delivered", timeout=TIMEOUT)
    session_item(page, "Tent pole").locator(".session__switch").click()
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped in the storm", timeout=TIMEOUT)
    wait_until(
        lambda: (
            AgentSession.objects.get(agent=agent, case=case).draft.get(f"case:{case.pk}", {}).get("title")
            == "Tent pole snapped in the storm"
        ),
        what="the draft to be saved",
    )
    page.reload()
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped in the storm", timeout=TIMEOUT)
    assert Case.objects.get(pk=case.pk).title == "Tent pole"
    assert not Case.objects.filter(title="Wrong size delivered").exists()
    # Saving the case drops the draft.
    page.get_by_role("button", name="Save case").click()
    wait_until(lambda: Case.objects.get(pk=case.pk).title == "Tent pole snapped in the storm", what="the save")
    wait_until(lambda: not AgentSession.objects.get(agent=agent, case=case).draft, what="the draft to go")


def test_a_draft_still_on_its_way_survives_switching_back(new_page, agent, make_conversation, chat_workstream):
    """SES-4: a title typed just before switching away is not undone when the agent comes back
    before the server has stored it: the session's drafts from the server never replace values
    still on their way; once the save lands the server has it too."""
    case = Case.objects.create(title="Tent pole")
    conversation_pick(conversation=make_conversation(chat_workstream, case=case), agent=agent)
    session_actions.session_open(agent=agent, case=case)
    other = make_conversation(chat_workstream)
    conversation_pick(conversation=other, agent=agent)
    session_actions.session_open(agent=agent, conversation=other)
    page = agent_at_home(new_page, agent)
    held = []
    page.route("**/sessions/*/drafts/", lambda route: held.append(route))  # saves wait until released below
    session_item(page, "Tent pole").locator(".session__switch").click()
    title = page.get_by_label("Title")
    expect(title).to_have_value("Tent pole")
    title.fill("Tent pole snapped")
    session_item(page, other.title).locator(".session__switch").click()
    expect(page.locator(".session-header h1")).to_have_text(other.title)
    session_item(page, "Tent pole").locator(".session__switch").click()
    expect(page.locator(".session-header h1")).to_have_text("Tent pole")
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped")
    assert held, "the draft save was sent"
    for route in held:
        route.continue_()
    wait_until(
        lambda: (
            AgentSession.objects.get(agent=agent, case=case).draft.get(f"case:{case.pk}", {}).get("title")
            == "Tent pole snapped"
        ),
        what="the draft to be saved",
    )
    expect(page.get_by_label("Title")).to_have_value("Tent pole snapped")


def test_a_refused_save_shows_why_and_keeps_the_draft(
    new_page, agent, make_conversation, chat_workstream, browser_errors
):
    """SES-4, REC-1: a case save the server refuses (422) shows its reason in the tab, and what
    was typed stays a draft: it is still there after switching away and back."""
    browser_errors.allow(r"\(\S+/agent/cases/\d+/\): Failed to load resource: .* 422 ")
    case = Case.objects.create(title="Tent pole")
    conversation_pick(conversation=make_conversation(chat_workstream, case=case), agent=agent)
    session_actions.session_open(agent=agent, case=case)
    other = make_conversation(chat_workstream)
    conversation_pick(conversation=other, agent=agent)
    session_actions.session_open(agent=agent, conversation=other)
    page = agent_at_home(new_page, agent)
    session_item(page, "Tent pole").locator(".session__switch").click()
    expect(page.get_by_label("Title")).to_have_value("Tent pole")
    page.get_by_label("Title").fill("   ")  # passes the browser's required check; the server refuses it
    page.get_by_role("button", name="Save case").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the case a title.")
    wait_until(
        lambda: AgentSession.objects.get(agent=agent, case=case).draft.get(f"case:{case.pk}", {}).get("title") == "   ",
        what="the draft to stay saved",
    )
    session_item(page, other.title).locator(".session__switch").click()
    expect(page.locator(".session-header h1")).to_have_text(other.title)
    session_item(page, "Tent pole").locator(".session__switch").click()
    expect(page.locator(".session-header h1")).to_have_text("Tent pole")
    expect(page.get_by_label("Title")).to_have_value("   ")
    assert Case.objects.get(pk=case.pk).title == "Tent pole"


def test_closing_a_session_asks_first_then_moves_the_conversation(new_page, agent, chat_workstream):
    """SES-5, ST-4: the X shows on hover; a confirmation dialog follows; Cancel keeps the
    session; confirming closes it and the Active live chat goes back to Open, the customer told."""
    agent_page = agent_at_home(new_page, agent)
    frame, conversation = customer_chat(new_page, agent_page)
    title = f"Visitor {conversation.visitor_id}"
    item = session_item(agent_page, title)
    close = item.get_by_role("button", name=f"Close session {title}")
    agent_page.get_by_role("button", name="Home").hover()
    expect(close).to_have_css("opacity", "0")
    item.hover()
    expect(close).to_have_css("opacity", "1")
    close.click()
    dialog = agent_page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Close the session “{title}”?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert AgentSession.objects.filter(agent=agent).count() == 1
    item.hover()
    close.click()
    dialog.get_by_role("button", name="Close session").click()
    expect(item).to_have_count(0, timeout=TIMEOUT)
    expect(agent_page.get_by_role("heading", name="Agent dashboard")).to_be_visible()
    # Open again (the worker may offer it anew at once, so the timeline is what tells).
    wait_until(
        lambda: ConversationEvent.objects.filter(
            conversation=conversation, action="close_session", from_state="active", to_state="open"
        ).exists(),
        what="the chat to be Open",
    )
    expect(frame.locator(".message__notice", has_text="left the chat")).to_be_visible(timeout=TIMEOUT)


def test_keyboard_reaches_a_sessions_close_button_expanded_and_collapsed(
    new_page, agent, sms_workstream, make_conversation
):
    """SES-5, A11Y-1: Tab from a session's button reaches its X, which shows while it has the
    focus, with the session panel expanded and collapsed alike; Enter asks, Enter confirms."""
    conversations = [make_conversation(sms_workstream) for _ in range(2)]
    for conversation in conversations:
        conversation_pick(conversation=conversation, agent=agent)
        session_actions.session_open(agent=agent, conversation=conversation)
    page = agent_at_home(new_page, agent)
    dialog = page.locator("#confirm-dialog")
    for collapsed, conversation in zip((False, True), conversations, strict=True):
        if collapsed:
            page.get_by_role("button", name="Collapse or expand the session panel").click()
            expect(page.locator("html")).to_have_class(re.compile(r"\bsession-panel-collapsed\b"))
        item = session_item(page, conversation.title)
        close = item.get_by_role("button", name=f"Close session {conversation.title}")
        # A session panel pushed meanwhile gives the focus back to the same button (by its id),
        # and a confirmation whose button it replaced is still sent.
        item.locator(".session__switch").focus()
        page.keyboard.press("Tab")
        expect(close).to_be_focused()
        expect(close).to_have_css("opacity", "1")
        page.keyboard.press("Enter")
        expect(dialog).to_be_visible()
        page.keyboard.press("Enter")  # the dialog's Close session button has the focus
        expect(item).to_have_count(0)
        wait_until(
            lambda conversation=conversation: not AgentSession.objects.filter(conversation=conversation).exists(),
            what="the session to be closed",
        )


def test_titles_icons_sentiment_alert_and_unread_count(
    new_page, agent, chat_workstream, make_workstream, make_conversation, screenshot
):
    """SES-6, SES-7, SES-8: three sessions, titled "Visitor N" and by the contact's name, with
    their first two letters as icons; a customer's angry message puts the exclamation mark on
    their session's icon with the spec's tooltip; ten messages to a session not in focus show
    "9+" with "<title>. 10 new updates in your conversation"; focusing it clears the count."""
    agent_page = agent_at_home(new_page, agent)
    angry_frame, angry = customer_chat(new_page, agent_page)
    chatty_frame, chatty = customer_chat(new_page, agent_page)
    contact = Contact.objects.create(first_name="Kenny", last_name="Smith")
    # The agent also works an SMS from Kenny, so his record is theirs to see.
    # (Pick mode: the server's worker must not offer it meanwhile.)
    sms = make_conversation(make_workstream("sms", distribution="pick"), contact=contact)
    conversation_pick(conversation=sms, agent=agent)
    angry_title, chatty_title = f"Visitor {angry.visitor_id}", f"Visitor {chatty.visitor_id}"
    # A contact session (Shift+click would start it; opened here and loaded, being made in this process).
    session_actions.session_open(agent=agent, contact=contact)
    agent_page.reload()
    expect(agent_page.locator(".session-header h1")).to_have_text("Kenny Smith")
    expect(agent_page.locator("#session-list .session__title")).to_have_text(
        ["Home", angry_title, chatty_title, "Kenny Smith"]
    )
    expect(agent_page.locator("#session-list .session:not(.session--home) .session__icon")).to_have_text(
        [re.compile(r"^\s*Vi\s*$"), re.compile(r"^\s*Vi\s*$"), re.compile(r"^\s*Ke\s*$")]
    )

    send(angry_frame.get_by_label("Your message"), "This is terrible, awful, the worst service ever. I hate it.")
    alert = session_item(agent_page, angry_title).locator("[data-sentiment-alert]")
    expect(alert).to_have_text("!", timeout=TIMEOUT)
    expect(alert).to_have_attribute(
        "title", f"{angry_title}. It's important that you are very attentive in your conversation."
    )

    composer = chatty_frame.get_by_label("Your message")
    for n in range(1, 11):
        send(composer, f"Update {n}")
    unread = session_item(agent_page, chatty_title).locator("[data-unread]")
    expect(unread).to_have_text("9+", timeout=TIMEOUT)
    expect(unread).to_have_attribute("title", f"{chatty_title}. 10 new updates in your conversation")
    expect(session_item(agent_page, angry_title).locator("[data-unread]")).to_have_text("1")
    screenshot(agent_page, "three-sessions")

    session_item(agent_page, chatty_title).locator(".session__switch").click()
    expect(agent_page.locator(".session-header h1")).to_have_text(chatty_title, timeout=TIMEOUT)
    expect(unread).to_have_count(0)
    expect(agent_page.locator(".comm-panel .message__body")).to_have_text(
        [f"Update {n}" for n in range(1, 11)], timeout=TIMEOUT
    )


def test_each_session_keeps_its_own_application_tabs(new_page, agent, make_conversation, chat_workstream):
    """SES-9, A11Y-1: application tabs belong to their session: a case tab opened in one session
    is not in the other; the tab last shown in each comes back with it; arrow keys move along
    the tab strip."""
    case = Case.objects.create(title="Refund")
    first, second = make_conversation(chat_workstream, case=case), make_conversation(chat_workstream)
    for conversation in (first, second):
        conversation_pick(conversation=conversation, agent=agent)
    one = session_actions.session_open(agent=agent, conversation=first)
    session_actions.session_tab_open(agent=agent, session=one, tab=f"case:{case.pk}")
    session_actions.session_open(agent=agent, conversation=second)
    page = agent_at_home(new_page, agent)
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text(["Active conversation", "Knowledge base search"])
    page.get_by_role("tab", name="Active conversation").focus()
    page.keyboard.press("ArrowRight")  # A11Y-1: the tab strip is keyboard-operable
    expect(page.get_by_role("tab", name="Knowledge base search")).to_be_focused()
    expect(page.locator("#tabpanel-knowledge_search")).to_be_visible()
    expect(page.locator("#tabpanel-active_conversation")).to_be_hidden()
    wait_until(lambda: AgentSession.objects.get(conversation=second).active_tab == "knowledge_search", what="tab saved")

    session_item(page, "Refund").locator(".session__switch").click()
    expect(tabs).to_have_text(["Active conversation", "Knowledge base search", "Refund"], timeout=TIMEOUT)
    expect(page.get_by_role("tab", selected=True)).to_have_text("Refund")
    expect(page.locator(f"#tabpanel-case-{case.pk}").get_by_label("Title")).to_have_value("Refund", timeout=TIMEOUT)
    page.get_by_role("button", name="Close tab Refund").click()
    expect(tabs).to_have_text(["Active conversation", "Knowledge base search"], timeout=TIMEOUT)

    session_item(page, second.title).locator(".session__switch").click()
    expect(page.get_by_role("tab", selected=True)).to_have_text("Knowledge base search", timeout=TIMEOUT)


def unlabelled_controls(page) -> list[str]:
    """Every visible control without an accessible name (a simplified accname computation)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, [role=tab], [role=menuitem]')]
          .filter((el) => el.offsetParent !== null)
          .filter((el) => {
            const byId = (el.getAttribute('aria-labelledby') || '').split(' ').map((id) => document.getElementById(id)).filter(Boolean);
            const name = el.getAttribute('aria-label') || byId.map((e) => e.textContent).join(' ')
              || [...(el.labels || [])].map((l) => l.textContent).join(' ') || el.textContent || el.title || el.placeholder;
            return !(name || '').trim();
          })
          .map((el) => el.outerHTML.slice(0, 120))"""
    )


def test_keyboard_shortcuts_and_labelled_controls(new_page, agent, chat_workstream, make_conversation):
    """A11Y-1: Alt+Shift+1…9 switch to sessions 1 to 9 and Alt+Shift+H to Home; Alt+Shift+A accepts
    the incoming conversation; Alt+Shift+C puts the cursor in the reply box; "?" opens a help
    overlay listing the shortcuts; every control on the workspace has a name."""
    earlier = make_conversation(chat_workstream)
    conversation_pick(conversation=earlier, agent=agent)
    session_actions.session_open(agent=agent, conversation=earlier)
    session_actions.session_focus(agent=agent, session=None)
    agent_page = agent_at_home(new_page, agent)
    assert unlabelled_controls(agent_page) == []

    agent_page.keyboard.press("Alt+Shift+1")
    expect(agent_page.locator(".session-header h1")).to_have_text(earlier.title, timeout=TIMEOUT)
    assert unlabelled_controls(agent_page) == []
    agent_page.keyboard.press("Alt+Shift+H")
    expect(agent_page.get_by_role("heading", name="Agent dashboard")).to_be_visible(timeout=TIMEOUT)

    agent_page.keyboard.press("?")
    help_overlay = agent_page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_overlay).to_be_visible()
    for text in (
        "Switch to session 1 to 9",
        "Switch to Home",
        "Accept the incoming conversation",
        "Focus the reply box",
    ):
        expect(help_overlay).to_contain_text(text)
    agent_page.keyboard.press("Escape")
    expect(help_overlay).to_be_hidden()

    customer = new_page()
    conversation = start_chat(open_widget(customer))
    expect(agent_page.locator(f'.offer[data-offer="{conversation.pk}"]')).to_be_visible(timeout=TIMEOUT)
    agent_page.keyboard.press("Alt+Shift+A")
    expect(agent_page.locator(".session-header h1")).to_have_text(f"Visitor {conversation.visitor_id}", timeout=TIMEOUT)
    agent_page.wait_for_load_state("load")  # Accept reloads the workspace
    agent_page.keyboard.press("Alt+Shift+C")
    expect(agent_page.get_by_label("Reply to the customer")).to_be_focused()
    agent_page.keyboard.press("Alt+Shift+1")
    expect(agent_page.locator(".session-header h1")).to_have_text(earlier.title, timeout=TIMEOUT)
    # Its tabs load after the switch; switching again waits for them, as a reader would.
    expect(agent_page.locator("#tabpanel-active_conversation")).to_contain_text(earlier.title, timeout=TIMEOUT)
    agent_page.keyboard.press("Alt+Shift+2")
    expect(agent_page.locator(".session-header h1")).to_have_text(f"Visitor {conversation.visitor_id}", timeout=TIMEOUT)
    assert unlabelled_controls(agent_page) == []


def test_the_session_follows_its_conversation_live(new_page, agent, chat_workstream):
    """SES-3: when the customer ends the chat, the session's header and its Active conversation
    page show Wrap-up without a reload, and the session stays until the agent closes it."""
    agent_page = agent_at_home(new_page, agent)
    frame, conversation = customer_chat(new_page, agent_page)
    expect(agent_page.locator("#tabpanel-active_conversation .badge-active")).to_be_visible(timeout=TIMEOUT)
    frame.owner.page.once("dialog", lambda dialog: dialog.accept())  # End this chat?
    frame.get_by_role("button", name="End chat").click()
    expect(agent_page.locator(".session-header .badge-wrap_up")).to_be_visible(timeout=TIMEOUT)
    expect(agent_page.locator("#tabpanel-active_conversation .badge-wrap_up")).to_be_visible(timeout=TIMEOUT)
    expect(session_item(agent_page, f"Visitor {conversation.visitor_id}")).to_have_count(1)
