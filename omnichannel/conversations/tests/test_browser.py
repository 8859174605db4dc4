"""In headless Chromium against a daphne server: sign-in, the agent home, admin validation."""

import pytest

from omnichannel.testing.browser import WIDGET
from omnichannel.testing.fixtures import log_in

pytestmark = pytest.mark.browser


def test_agent_signs_in_and_reaches_the_agent_home(new_page, agent, screenshot):
    """An agent logs in and lands on the agent home with their dashboard."""
    page = new_page()
    log_in(page, agent.username)
    page.wait_for_url("**/agent/")
    assert page.get_by_role("heading", name="Agent dashboard").is_visible()
    assert page.get_by_role("heading", name="My work items").is_visible()
    assert page.get_by_role("link", name="Supervision").count() == 0
    screenshot(page, "agent-home")


def test_the_icon_pages_ask_for_is_served(new_page, db):
    """No page gets a 404 for its icon: the one pages link and /favicon.ico both answer with
    the SVG, from the real server."""
    page = new_page()
    page.goto("/login/")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    answers = page.evaluate(
        "urls => Promise.all(urls.map((url) => fetch(url).then((r) => [r.status, r.headers.get('content-type')])))",
        [icon, "/favicon.ico"],
    )
    assert answers == [[200, "image/svg+xml"], [200, "image/svg+xml"]]


def test_wrong_password_gets_a_clear_error(new_page, agent):
    page = new_page()
    log_in(page, agent.username, password="wrong")
    assert page.get_by_role("alert").is_visible()
    assert "/login/" in page.url


def test_administrator_sees_validation_for_61_minute_wrap_up_block(
    new_page, administrator, chat_workstream, screenshot
):
    """ST-20: an administrator sets Block capacity for wrap-up to 61 minutes and is told why not."""
    page = new_page()
    log_in(page, administrator.username)
    page.goto(f"/admin/conversations/workstream/{chat_workstream.pk}/change/")
    page.get_by_label("Block capacity for wrap-up").select_option("minutes")
    page.get_by_label("Wrap-up block minutes").fill("61")
    page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator(".errorlist").first
    error.wait_for()
    assert "Block capacity for wrap-up must be from 1 to 60 minutes." in error.inner_text()
    screenshot(page, "admin-validation")
    chat_workstream.refresh_from_db()
    assert chat_workstream.wrap_up_block_minutes is None


def test_every_browser_test_hears_console_errors_uncaught_exceptions_and_htmx_errors(
    new_page, browser_errors, chat_workstream
):
    """The shared check behind every browser test: a console.error, an uncaught exception and an
    htmx error event are caught in a page, in the widget's iframe and in a popup; the test
    would fail at its end (here they are taken back, having been counted)."""
    page = new_page()
    page.goto("/demo/")
    page.locator(WIDGET).element_handle().content_frame().evaluate("console.error('in the widget')")
    page.evaluate("setTimeout(() => { throw new Error('uncaught on the host page'); })")
    with page.context.expect_page() as opened:
        page.evaluate("window.open('/login/')")
    popup = opened.value
    popup.wait_for_load_state()
    popup.evaluate("htmx.trigger(document.body, 'htmx:oobErrorNoTarget', {error: 'htmx:oobErrorNoTarget', target: '#gone'})")
    popup.evaluate("0")
    page.evaluate("0")
    seen = "\n".join(browser_errors.unexpected())
    assert "in the widget" in seen and "uncaught on the host page" in seen and "htmx:oobErrorNoTarget, #gone" in seen
    browser_errors.seen.clear()
