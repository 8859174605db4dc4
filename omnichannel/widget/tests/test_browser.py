"""The live-chat widget end to end: the customer in /demo/ (the widget's iframe) and the agent
in the communication panel, in two browser contexts against a daphne server with its worker."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from omnichannel.conversations.models import Conversation, Message, PreChatQuestion
from omnichannel.testing.browser import (
    WIDGET,
    accept_offer,
    agent_at_home,
    bodies,
    open_widget,
    send,
    start_chat,
    state_of,
    wait_state,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def widget_frame(page):
    """The widget's frame, for script evaluation (frame locators cannot evaluate)."""
    return page.locator(WIDGET).element_handle().content_frame()


@pytest.fixture
def order_question(chat_workstream):
    return PreChatQuestion.objects.create(workstream=chat_workstream, key="order", label="Order number")


def test_customer_starts_chat_from_demo_and_talks_live_with_agent(
    new_page, agent, chat_workstream, order_question, screenshot, browser_errors
):
    """CH-1, CH-2, CH-4, CH-3: the widget's iframe on a hostile host page keeps its own look;
    the monitoring notice shows before the chat starts; the required pre-chat answer is
    enforced (nothing created without it); the agent accepts and joins; messages, typing
    indicators and the read mark go both ways live; the agent sees "Visitor N"."""
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    customer.goto("/demo/")
    iframe = customer.locator(WIDGET)
    expect(iframe).to_be_visible()
    # The demo page says `iframe { border: 5px dashed red }` and `button { background: hotpink }`.
    assert iframe.evaluate("e => getComputedStyle(e).borderTopWidth") == "0px"
    frame = customer.frame_locator(WIDGET)
    launcher = frame.get_by_role("button", name="Chat with us")
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") != "rgb(255, 105, 180)"
    expect(launcher.locator("svg.widget-launcher__icon")).to_be_visible()
    screenshot(customer, "launcher")
    launcher.click()

    # The start without the required answer is refused (400), which Chromium logs.
    browser_errors.allow(r"\(\S+/chat/[\w-]+/start/\): Failed to load resource: .* 400 ")
    notice = frame.get_by_role("note")
    expect(notice).to_contain_text("may be monitored and recorded")
    assert Conversation.objects.count() == 0
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.get_by_text("Please answer “Order number”.")).to_be_visible()
    assert Conversation.objects.count() == 0

    conversation = start_chat(frame, **{"Order number": "NW-1042"})
    assert conversation.context["prechat"] == {"order": "NW-1042"}
    title = f"Visitor {conversation.visitor_id}"
    accept_offer(agent_page, conversation)
    expect(frame.locator(".message__notice", has_text="Anna joined the chat")).to_be_visible()
    expect(agent_page.locator(".session-header h1")).to_have_text(title)
    expect(agent_page.locator(".comm-panel__header h2")).to_have_text(title)

    composer = frame.get_by_label("Your message")
    reply = agent_page.get_by_label("Reply to the customer")

    composer.fill("Hello, where is my order?")
    expect(agent_page.get_by_text("The customer is typing…")).to_be_visible()
    composer.press("Enter")
    expect(bodies(agent_page)).to_have_text(["Hello, where is my order?"])
    expect(agent_page.get_by_text("The customer is typing…")).to_be_hidden()

    reply.fill("Let me check that for you.")
    expect(frame.get_by_text("The agent is typing…")).to_be_visible()
    reply.press("Enter")
    expect(bodies(frame)).to_have_text(["Hello, where is my order?", "Let me check that for you."])
    expect(frame.get_by_text("The agent is typing…")).to_be_hidden()
    expect(bodies(agent_page)).to_have_text(["Hello, where is my order?", "Let me check that for you."])

    # The agent's page showed the customer's message, so the widget marks it Read.
    expect(frame.locator('[data-role="customer"][data-mark="Read"]')).to_have_count(1)
    expect(agent_page.locator('[data-role="agent"][data-mark="Read"]')).to_have_count(1)
    screenshot(customer, "customer")
    screenshot(agent_page, "agent")
    assert list(Message.objects.filter(conversation=conversation, notice="").values_list("body", flat=True)) == [
        "Hello, where is my order?",
        "Let me check that for you.",
    ]


