"""The one front door for changes to an agent's sessions (SES-1 … SES-9).

Views and sockets call these; each checks who may act on what, writes in one transaction and
tells the agent's other sockets after commit. Moving the conversation itself when its
session closes is the core's `conversation_close_session` (ST-4, ST-5, ST-6, ST-8, ST-24).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from omnichannel.conversations import groups, pushes
from omnichannel.conversations.actions.assignment import conversation_resume
from omnichannel.conversations.actions.ending import conversation_close_session
from omnichannel.conversations.errors import ConversationError, InvalidInput, NotPermitted
from omnichannel.conversations.models import Case, Contact, Conversation, ConversationEvent
from omnichannel.conversations.record_selectors import cases_visible_to, contacts_visible_to
from omnichannel.conversations.selectors import conversations_visible_to, is_agent
from omnichannel.conversations.states import Action, State

from . import tabs
from .models import AgentSession, SessionKind
from .selectors import records_visible_to

MAX_SESSIONS = 30
MAX_DRAFT_FIELDS = 20
MAX_DRAFT_VALUE = 10_000
MAX_KEY = 60


def _require_agent(agent: AbstractBaseUser) -> None:
    if not is_agent(agent):
        raise NotPermitted(_("Only agents have sessions."))


def _require_own(agent: AbstractBaseUser, session: AgentSession) -> None:
    if session.agent_id != agent.pk:
        raise NotPermitted(_("This is not your session."))


def _sessions_changed(agent: AbstractBaseUser) -> None:
    pushes.send_on_commit([groups.agent_group(agent.pk)], {"type": "sessions.changed"})


def _focus(agent: AbstractBaseUser, session: AgentSession | None) -> None:
    """Give `session` (None: Home) the focus. What the agent saw in the session losing focus and
    everything in the one gaining it counts as read (SES-8): both remember the conversation's
    last message sequence in the statement that moves their focus."""
    rows = AgentSession.objects.filter(agent=agent)
    if connection.features.has_select_for_update:
        # One switch at a time per agent (their tabs may race): on PostgreSQL two switches would
        # each clear the old focus and set their own, breaking the one-focused-session constraint.
        # SQLite has no row locks; its transactions begin IMMEDIATE, holding its one write lock.
        list(rows.select_for_update().values_list("pk", flat=True))
    target = session.pk if session is not None else None
    last_sequence = Conversation.objects.filter(pk=OuterRef("conversation_id")).order_by().values("last_sequence")
    seen = Coalesce(Subquery(last_sequence[:1]), 0)
    # Two statements: the one-focused-session constraint holds after each.
    rows.filter(focused=True).exclude(pk=target).update(focused=False, seen_sequence=seen)
    if session is not None:
        if not rows.filter(pk=target).update(focused=True, seen_sequence=seen):
            raise ConversationError(_("This session was closed meanwhile."))
        session.focused = True


def session_open(
    *,
    agent: AbstractBaseUser,
    conversation: Conversation | None = None,
    case: Case | None = None,
    contact: Contact | None = None,
) -> AgentSession:
    """Start a session for a conversation (after accepting or picking it, or Open from My or
    Closed work items), a case or a contact (Shift+click or Open, SES-2), and focus it; an
    already open session for the same target is focused instead. A conversation session opens
    with the Active conversation and Knowledge base search tabs (SES-3); a Waiting one of the
    agent's is resumed (ST-10)."""
    _require_agent(agent)
    targets = [t for t in (conversation, case, contact) if t is not None]
    if len(targets) != 1:
        raise InvalidInput(_("Open a session for one conversation, case or contact."))
    if conversation is not None:
        mine = (
            conversations_visible_to(agent)
            .filter(pk=conversation.pk)
            .exclude(state=State.OPEN)
            # An offer is the agent's to accept or reject (RT-3), not yet to work on.
            .exclude(state=State.ACTIVE, accepted_at__isnull=True)
        )
        if not mine.exists():
            raise NotPermitted(
                _("Only your own conversations open as sessions; pick Open work items and accept offers first.")
            )
        kind, lookup, first_tabs = SessionKind.CONVERSATION, {"conversation": conversation}, tabs.CONVERSATION_TABS
    elif case is not None:
        if not cases_visible_to(agent).filter(pk=case.pk).exists():
            raise NotPermitted(_("Only cases of your own conversations open as sessions."))
        kind, lookup, first_tabs = SessionKind.CASE, {"case": case}, [f"case:{case.pk}"]
    else:
        if not contacts_visible_to(agent).filter(pk=contact.pk).exists():
            raise NotPermitted(_("Only customers of your own conversations open as sessions."))
        kind, lookup, first_tabs = SessionKind.CONTACT, {"contact": contact}, [f"contact:{contact.pk}"]
    with transaction.atomic():
        if conversation is not None and conversation.state == State.WAITING:
            # Open on a Waiting item of My work items resumes it (ST-10); refusals (no free
            # capacity) leave both the conversation and the panel as they were.
            conversation_resume(conversation=conversation, agent=agent)
        session = _session_get_or_create(agent, kind=kind, lookup=lookup, first_tabs=first_tabs)
        _focus(agent, session)
        _sessions_changed(agent)
    return session


