"""Application tabs (SES-9): what each session can show in its application tab panel.

A tab is a string, "app" or "app:pk" (a record's tab names the record). Every tab's content is
served by its own view and loaded into the panel by htmx, so a session switch renders only
the tab strip, and any surface can add an application by adding a line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from omnichannel.conversations.errors import InvalidInput

MAX_TABS = 12


@dataclass(frozen=True)
class Application:
    label: str
    url_name: str
    # "pk": the tab names a record whose pk is the URL's argument; "conversation": the session's
    # conversation is the URL's argument; "query": the conversation goes along in the query string.
    target: str
    # Reloaded when the session's conversation changes state (its header is pushed).
    live: bool = False


APPLICATIONS = {
    "active_conversation": Application(
        _("Active conversation"), "sessions_app:active_conversation", "conversation", live=True
    ),
    "knowledge_search": Application(_("Knowledge base search"), "sessions_app:knowledge_search", "query"),
    "case": Application(_("Case"), "sessions_app:case", "pk"),
    "contact": Application(_("Contact"), "sessions_app:contact", "pk"),
    "account": Application(_("Account"), "sessions_app:account", "pk"),
}
# What a session opens with (SES-3: the Active conversation page and Knowledge base search).
CONVERSATION_TABS = ["active_conversation", "knowledge_search"]


def parse(tab: object) -> tuple[str, int | None]:
    """The application and record pk a tab string names; InvalidInput for anything else."""
    if not isinstance(tab, str):
        raise InvalidInput(_("Name an application tab."))
    app, _sep, pk = tab.partition(":")
    application = APPLICATIONS.get(app)
    if application is None:
        raise InvalidInput(_("There is no application “%(app)s”.") % {"app": app[:60]})
    if application.target == "pk":
        if not pk.isdigit() or not 0 < int(pk) < 2**63:
            raise InvalidInput(_("Name the record the %(app)s tab shows.") % {"app": application.label})
        return app, int(pk)
    if pk:
        raise InvalidInput(_("The %(app)s tab names no record.") % {"app": application.label})
    return app, None


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    url: str
    dom_id: str
    live: bool


def validate(tab: object, *, conversation_id: int | None) -> tuple[str, int | None]:
    """parse(), and tabs about the conversation only in a conversation's session."""
    app, pk = parse(tab)
    application = APPLICATIONS[app]
    if application.target == "conversation" and conversation_id is None:
        raise InvalidInput(_("The %(app)s tab needs a conversation.") % {"app": application.label})
    return app, pk


def tab_for(tab: str, *, conversation_id: int | None, record_names: dict[str, str] | None = None) -> Tab:
    """The tab as the tab strip shows it; a record's tab is labelled by its name where given."""
    app, pk = validate(tab, conversation_id=conversation_id)
    application = APPLICATIONS[app]
    if application.target == "pk":
        url = reverse(application.url_name, args=[pk])
        label = (record_names or {}).get(tab) or f"{application.label} {pk}"
    elif application.target == "conversation":
        url, label = reverse(application.url_name, args=[conversation_id]), str(application.label)
    else:
        url = reverse(application.url_name)
        if conversation_id is not None:
            url += "?" + urlencode({"conversation": conversation_id})
        label = str(application.label)
    return Tab(key=tab, label=label, url=url, dom_id=tab.replace(":", "-"), live=application.live)