def chat_with_agent(new_page, agent, **answers):
    """An Active chat: the customer on /demo/ started it and the agent accepted it."""
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    frame = open_widget(customer)
    conversation = start_chat(frame, **answers)
    accept_offer(agent_page, conversation)
    expect(frame.locator(".message__notice", has_text=f"{agent.first_name} joined the chat")).to_be_visible()
    return customer, frame, agent_page, conversation


def test_customer_ends_chat_from_widget_and_agent_sees_it(new_page, agent, chat_workstream, screenshot):
    """ST-3, CH-3: the customer selects End chat and confirms; the chat is in Wrap-up and the
    agent's panel says the customer ended it."""
    customer, frame, agent_page, conversation = chat_with_agent(new_page, agent)
    dialogs = []
    customer.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    frame.get_by_role("button", name="End chat").click()
    expect(agent_page.locator(".message__notice", has_text="The customer ended the chat")).to_be_visible()
    assert dialogs == ["End this chat?"]
    wait_state(conversation, "wrap_up")
    expect(frame.get_by_role("button", name="Start a new chat")).to_be_visible()
    expect(frame.get_by_label("Your message")).to_be_hidden()
    screenshot(agent_page, "agent")


def test_agent_ends_chat_and_widget_offers_a_new_one(new_page, agent, chat_workstream, screenshot):
    """ST-3, CH-3: the agent selects End and confirms; the chat is in Wrap-up, the widget says
    the agent ended it, hides the composer and offers to start a new chat, which begins at
    the pre-chat form with an empty transcript."""
    customer, frame, agent_page, conversation = chat_with_agent(new_page, agent)
    send(frame.get_by_label("Your message"), "Thanks, that is all.")
    expect(bodies(agent_page)).to_have_text(["Thanks, that is all."])
    agent_page.on("dialog", lambda dialog: dialog.accept())
    agent_page.get_by_role("button", name="End", exact=True).click()
    expect(frame.locator(".message__notice", has_text="Anna ended the chat")).to_be_visible()
    wait_state(conversation, "wrap_up")
    expect(frame.get_by_role("button", name="Start a new chat")).to_be_visible()
    expect(frame.get_by_label("Your message")).to_be_hidden()
    expect(frame.get_by_role("button", name="End chat")).to_be_hidden()
    expect(agent_page.locator(".session-header .badge-wrap_up")).to_be_visible()
    screenshot(customer, "customer")
    frame.get_by_role("button", name="Start a new chat").click()
    expect(frame.get_by_role("button", name="Start chat")).to_be_visible()
    expect(bodies(frame)).to_have_count(0)


TRACK_SOCKETS = """(() => {
  // Test instrumentation: remember every WebSocket the page opens, to cut them as a lost network
  // would; while window.__cut is set, new ones go to a port Chromium refuses, and fail.
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__cut = false;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) { super(window.__cut ? "ws://127.0.0.1:9/" : url, ...rest); window.__sockets.push(this); }
  };
})();"""
CUT = r"WebSocket connection to 'ws://127.0.0.1:9/' failed: "

# The widget's reconnect attempts while the network is away fail, and Chromium says so.
OFFLINE = r"WebSocket connection to '\S+/ws/chat/customer/' failed: .*ERR_INTERNET_DISCONNECTED"