def _session_get_or_create(agent: AbstractBaseUser, *, kind: str, lookup: dict, first_tabs: list) -> AgentSession:
    """The agent's session for the target; a new one goes last in their panel."""
    session = AgentSession.objects.filter(agent=agent, kind=kind, **lookup).first()
    if session is not None:
        return session
    mine = AgentSession.objects.filter(agent=agent)
    if mine.count() >= MAX_SESSIONS:
        raise ConversationError(_("You have %(count)s sessions open; close one first.") % {"count": MAX_SESSIONS})
    position = (mine.aggregate(last=Max("position"))["last"] or 0) + 1
    try:
        with transaction.atomic():
            return AgentSession.objects.create(
                agent=agent, kind=kind, position=position, tabs=list(first_tabs), active_tab=first_tabs[0], **lookup
            )
    except IntegrityError:
        # Another tab of the agent's opened it at the same moment: that one it is.
        return AgentSession.objects.get(agent=agent, kind=kind, **lookup)


def sessions_open_assigned(*, agent: AbstractBaseUser) -> list[AgentSession]:
    """SES-3, SUP-5, RT-3: work assigned to the agent with nothing for them to accept (a
    supervisor's Assign, an auto-accepted offer) starts its session as accepting would have,
    also when it was assigned while no page of theirs was open: every Active conversation that
    is theirs by an assignment gets one. The focus stays where the agent works; the notice
    their socket shows goes to it. A full panel leaves the rest in My work items. Returns the
    sessions started."""
    _require_agent(agent)
    # Theirs by an assignment: assigned to them no earlier than it was accepted, so not picked
    # or accepted since (an assignment is accepted as it is made).
    assigned = ConversationEvent.objects.filter(
        conversation=OuterRef("pk"), action=Action.ASSIGN, agent=agent, created_at__gte=OuterRef("accepted_at")
    )
    missing = list(
        Conversation.objects.filter(primary_agent=agent, state=State.ACTIVE, accepted_at__isnull=False)
        .filter(Exists(assigned))
        .exclude(
            pk__in=AgentSession.objects.filter(agent=agent, kind=SessionKind.CONVERSATION).values("conversation_id")
        )
        .order_by("accepted_at", "pk")
    )
    started = []
    with transaction.atomic():
        for conversation in missing:
            try:
                started.append(
                    _session_get_or_create(
                        agent,
                        kind=SessionKind.CONVERSATION,
                        lookup={"conversation": conversation},
                        first_tabs=tabs.CONVERSATION_TABS,
                    )
                )
            except ConversationError:
                break
        if started:
            _sessions_changed(agent)
    return started


def session_focus(*, agent: AbstractBaseUser, session: AgentSession | None) -> AgentSession | None:
    """Switch to a session, or to Home when `session` is None (SES-1, SES-4)."""
    _require_agent(agent)
    if session is not None:
        _require_own(agent, session)
    with transaction.atomic():
        _focus(agent, session)
        _sessions_changed(agent)
    return session


def session_close(*, agent: AbstractBaseUser, session: AgentSession) -> ConversationEvent | None:
    """Close a session (SES-5). A conversation the agent still holds moves as section 1 says
    for its kind: Active live chat to Open (ST-4) or Waiting when persistent (ST-24), messaging
    to Waiting (ST-5), a record whose case is resolved to Closed (ST-6), Wrap-up to Closed
    (ST-8). Where the conversation refuses (a record whose case is still active), the session
    stays open and the refusal says why. A conversation no longer theirs, or already Waiting
    or Closed, just leaves the panel. Home has no row and cannot be closed."""
    _require_own(agent, session)
    with transaction.atomic():
        event = None
        conversation = session.conversation
        if (
            conversation is not None
            and conversation.primary_agent_id == agent.pk
            and (
                conversation.state == State.WRAP_UP
                or (conversation.state == State.ACTIVE and conversation.accepted_at is not None)
            )
        ):
            event = conversation_close_session(conversation=conversation, agent=agent)
        if not AgentSession.objects.filter(pk=session.pk).delete()[0]:
            raise ConversationError(_("This session was closed meanwhile."))
        _sessions_changed(agent)
    return event


