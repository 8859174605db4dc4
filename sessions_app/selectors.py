"""Reads for the workspace: a fixed number of queries however many sessions are open."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from omnichannel.conversations import sentiment
from omnichannel.conversations.models import Account, Case, Contact, Message, SenderRole

from . import badges, tabs
from .models import AgentSession, SessionKind


@dataclass(frozen=True)
class SessionItem:
    """One session as the session panel shows it."""

    session: AgentSession
    number: int  # its place in the panel: the keyboard shortcut Alt+Shift+number (A11Y-1)
    title: str
    icon: str
    unread: int
    unread_badge: str
    unread_tooltip: str
    alert: bool
    alert_tooltip: str

    @property
    def pk(self) -> int:
        return self.session.pk

    @property
    def conversation(self):
        return self.session.conversation


def _unread() -> Subquery:
    """Customer messages after what the agent last saw in the session (SES-8)."""
    return Subquery(
        Message.objects.filter(
            conversation=OuterRef("conversation"),
            sequence__gt=OuterRef("seen_sequence"),
            sender_role=SenderRole.CUSTOMER,
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")[:1],
        output_field=IntegerField(),
    )


def _title(session: AgentSession) -> str:
    """SES-6: contact, account or case title; "Visitor N" for anonymous chats."""
    if session.kind == SessionKind.CONVERSATION:
        return session.conversation.title
    if session.kind == SessionKind.CASE:
        return session.case.title
    return str(session.contact)


def workspace_sessions(agent) -> list[SessionItem]:
    """The agent's sessions in panel order, with title, icon, unread count and sentiment alert."""
    rows = (
        AgentSession.objects.filter(agent=agent)
        .select_related("conversation__workstream", "conversation__contact", "conversation__case", "case", "contact")
        .annotate(unread=Coalesce(_unread(), Value(0)))
        .order_by("position")
    )
    items = []
    for number, session in enumerate(rows, start=1):
        title = _title(session)
        conversation = session.conversation
        # The focused session is being read: its count shows once it loses focus.
        unread = 0 if session.focused else session.unread
        alert = conversation is not None and sentiment.reached(
            conversation.sentiment_level, conversation.workstream.sentiment_alert_threshold
        )
        items.append(
            SessionItem(
                session=session,
                number=number,
                title=title,
                icon=badges.session_icon(title),
                unread=unread,
                unread_badge=badges.unread_badge(unread),
                unread_tooltip=badges.unread_tooltip(title, unread) if unread else "",
                alert=alert,
                alert_tooltip=badges.sentiment_tooltip(title) if alert else "",
            )
        )
    return items


def focused(items: list[SessionItem]) -> SessionItem | None:
    return next((item for item in items if item.session.focused), None)


# How a record tab is named: by its model's display field, one query per kind of record open.
_RECORD_NAMES = {
    "case": (Case, ("title",)),
    "contact": (Contact, ("first_name", "last_name")),
    "account": (Account, ("name",)),
}


def session_tabs(session: AgentSession) -> list[tabs.Tab]:
    """The session's application tabs, record tabs labelled by the record's name."""
    wanted: dict[str, list[int]] = {}
    for tab in session.tabs:
        app, pk = tabs.parse(tab)
        if pk is not None:
            wanted.setdefault(app, []).append(pk)
    names = {}
    for app, pks in wanted.items():
        model, fields = _RECORD_NAMES[app]
        for pk, *parts in model.objects.filter(pk__in=pks).values_list("pk", *fields):
            names[f"{app}:{pk}"] = " ".join(part for part in parts if part)
    return [tabs.tab_for(tab, conversation_id=session.conversation_id, record_names=names) for tab in session.tabs]