def test_customer_offline_gets_every_message_exactly_once(
    new_page, agent, chat_workstream, screenshot, browser_errors
):
    """CH-5, REL-1: the customer's connection is lost mid-chat: the widget's socket is cut while
    new ones cannot connect, so the server sees it go, and the network goes away. (Chromium's
    offline emulation alone only stalls an open socket's frames, its close too, which then
    reached the server only when the connection went stale.) Three messages written meanwhile
    wait as "Sending…" while the agent writes two; back online, both sides show every message
    once, in sequence order, and each customer message is stored once."""
    browser_errors.allow(CUT)
    browser_errors.allow(OFFLINE)
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    customer.context.add_init_script(TRACK_SOCKETS)
    frame = open_widget(customer)
    conversation = start_chat(frame)
    accept_offer(agent_page, conversation)
    composer, reply = frame.get_by_label("Your message"), agent_page.get_by_label("Reply to the customer")
    send(composer, "before 1")
    expect(bodies(agent_page)).to_have_text(["before 1"])
    expect(frame.locator(".message--pending")).to_have_count(0)  # its acknowledgement came too

    widget = widget_frame(customer)
    widget.evaluate("window.__cut = true; window.__sockets.forEach((socket) => socket.close())")
    expect(frame.get_by_role("status")).to_contain_text("Reconnecting", timeout=15_000)
    wait_until(
        lambda: Conversation.objects.filter(pk=conversation.pk, customer_disconnected_at__isnull=False).exists(),
        what="the server to see the customer's socket close",
    )
    customer.context.set_offline(True)
    for n in (1, 2, 3):
        send(composer, f"offline {n}")
    send(reply, "agent 1")
    send(reply, "agent 2")
    expect(bodies(agent_page)).to_have_text(["before 1", "agent 1", "agent 2"])
    expect(frame.locator(".message--pending .message__state")).to_have_text(["Sending…"] * 3)
    screenshot(customer, "offline")
    # A reconnect attempt has failed since: what was written offline had no way out.
    attempts = widget.evaluate("window.__sockets.length")
    widget.wait_for_function(
        f"window.__sockets.length > {attempts} && window.__sockets.at(-1).readyState === WebSocket.CLOSED",
        timeout=15_000,
    )
    assert not Message.objects.filter(conversation=conversation, body__startswith="offline").exists()

    widget.evaluate("window.__cut = false")
    customer.context.set_offline(False)
    everything = ["before 1", "agent 1", "agent 2", "offline 1", "offline 2", "offline 3"]
    expect(bodies(frame)).to_have_text(everything, timeout=10_000)
    expect(bodies(agent_page)).to_have_text(everything)
    expect(frame.get_by_role("status")).to_be_hidden()
    expect(frame.locator(".message--pending")).to_have_count(0)
    for page in (frame, agent_page):
        sequences = [
            int(s) for s in page.locator("[data-sequence]").evaluate_all("els => els.map(e => e.dataset.sequence)")
        ]
        assert sequences == sorted(set(sequences))
    stored = list(
        Message.objects.filter(conversation=conversation, notice="").order_by("sequence").values_list("body", flat=True)
    )
    assert stored == everything
    assert state_of(conversation) == "active"
    screenshot(customer, "customer")


def test_widget_shows_a_lost_network_at_once_and_recovers_on_the_same_socket(
    new_page, agent, chat_workstream, browser_errors
):
    """CH-5, REL-1: the moment the browser reports the network gone, the widget says it is
    reconnecting, even while its socket has not noticed; back online on the same socket, the
    message written meanwhile is delivered once and the notice goes."""
    browser_errors.allow(OFFLINE)
    customer, frame, agent_page, conversation = chat_with_agent(new_page, agent)
    composer = frame.get_by_label("Your message")

    customer.context.set_offline(True)
    expect(frame.get_by_role("status")).to_contain_text("Reconnecting", timeout=5_000)
    send(composer, "written offline")
    customer.context.set_offline(False)
    expect(frame.get_by_role("status")).to_be_hidden()
    expect(bodies(agent_page)).to_have_text(["written offline"])
    expect(bodies(frame)).to_have_text(["written offline"])
    assert Message.objects.filter(conversation=conversation, body="written offline").count() == 1


