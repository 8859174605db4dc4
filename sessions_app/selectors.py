"""Reads for the workspace: a fixed number of queries however many sessions are open."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from omnichannel.conversations import sentiment
from omnichannel.conversations.models import ConversationEvent, Message, SenderRole
from omnichannel.conversations.record_selectors import accounts_visible_to, cases_visible_to, contacts_visible_to
from omnichannel.conversations.selectors import visible_conversation_ids
from omnichannel.conversations.states import Action, State

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

    # Whether the session's conversation is still the agent's to see (SEC-1): after a transfer
    # the session stays until closed, but nothing of the conversation shows.
    visible: bool = True

    @property
    def conversation(self):
        return self.session.conversation if self.visible else None


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
        # Put in order here, not in SQL: to place an ORDER BY, Django hashes each of the hundred
        # columns selected, a sixth of the panel's cost; an agent has a few dozen sessions at most.
        .order_by()
    )
    rows = sorted(rows, key=attrgetter("position"))
    visible_ids = visible_conversation_ids(agent, [row.conversation for row in rows if row.conversation_id is not None])
    items = []
    for number, session in enumerate(rows, start=1):
        title = _title(session)
        visible = session.conversation_id is None or session.conversation_id in visible_ids
        conversation = session.conversation if visible else None
        # The focused session is being read: its count shows once it loses focus.
        unread = 0 if session.focused or not visible else session.unread
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
                visible=visible,
            )
        )
    return items


def focused(items: list[SessionItem]) -> SessionItem | None:
    return next((item for item in items if item.session.focused), None)


@dataclass(frozen=True)
class Assignment:
    """A notice that work was assigned to the agent and its session opened (SES-3, SUP-5)."""

    session: AgentSession
    title: str
    by: str  # the supervisor who assigned it; empty when distribution did (auto-accept)


def assignments(agent, conversation_ids) -> list[Assignment]:
    """The agent's sessions of these conversations, where the conversation is still theirs and
    Active, each with who assigned it: two queries."""
    latest_assign = ConversationEvent.objects.filter(
        conversation=OuterRef("conversation_id"), action=Action.ASSIGN
    ).order_by("-id")
    rows = list(
        AgentSession.objects.filter(
            agent=agent,
            kind=SessionKind.CONVERSATION,
            conversation_id__in=conversation_ids,
            conversation__primary_agent=agent,
            conversation__state=State.ACTIVE,
        )
        .select_related(
            "conversation__workstream", "conversation__queue", "conversation__contact", "conversation__case"
        )
        .annotate(assigned_by=Subquery(latest_assign.values("actor_id")[:1]))
        .order_by("position")
    )
    actors = get_user_model().objects.in_bulk({row.assigned_by for row in rows} - {None})
    return [
        Assignment(
            session=row,
            title=row.conversation.title,
            by=(actor.get_full_name() or actor.get_username()) if (actor := actors.get(row.assigned_by)) else "",
        )
        for row in rows
    ]


# Record tabs: the records an agent may see (SEC-1) and the fields that name one.
_RECORDS = {
    "case": (cases_visible_to, ("title",)),
    "contact": (contacts_visible_to, ("first_name", "last_name")),
    "account": (accounts_visible_to, ("name",)),
}


def records_visible_to(agent, app: str) -> QuerySet:
    """The records of a record tab's application the agent may see."""
    return _RECORDS[app][0](agent)


def session_tabs(session: AgentSession, *, agent) -> list[tabs.Tab]:
    """The session's application tabs, record tabs labelled by the record's name where the
    agent may see it: one query per kind of record open."""
    wanted: dict[str, list[int]] = {}
    for tab in session.tabs:
        app, pk = tabs.parse(tab)
        if pk is not None:
            wanted.setdefault(app, []).append(pk)
    names = {}
    for app, pks in wanted.items():
        fields = _RECORDS[app][1]
        for pk, *parts in records_visible_to(agent, app).filter(pk__in=pks).values_list("pk", *fields):
            names[f"{app}:{pk}"] = " ".join(part for part in parts if part)
    return [tabs.tab_for(tab, conversation_id=session.conversation_id, record_names=names) for tab in session.tabs]
