"""Records and the knowledge base in the workspace, in headless Chromium: the agent accepts a
chat, creates a case from it and sends a knowledge article's link that the customer sees and
opens, in a second browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.models import Case, CaseStatus, Conversation, Message, SenderRole
from omnichannel.conversations.states import Channel, State
from omnichannel.testing.browser import accept_offer, agent_at_home, open_widget, start_chat, wait_until
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT = 15_000


def test_agent_creates_a_case_and_sends_an_article_link_the_customer_opens(
    new_page, agent, chat_workstream, make_article, screenshot
):
    """REC-1, KB-1, SES-3: after Accept, the Active conversation tab creates a case from the
    chat; Knowledge base search finds the article, ranked first; Send link posts its address,
    which the customer sees in the widget as a link and opens on the public article page."""
    article = make_article(
        "Refund a double charge", "If a card was charged twice, we refund it.", keywords="charged twice"
    )
    make_article("Delivery times", "A refund for late delivery is possible.")
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    frame = open_widget(customer)
    conversation = start_chat(frame)
    accept_offer(agent_page, conversation)

    # The session has started once both of its application tabs have loaded (SES-3).
    active = agent_page.locator("#tabpanel-active_conversation")
    expect(active).to_contain_text("Conversation summary", timeout=TIMEOUT)
    expect(agent_page.locator("#tabpanel-knowledge_search")).to_contain_text("Latest articles", timeout=TIMEOUT)
    expect(active).to_contain_text("No case is linked to this conversation.")
    active.get_by_label("New case title").fill("Charged twice for order 1042")
    active.get_by_role("button", name="Create case").click()
    expect(active.get_by_role("link", name="Charged twice for order 1042")).to_be_visible(timeout=TIMEOUT)
    wait_until(
        lambda: Conversation.objects.filter(pk=conversation.pk, case__title="Charged twice for order 1042").exists(),
        what="the case to be linked",
    )

    agent_page.get_by_role("tab", name="Knowledge base search").click()
    knowledge = agent_page.locator("#tabpanel-knowledge_search")
    expect(knowledge).to_be_visible(timeout=TIMEOUT)
    knowledge.get_by_label("Search articles").fill("refund")
    expect(knowledge.locator(".kb-item__title")).to_have_text(
        ["Refund a double charge", "Delivery times"], timeout=TIMEOUT
    )
    knowledge.get_by_role("button", name="Send link to Refund a double charge").click()

    link = frame.locator(".message--agent .message__body a")
    expect(link).to_have_text(re.compile(rf"/kb/{article.slug}/$"), timeout=TIMEOUT)
    expect(frame.locator(".message--agent .message__body")).to_contain_text("Refund a double charge")
    expect(agent_page.locator(".comm-panel .message--agent .message__body a")).to_have_count(1, timeout=TIMEOUT)
    screenshot(agent_page, "knowledge-link-sent")
    screenshot(customer, "customer-sees-link")
    assert Message.objects.filter(conversation=conversation, sender_role=SenderRole.AGENT).count() == 1
    with customer.context.expect_page() as opened:
        link.click()
    article_page = opened.value
    expect(article_page.get_by_role("heading", name="Refund a double charge")).to_be_visible(timeout=TIMEOUT)
    expect(customer.frame_locator("iframe[data-omnichannel-chat]").get_by_label("Your message")).to_be_visible()


def test_resolving_the_case_and_closing_the_session_closes_the_record(
    new_page, agent, make_workstream, make_conversation, make_case, contact
):
    """ST-6, REC-1: in a record work item's session the agent opens the case tab from the Active
    conversation page, resolves the case there, closes the session after the confirmation,
    and the record work item is Closed; before the case was resolved closing was refused."""
    case = make_case("Tent pole broke", contact=contact, account=contact.account)
    record = make_conversation(make_workstream(Channel.CASE), case=case, contact=contact)
    conversation_pick(conversation=record, agent=agent)
    session_actions.session_open(agent=agent, conversation=record)
    page = agent_at_home(new_page, agent)

    active = page.locator("#tabpanel-active_conversation")
    expect(active).to_contain_text("Tent pole broke", timeout=TIMEOUT)
    expect(active).to_contain_text(contact.account.name)
    active.get_by_role("link", name="Tent pole broke").click()
    case_tab = page.locator(f"#tabpanel-case-{case.pk}")
    expect(case_tab.get_by_label("Status")).to_be_visible(timeout=TIMEOUT)

    close = page.get_by_role("button", name=f"Close session {record.title}")
    page.locator("#session-list .session", has_text=record.title).hover()
    close.click()
    page.locator("#confirm-dialog").get_by_role("button", name="Close session").click()
    expect(page.get_by_role("alert")).to_contain_text("Resolve or deactivate the case first", timeout=TIMEOUT)
    assert Conversation.objects.get(pk=record.pk).state == State.ACTIVE

    case_tab = page.locator(f"#tabpanel-case-{case.pk}")
    case_tab.get_by_label("Status").select_option(label="Resolved")
    case_tab.get_by_role("button", name="Save case").click()
    expect(case_tab.get_by_role("status")).to_have_text("Case saved.", timeout=TIMEOUT)
    wait_until(lambda: Case.objects.filter(pk=case.pk, status=CaseStatus.RESOLVED).exists(), what="the case saved")

    page.locator("#session-list .session", has_text=record.title).hover()
    close.click()
    page.locator("#confirm-dialog").get_by_role("button", name="Close session").click()
    expect(page.locator("#session-list .session", has_text=record.title)).to_have_count(0, timeout=TIMEOUT)
    wait_until(lambda: Conversation.objects.get(pk=record.pk).state == State.CLOSED, what="the record closed")


def test_a_created_case_leaves_its_title_field_and_draft_empty(new_page, agent, chat_workstream, make_conversation):
    """REC-1, SES-4: after Create case the title field is empty, and so is its saved draft, so
    a reload brings nothing back; also when the title's own draft save was still on its way
    when the case was created (it must not land after the clearing)."""
    chat = make_conversation(chat_workstream)
    conversation_pick(conversation=chat, agent=agent)
    session_actions.session_open(agent=agent, conversation=chat)
    page = agent_at_home(new_page, agent)
    held = []
    holding = True

    def hold(route):
        if holding:
            held.append(route)
        else:
            route.continue_()

    page.route("**/sessions/*/drafts/", hold)
    active = page.locator("#tabpanel-active_conversation")
    active.get_by_label("New case title").fill("Wrong size delivered")
    active.get_by_role("button", name="Create case").click()
    expect(active.get_by_role("link", name="Wrong size delivered")).to_be_visible(timeout=TIMEOUT)
    expect(active.get_by_label("New case instead")).to_have_value("")
    page.evaluate("0")  # the route handlers of the saves sent so far have run
    holding = False
    title_saves = [route for route in held if "Wrong+size" in (route.request.post_data or "")]
    assert title_saves, "the title's draft save was sent"
    # The network may deliver a later save first: any other save sent meanwhile lands before the title's.
    for route in held:
        if route not in title_saves:
            with page.expect_response(lambda response, route=route: response.request == route.request):
                route.continue_()
    # Released now, the title's save lands, and the clearing follows it.
    with page.expect_response(
        lambda response: "active_conversation%22%3Anull" in (response.request.post_data or ""), timeout=TIMEOUT
    ):
        for route in title_saves:
            route.continue_()
    assert "active_conversation" not in AgentSession.objects.get(agent=agent, conversation=chat).draft
    page.reload()
    expect(page.locator("#tabpanel-active_conversation").get_by_label("New case instead")).to_have_value(
        "", timeout=TIMEOUT
    )