def session_conversation_closed(*, agent: AbstractBaseUser, conversation: Conversation) -> None:
    """The conversation's session closed elsewhere (Close session in the communication panel):
    its session leaves the panel too."""
    with transaction.atomic():
        if AgentSession.objects.filter(agent=agent, kind=SessionKind.CONVERSATION, conversation=conversation).delete()[
            0
        ]:
            _sessions_changed(agent)


def session_tab_open(*, agent: AbstractBaseUser, session: AgentSession, tab: object) -> AgentSession:
    """Open an application tab in the session, or bring it forward if open (SES-9)."""
    _require_own(agent, session)
    app, pk = tabs.validate(tab, conversation_id=session.conversation_id)
    if pk is not None and not records_visible_to(agent, app).filter(pk=pk).exists():
        raise NotPermitted(_("Only records of your own conversations open as tabs."))
    with transaction.atomic():
        session = AgentSession.objects.select_for_update().get(pk=session.pk)
        if tab not in session.tabs:
            if len(session.tabs) >= tabs.MAX_TABS:
                raise ConversationError(
                    _("A session shows at most %(count)s tabs; close one first.") % {"count": tabs.MAX_TABS}
                )
            session.tabs.append(tab)
        session.active_tab = tab
        session.save(update_fields=["tabs", "active_tab"])
    return session


def session_tab_close(*, agent: AbstractBaseUser, session: AgentSession, tab: object) -> AgentSession:
    """Close an application tab; a session keeps its first tab."""
    _require_own(agent, session)
    with transaction.atomic():
        session = AgentSession.objects.select_for_update().get(pk=session.pk)
        if tab not in session.tabs:
            raise InvalidInput(_("That tab is not open in this session."))
        if tab == session.tabs[0]:
            raise ConversationError(_("The session's first tab stays open."))
        index = session.tabs.index(tab)
        session.tabs.remove(tab)
        if session.active_tab == tab:
            session.active_tab = session.tabs[index - 1]
        session.draft.pop(tab, None)
        session.save(update_fields=["tabs", "active_tab", "draft"])
    return session


def session_drafts_save(*, agent: AbstractBaseUser, session: AgentSession, drafts: object) -> None:
    """Keep the session's unsaved form fields as the agent types (SES-4): {tab: {field: value}},
    keyed by the open application tab the form is in, so closing the tab drops its draft; a
    tab given as null drops its draft (it was saved)."""
    _require_own(agent, session)
    if not isinstance(drafts, dict) or len(drafts) > MAX_DRAFT_FIELDS:
        raise InvalidInput(_("Unsaved changes must be a few forms of named fields."))
    for form, fields in drafts.items():
        if not form or len(form) > MAX_KEY:
            raise InvalidInput(_("Name each form of unsaved changes in at most %(n)s characters.") % {"n": MAX_KEY})
        if fields is None:
            continue
        if not isinstance(fields, dict) or len(fields) > MAX_DRAFT_FIELDS:
            raise InvalidInput(_("Unsaved changes must be a few forms of named fields."))
        for name, value in fields.items():
            if not name or len(name) > MAX_KEY or not isinstance(value, str) or len(value) > MAX_DRAFT_VALUE:
                raise InvalidInput(
                    _("Each unsaved field needs a name and at most %(n)s characters.") % {"n": MAX_DRAFT_VALUE}
                )
    with transaction.atomic():
        session = AgentSession.objects.select_for_update().get(pk=session.pk)
        if any(fields is not None and form not in session.tabs for form in drafts):
            raise InvalidInput(_("Unsaved changes belong to an open tab of the session."))
        for form, fields in drafts.items():
            if fields is None:
                session.draft.pop(form, None)
            else:
                session.draft[form] = fields
        if len(session.draft) > MAX_DRAFT_FIELDS:
            raise InvalidInput(_("Too many forms with unsaved changes in one session."))
        session.save(update_fields=["draft"])