def test_customer_closing_the_tab_leaves_the_chat(new_page, agent, chat_workstream, make_user):
    """ST-2, ST-21: a customer who closes the tab and stays away past the reconnect timeout
    has left: a chat no agent took (Open) is Closed, an Active one goes to Wrap-up and the
    agent's panel says the customer left."""
    chat_workstream.customer_reconnect_timeout_seconds = 2
    chat_workstream.save()

    # No agent is connected yet, so nobody is offered the first chat: it stays Open.
    first = new_page()
    conversation = start_chat(open_widget(first))
    assert state_of(conversation) == "open"
    first.close()
    wait_state(conversation, "closed", timeout=15)

    customer, frame, agent_page, active = chat_with_agent(new_page, agent)
    assert active.pk != conversation.pk and state_of(active) == "active"
    customer.close()
    expect(agent_page.locator(".message__notice", has_text="The customer left the chat")).to_be_visible(timeout=15_000)
    wait_state(active, "wrap_up")


def test_persistent_chat_waits_for_the_returning_customer(new_page, agent, chat_workstream, screenshot):
    """ST-24, ST-11: in a persistent-chat workstream Close session keeps the chat Waiting; the
    customer reloading the page sees the history and continues it (writing makes it Open, and
    it is offered again); once the agent ends it and closes the session, a returning customer
    gets the pre-chat form and none of the old history."""
    from omnichannel.conversations.models import ConversationEvent

    chat_workstream.persistent_chat = True
    chat_workstream.save()
    customer, frame, agent_page, conversation = chat_with_agent(new_page, agent)
    send(frame.get_by_label("Your message"), "My tent pole broke.")
    expect(bodies(agent_page)).to_have_text(["My tent pole broke."])
    send(agent_page.get_by_label("Reply to the customer"), "We will send a new one.")
    expect(bodies(frame)).to_have_text(["My tent pole broke.", "We will send a new one."])

    agent_page.on("dialog", lambda dialog: dialog.accept())
    agent_page.get_by_role("button", name="Close session", exact=True).click()
    agent_page.wait_for_url("**/agent/")
    wait_state(conversation, "waiting")

    customer.reload()
    frame = customer.frame_locator(WIDGET)
    expect(bodies(frame)).to_have_text(["My tent pole broke.", "We will send a new one."])
    send(frame.get_by_label("Your message"), "Has it shipped yet?")
    offer = agent_page.locator(f'.offer[data-offer="{conversation.pk}"]')
    expect(offer).to_be_visible(timeout=15_000)
    assert ConversationEvent.objects.filter(conversation=conversation, from_state="waiting", to_state="open").exists()
    accept_offer(agent_page, conversation)
    expect(bodies(agent_page)).to_have_text(["My tent pole broke.", "We will send a new one.", "Has it shipped yet?"])
    screenshot(customer, "returned")

    agent_page.get_by_role("button", name="End", exact=True).click()
    expect(agent_page.locator(".session-header .badge-wrap_up")).to_be_visible()
    agent_page.get_by_role("button", name="Close session", exact=True).click()
    agent_page.wait_for_url("**/agent/")
    wait_state(conversation, "closed")

    # The customer comes back later, in a new tab of the same browser.
    customer.close()
    again = customer.context.new_page()
    frame = open_widget(again)
    expect(frame.get_by_role("button", name="Start chat")).to_be_visible()
    expect(frame.get_by_role("note")).to_contain_text("may be monitored")
    expect(bodies(frame)).to_have_count(0)
    expect(frame.get_by_label("Your message")).to_be_hidden()


def test_widget_fills_a_phone_screen(new_page, chat_workstream, screenshot):
    """CH-1: on a 390×844 phone the opened widget's iframe fills the viewport, and the
    customer can write in the composer."""
    customer = new_page(viewport={"width": 390, "height": 844})
    frame = open_widget(customer)
    box = customer.locator(WIDGET).bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
    start_chat(frame)
    composer = frame.get_by_label("Your message")
    send(composer, "Hello from my phone")
    expect(bodies(frame)).to_have_text(["Hello from my phone"])
    expect(frame.locator(".message--pending")).to_have_count(0)
    composer_box = composer.bounding_box()
    assert composer_box["y"] + composer_box["height"] <= 844 and composer_box["x"] >= 0
    assert composer_box["x"] + composer_box["width"] <= 390
    screenshot(customer, "phone")


XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=1>",
    '<a href="javascript:window.__xss=1">click me</a>',
    "javascript:window.__xss=1",
    '"><iframe srcdoc="<script>parent.__xss=1</script>">',
    "{{7*7}} {% debug %} ${7*7} <%= 7*7 %>",
    "</p><script>window.__xss=1</script><p>",
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<input autofocus onfocus=window.__xss=1>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt; &amp; &#60;b&#62;",
    "<style>*{display:none!important}</style>",
    "'';!--\"<XSS>=&{()} <template><img src=x onerror=window.__xss=1></template>",
]
INJECTED = "script, img, svg, iframe, a, input, details, math, style, body, template, b, xss"


@contextmanager
def host_site(html: str):
    """Another web site embedding the widget: a page served from its own origin (localhost,
    another port), cross-site to the chat server at 127.0.0.1."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def assert_no_script_ran(*scopes) -> None:
    for scope in scopes:
        assert scope.evaluate("typeof window.__xss") == "undefined", scope.url


def test_payloads_show_as_text_on_both_sides(
    new_page, agent, chat_workstream, order_question, live_server_url, screenshot
):
    """SEC-1: a corpus of markup and script payloads, written by the customer and by the agent,
    shows as literal text in the widget and in the agent's panel, and none runs. The widget
    is embedded in another site (a cross-origin host page) that signs its customer in with a
    name that is itself a payload; the agent sees that name as text in the offer, the page
    title and the transcript. A payload pre-chat answer is stored as given and runs nowhere."""
    import jwt

    name = "<img src=x onerror=window.__xss=1> O'Hara"
    identity = jwt.encode(
        {"sub": "shop-42", "name": name, "exp": int(time.time()) + 600},
        chat_workstream.widget_secret,
        algorithm="HS256",
    )
    host = (
        "<!doctype html><title>Shop</title><p>Another web site.</p>"
        f'<script src="{live_server_url}/static/widget.js" data-workstream="{chat_workstream.widget_key}" '
        f'data-identity-token="{identity}" async></script>'
    )
    agent_page = agent_at_home(new_page, agent)
    customer = new_page()
    dialogs = []
    for page in (customer, agent_page):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with host_site(host) as shop:
        customer.goto(shop)
    frame = customer.frame_locator(WIDGET)
    frame.get_by_role("button", name="Chat with us").click()
    conversation = start_chat(frame, **{"Order number": XSS_PAYLOADS[0]})
    assert conversation.context["prechat"] == {"order": XSS_PAYLOADS[0]}
    assert conversation.title == name

    offer = agent_page.locator(f'.offer[data-offer="{conversation.pk}"]')
    expect(offer.locator(".offer-title")).to_have_text(name, timeout=15_000)
    accept_offer(agent_page, conversation)
    expect(agent_page.locator(".session-header h1")).to_have_text(name)
    expect(agent_page.locator(".comm-panel__header h2")).to_have_text(name)

    composer, reply = frame.get_by_label("Your message"), agent_page.get_by_label("Reply to the customer")
    for payload in XSS_PAYLOADS:
        send(composer, payload)
    expect(bodies(agent_page)).to_have_count(len(XSS_PAYLOADS))
    for payload in XSS_PAYLOADS:
        send(reply, payload)
    everything = XSS_PAYLOADS * 2
    expect(bodies(frame)).to_have_count(len(everything), timeout=10_000)
    expect(bodies(agent_page)).to_have_count(len(everything))
    expect(frame.locator(".message--pending")).to_have_count(0)
    customer.wait_for_timeout(500)  # time for any onerror or onload to have fired

    inner = widget_frame(customer)
    for scope in (frame, agent_page):
        assert bodies(scope).all_text_contents() == everything
        assert scope.locator(".chat__transcript").locator(INJECTED).count() == 0
    assert agent_page.locator(".message--customer .message__who").all_text_contents() == [name] * len(XSS_PAYLOADS)
    assert_no_script_ran(customer, inner, agent_page)
    assert dialogs == []
    stored = list(
        Message.objects.filter(conversation=conversation, notice="").order_by("sequence").values_list("body", flat=True)
    )
    assert stored == everything
    screenshot(agent_page, "agent")
    screenshot(customer, "customer")
