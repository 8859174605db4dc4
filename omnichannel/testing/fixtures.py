"""Fixtures shared by every app's tests, one per entity: a pytest plugin (`-p` in
pyproject.toml), so session fixtures such as the browser exist once. It is imported before
Django is set up, hence the imports inside the fixtures."""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

import pytest

_numbers = itertools.count(1)


@pytest.fixture
def presences(db):
    """The five base presences, by base state."""
    from omnichannel.conversations.models import Presence, PresenceBase

    return {p.base: p for p in Presence.objects.filter(name__in=[b.label for b in PresenceBase])}


@pytest.fixture
def roles(db) -> None:
    from omnichannel.conversations.roles import ensure_roles

    ensure_roles()


@pytest.fixture
def queue(db):
    from omnichannel.conversations.models import Queue

    return Queue.objects.create(name=f"Support {next(_numbers)}")


@pytest.fixture
def other_queue(db):
    from omnichannel.conversations.models import Queue

    return Queue.objects.create(name=f"Billing {next(_numbers)}")


@pytest.fixture
def make_user(roles):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(role: str, *, username: str | None = None, password: str = "secret-pass-123", **fields):
        user = get_user_model().objects.create_user(
            username=username or f"{role.lower()}{next(_numbers)}", password=password, **fields
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def make_agent(make_user, presences, queue):
    from omnichannel.conversations.models import AgentProfile
    from omnichannel.conversations.roles import AGENT

    def make(*, capacity: int = 30, presence: str = "available", queues=None, role: str = AGENT, **kw):
        user = make_user(role, **kw)
        AgentProfile.objects.create(user=user, capacity=capacity, presence=presences[presence])
        for q in queues if queues is not None else [queue]:
            q.members.add(user)
        return user

    return make


@pytest.fixture
def agent(make_agent):
    return make_agent(first_name="Anna", last_name="Jensen")


@pytest.fixture
def other_agent(make_agent):
    return make_agent(first_name="Bo", last_name="Nielsen")


@pytest.fixture
def supervisor(make_agent):
    from omnichannel.conversations.roles import SUPERVISOR

    return make_agent(role=SUPERVISOR, first_name="Sofie")


@pytest.fixture
def administrator(make_user):
    from omnichannel.conversations.roles import ADMINISTRATOR

    return make_user(ADMINISTRATOR, is_staff=True)


@pytest.fixture
def make_workstream(queue, presences):
    from omnichannel.conversations.models import PresenceBase, Workstream
    from omnichannel.conversations.states import Channel

    def make(channel: str = Channel.LIVE_CHAT, **fields):
        fields.setdefault("name", f"{channel} {next(_numbers)}")
        workstream = Workstream.objects.create(channel=channel, default_queue=queue, **fields)
        workstream.allowed_presences.set([presences[PresenceBase.AVAILABLE], presences[PresenceBase.BUSY]])
        return workstream

    return make


@pytest.fixture
def chat_workstream(make_workstream):
    from omnichannel.conversations.states import Channel

    return make_workstream(Channel.LIVE_CHAT)


@pytest.fixture
def sms_workstream(make_workstream):
    from omnichannel.conversations.states import Channel

    return make_workstream(Channel.SMS)


@pytest.fixture
def make_conversation():
    from omnichannel.conversations.actions.assignment import conversation_create
    from omnichannel.conversations.models import Visitor

    def make(workstream, **fields):
        if not {"contact", "case", "visitor"} & fields.keys():
            fields["visitor"] = Visitor.objects.create()
        return conversation_create(workstream=workstream, **fields)

    return make


@pytest.fixture
def open_chat(make_conversation, chat_workstream):
    return make_conversation(chat_workstream)


@pytest.fixture
def active_chat(open_chat, agent):
    """A live chat the agent picked: Active and accepted."""
    from omnichannel.conversations.actions.assignment import conversation_pick

    conversation_pick(conversation=open_chat, agent=agent)
    return open_chat


@pytest.fixture
def active_sms(make_conversation, sms_workstream, agent):
    from omnichannel.conversations.actions.assignment import conversation_pick

    conversation = make_conversation(sms_workstream)
    conversation_pick(conversation=conversation, agent=agent)
    return conversation


@pytest.fixture
def contact(db):
    """A known customer, with an account (REC-1)."""
    from omnichannel.conversations.models import Account, Contact

    account = Account.objects.create(name=f"Acme {next(_numbers)}")
    return Contact.objects.create(first_name="Mette", last_name="Larsen", email="mette@example.com", account=account)


@pytest.fixture
def make_case(db):
    from omnichannel.conversations.models import Case

    def make(title: str = "Invoice charged twice", **fields):
        return Case.objects.create(title=title, **fields)

    return make


@pytest.fixture
def contact_chat(make_conversation, chat_workstream, contact, agent):
    """A live chat with a known contact, picked by the agent: Active and accepted."""
    from omnichannel.conversations.actions.assignment import conversation_pick

    conversation = make_conversation(chat_workstream, contact=contact)
    conversation_pick(conversation=conversation, agent=agent)
    return conversation


@pytest.fixture
def make_article(db):
    """A knowledge article, published unless told otherwise (KB-1)."""
    from django.utils.text import slugify

    from omnichannel.knowledge.models import Article

    def make(title: str, body: str = "", *, keywords: str = "", published: bool = True):
        slug = f"{slugify(title)[:180]}-{next(_numbers)}"
        return Article.objects.create(title=title, slug=slug, body=body, keywords=keywords, published=published)

    return make


# --- browser tests -------------------------------------------------------------------------


@pytest.fixture
def sent_pushes(monkeypatch) -> list:
    """Every push the test's actions send, as (group names, payload), once their transaction
    commits: the channel layer is left out."""
    sent: list = []
    monkeypatch.setattr("omnichannel.conversations.pushes._send", lambda messages, wake=False: sent.extend(messages))
    return sent


def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's sync API keeps an event loop on the main thread for the
    rest of the session, where the other tests' own async_to_sync calls could not run."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(autouse=True)
def _chat_writer_disconnects():
    """The chat writer thread keeps its own database connection; close it after each test so
    the test database can be flushed and dropped."""
    yield
    from omnichannel.conversations.sockets import chat_writer

    chat_writer.close_connection()


@pytest.fixture
def live_server_url(transactional_db):
    """A `manage.py serve` process (daphne and its worker) on the test database. One per
    test, set up after the database and stopped before its flush: a worker still running
    would contend with the flush's TRUNCATE (a deadlock on PostgreSQL)."""
    from django.db import connection

    from omnichannel.testing.servers import daphne_server, database_url

    with daphne_server(database=database_url(connection.settings_dict), env={"WORKER_INTERVAL_SECONDS": "0.2"}) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls that tests make
    # between browser steps are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BrowserErrors:
    """What went wrong in the pages of a test's browser contexts (their frames and popups
    too): console errors and uncaught exceptions. htmx reports each of its error events
    (htmx:oobErrorNoTarget, htmx:responseError, htmx:wsError…) through console.error, so
    those are console errors here. A test whose scenario makes the browser complain on
    purpose (a network taken away; a refused form, whose 4xx answer Chromium logs as a failed
    load) names those messages with `allow`; nothing else passes."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.allowed: list[re.Pattern] = []
        self.started = time.monotonic()

    def watch(self, context) -> None:
        context.on("console", self._console)
        context.on("weberror", lambda error: self._add(f"uncaught on {_url(error.page)}: {error.error}"))

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        # Chromium asks every page for /favicon.ico: the product answers it, but pages of the
        # tests' own helper servers (a host page, a payload page) have none. Nothing else is forgiven.
        if where.endswith("/favicon.ico"):
            return
        self._add(f"console.error on {_url(message.page)} ({where}): {message.text}")

    def _add(self, seen: str) -> None:
        self.seen.append(f"{time.monotonic() - self.started:6.2f} s {seen}")

    def unexpected(self) -> list[str]:
        return [seen for seen in self.seen if not any(p.search(seen) for p in self.allowed)]


def _url(page) -> str:
    return page.url if page is not None else "?"


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def new_page(browser, live_server_url, browser_errors):
    """Make pages in fresh browser contexts (one per person in a test). The test fails if any
    of them logged a console error or threw an uncaught exception (see BrowserErrors)."""
    contexts = []

    def make(viewport=None):
        context = browser.new_context(base_url=live_server_url, viewport=viewport or {"width": 1280, "height": 800})
        browser_errors.watch(context)
        contexts.append(context)
        return context.new_page()

    yield make
    try:
        # A round trip to each page delivers what it logged before the test ended.
        for page in (page for context in contexts for page in context.pages):
            page.evaluate("0")
        if unexpected := browser_errors.unexpected():
            pytest.fail("The browser reported errors:\n" + "\n".join(unexpected), pytrace=False)
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def screenshot(request):
    """Save a screenshot under artifacts/, named after the test."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, username: str, password: str = "secret-pass-123") -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def connect():
    """Mark agents connected, as an open agent socket would (RT-2 offers only to connected agents)."""
    from omnichannel.conversations.actions.presence import agent_connect

    def make(*users):
        for user in users:
            agent_connect(agent=user, channel_name=f"test-socket-{user.pk}")

    return make
