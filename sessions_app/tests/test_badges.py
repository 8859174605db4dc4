"""The session icon's title, letters, unread count and tooltips as plain functions (SES-6 … SES-8)."""

import pytest

from omnichannel.conversations.errors import InvalidInput
from sessions_app import badges, tabs


def test_icon_is_the_titles_first_two_letters():
    """SES-6: the session icon shows the title's first two letters."""
    assert badges.session_icon("Visitor 7") == "Vi"
    assert badges.session_icon("Kenny Smith") == "Ke"
    assert badges.session_icon("  «Ø» order") == "Øo"


def test_unread_badge_shows_nine_plus_from_ten():
    """SES-8: the count shows as is up to 9; 10 or more shows "9+"; nothing when nothing is unread."""
    assert [badges.unread_badge(n) for n in (0, 1, 9, 10, 57)] == ["", "1", "9", "9+", "9+"]


def test_tooltips_use_the_specs_words():
    """SES-7, SES-8: the exact tooltip texts."""
    assert badges.sentiment_tooltip("Visitor 7") == (
        "Visitor 7. It's important that you are very attentive in your conversation."
    )
    assert badges.unread_tooltip("Kenny Smith", 5) == "Kenny Smith. 5 new updates in your conversation"


def test_unread_tooltip_is_the_specs_text_also_for_one():
    """SES-8: the tooltip is "<title>. <X> new updates in your conversation" for every count."""
    assert badges.unread_tooltip("Kenny Smith", 1) == "Kenny Smith. 1 new updates in your conversation"


@pytest.mark.parametrize("tab", ["nope", "case", "case:x", "case:0", "knowledge_search:3", 7, None, "case:" + "9" * 30])
def test_unknown_or_malformed_tabs_are_refused(tab):
    """SES-9: a tab names a known application, and a record where the application shows one."""
    with pytest.raises(InvalidInput):
        tabs.parse(tab)


def test_tabs_parse():
    assert tabs.parse("case:12") == ("case", 12)
    assert tabs.parse("knowledge_search") == ("knowledge_search", None)
