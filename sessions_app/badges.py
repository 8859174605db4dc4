"""What a session's icon shows (SES-6, SES-7, SES-8): plain functions over plain values."""

from __future__ import annotations

from django.utils.translation import gettext as _

UNREAD_SHOWN_UP_TO = 9


def session_icon(title: str) -> str:
    """The title's first two letters (digits count where a title starts with them)."""
    return "".join(ch for ch in title if ch.isalnum())[:2]


def unread_badge(count: int) -> str:
    """The unread count on the icon; 10 or more shows "9+"; nothing when there is nothing unread."""
    if count <= 0:
        return ""
    return f"{UNREAD_SHOWN_UP_TO}+" if count > UNREAD_SHOWN_UP_TO else str(count)


def unread_tooltip(title: str, count: int) -> str:
    # The spec's exact words for every count, 1 included (SES-8).
    return _("%(title)s. %(count)s new updates in your conversation") % {"title": title, "count": count}


def sentiment_tooltip(title: str) -> str:
    return _("%(title)s. It's important that you are very attentive in your conversation.") % {"title": title}
