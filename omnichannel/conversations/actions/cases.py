"""Cases and their record work items (REC-1, MSG-2, ST-6): creating a case (from a conversation,
or in admin), linking one to a conversation, changing and resolving it, and routing it as a work item.

Creating a case makes it a record work item at once, routed like any other work: in the default
case workstream (`selectors.default_case_workstream`), whose routing rules choose the queue by
the case's context. Created from a conversation, it is offered first to the agent who created
it while they are eligible (RT-5). Route case sends an active case that has no going work item
(created before any case workstream existed, linked rather than created, or made active again
after its work item closed) to the workstream the agent chooses."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import ConcurrentChange, ConversationError, InvalidInput, NotPermitted
from ..models import Account, Case, CaseStatus, Contact, Conversation, ConversationEvent, Workstream
from ..record_selectors import case_work_item, customer_cases, default_case_workstream
from ..selectors import is_supervisor
from ..states import Action, IllegalTransition, Kind, State
from .assignment import conversation_create
from .checks import require_conversation_worker
from .events import NewEvent, events_record
from .transitions import lock

MAX_CASE_TITLE_LENGTH = Case._meta.get_field("title").max_length


def _clean_case_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput(_("Give the case a title."))
    if len(title) > MAX_CASE_TITLE_LENGTH:
        raise InvalidInput(
            _("A case title can be at most %(limit)s characters; this one has %(length)s.")
            % {"limit": MAX_CASE_TITLE_LENGTH, "length": len(title)}
        )
    return title


def _case_event(
    conversation: Conversation, *, action: Action, actor: AbstractBaseUser, case: Case, detail: dict[str, Any]
) -> ConversationEvent:
    """Record a change to the conversation's case in its timeline and push it after commit;
    the state does not move."""
    (event,) = events_record(
        events=[
            NewEvent(
                conversation=conversation,
                action=action,
                actor=actor,
                detail={"case": case.pk, "case_title": case.title, **detail},
                notify=(conversation.primary_agent_id,) if conversation.primary_agent_id else (),
            )
        ],
        now=timezone.now(),
    )
    return event


def _set_case(conversation: Conversation, *, case: Case, action: Action, actor: AbstractBaseUser) -> ConversationEvent:
    """Link the locked conversation to `case`, claiming it on its version."""
    previous = conversation.case
    if not Conversation.objects.filter(pk=conversation.pk, version=conversation.version).update(
        case=case, version=conversation.version + 1
    ):
        raise ConcurrentChange(_("The conversation changed meanwhile; try again."))
    conversation.case, conversation.version = case, conversation.version + 1
    detail = {"previous_case_title": previous.title} if previous else {}
    return _case_event(conversation, action=action, actor=actor, case=case, detail=detail)


def _check_case_change(conversation: Conversation, actor: AbstractBaseUser, action: Action) -> None:
    if not actor.has_perm("conversations.add_case") or not actor.has_perm("conversations.change_case"):
        raise NotPermitted(_("You may not work with cases."))
    if conversation.kind == Kind.RECORD:
        raise InvalidInput(_("This work item is its case; it cannot be linked to another."))
    if conversation.state == State.CLOSED:
        # Refused as the table refuses moves (ST-13): naming the action and the state.
        raise IllegalTransition(
            state=State.CLOSED, action=action, why=str(_("Closed conversations are final and cannot be reopened."))
        )
    require_conversation_worker(conversation, actor)


def _record_work_item(
    case: Case, *, workstream: Workstream, actor: AbstractBaseUser, first_agent: AbstractBaseUser | None = None
) -> Conversation:
    """The case as an Open record work item of the workstream, routed by its rules (RT-1)."""
    return conversation_create(
        workstream=workstream,
        case=case,
        contact=case.contact,
        actor=actor,
        first_agent=first_agent,
        # What routing rules can read of a case, as customer attributes (RT-1).
        context={"customer": {"case_title": case.title, "account": str(case.account or "")}},
    )


def _case_open(case: Case, *, actor: AbstractBaseUser, first_agent: AbstractBaseUser | None = None) -> None:
    """MSG-2: a new case becomes a record work item of the default case workstream, if one is configured."""
    workstream = default_case_workstream()
    if workstream is not None:
        _record_work_item(case, workstream=workstream, actor=actor, first_agent=first_agent)


def case_create(
    *, title: str, actor: AbstractBaseUser, contact: Contact | None = None, account: Account | None = None
) -> Case:
    """REC-1, MSG-2: create an active case for a customer (the contact's account unless another
    is given), which becomes a record work item at once, as the module docstring says. Whoever
    may add cases may (administrators in admin)."""
    title = _clean_case_title(title)
    if not actor.has_perm("conversations.add_case"):
        raise NotPermitted(_("You may not create cases."))
    with transaction.atomic():
        case = Case.objects.create(title=title, contact=contact, account=account or getattr(contact, "account", None))
        _case_open(case, actor=actor)
    return case


def conversation_case_create(*, conversation: Conversation, actor: AbstractBaseUser, title: str) -> Case:
    """REC-1, MSG-2: create an active case for the conversation's customer (their contact and its
    account) and link the conversation to it, replacing any earlier link; the case becomes a
    record work item, offered first to the agent who created it (RT-5). Its agents, its
    consultants or a supervisor may; not on a Closed conversation or a record work item."""
    title = _clean_case_title(title)
    with transaction.atomic():
        lock(conversation)
        _check_case_change(conversation, actor, Action.CASE_CREATE)
        contact = conversation.contact
        case = Case.objects.create(title=title, contact=contact, account=contact.account if contact else None)
        _set_case(conversation, case=case, action=Action.CASE_CREATE, actor=actor)
        _case_open(case, actor=actor, first_agent=actor)
    return case


def conversation_case_link(*, conversation: Conversation, case: Case, actor: AbstractBaseUser) -> ConversationEvent:
    """REC-1: link the conversation to an existing active case of the same customer (their
    contact's or their account's), replacing any earlier link. Same rights as creating one."""
    with transaction.atomic():
        lock(conversation)
        _check_case_change(conversation, actor, Action.CASE_LINK)
        # Another customer's case is refused before anything about it, its title included, is told.
        if not customer_cases(conversation).filter(pk=case.pk).exists():
            raise NotPermitted(_("That case belongs to another customer."))
        case = Case.objects.select_for_update().get(pk=case.pk)
        if conversation.case_id == case.pk:
            raise InvalidInput(_("The conversation is already linked to the case “%(title)s”.") % {"title": case.title})
        if case.is_closed:
            raise ConversationError(
                _("The case “%(title)s” is %(status)s; only active cases can be linked.")
                % {"title": case.title, "status": case.get_status_display()}
            )
        return _set_case(conversation, case=case, action=Action.CASE_LINK, actor=actor)


def _require_case_worker(case: Case, actor: AbstractBaseUser) -> None:
    """Agents change the cases of conversations they work on (as agent or consultant);
    supervisors any case."""
    if not actor.has_perm("conversations.change_case"):
        raise NotPermitted(_("You may not change cases."))
    if is_supervisor(actor):
        return
    if not Conversation.objects.filter(Q(primary_agent=actor) | Q(consultants=actor), case=case).exists():
        raise NotPermitted(_("Only an agent working this case, or a supervisor, can change it."))


def case_update(*, case: Case, actor: AbstractBaseUser, title: str, status: str) -> Case:
    """REC-1: change a case's title and status. Resolving or cancelling it (making it
    inactive) lets its record work item close with its session (ST-6); an inactive case
    can be made active again. Every conversation of the case still going records the change."""
    title = _clean_case_title(title)
    if status not in CaseStatus.values:
        raise InvalidInput(_("“%(status)s” is not a case status.") % {"status": status})
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        changes = {
            name: (getattr(current, name), value)
            for name, value in (("title", title), ("status", status))
            if getattr(current, name) != value
        }
        if not changes:
            return current
        claimed = Case.objects.filter(pk=current.pk, title=current.title, status=current.status).update(
            **{name: new for name, (_old, new) in changes.items()}
        )
        if not claimed:
            raise ConcurrentChange(_("The case changed meanwhile; try again."))
        current.title, current.status = title, status
        detail = {"changes": {name: list(pair) for name, pair in changes.items()}}
        if "status" in changes:
            detail["status_label"] = str(current.get_status_display())
        for conversation in current.conversations.exclude(state=State.CLOSED).order_by("pk"):
            _case_event(conversation, action=Action.CASE_UPDATE, actor=actor, case=current, detail=detail)
    case.title, case.status = current.title, current.status
    return case


def case_resolve(*, case: Case, actor: AbstractBaseUser) -> Case:
    """Resolve an active case, so that closing its session closes its record work item (ST-6).
    Agents resolve the cases of conversations they work on; supervisors any case."""
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        if current.status != CaseStatus.ACTIVE:
            raise ConversationError(_("The case “%(title)s” is not active.") % {"title": current.title})
        return case_update(case=case, actor=actor, title=current.title, status=CaseStatus.RESOLVED)


def case_route(*, case: Case, actor: AbstractBaseUser, workstream: Workstream) -> Conversation:
    """MSG-2: make an active case that has no going work item a record work item of the chosen
    case workstream, routed like any other work (its routing rules by the case's context, else
    its default queue). One going record work item per case; resolving the case and closing its
    session closes it (ST-6)."""
    if workstream.kind != Kind.RECORD:
        raise InvalidInput(_("The workstream %(workstream)s does not handle cases.") % {"workstream": workstream})
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        _require_case_worker(current, actor)
        if current.status != CaseStatus.ACTIVE:
            raise ConversationError(
                _("The case “%(title)s” is %(status)s; only active cases become work items.")
                % {"title": current.title, "status": current.get_status_display()}
            )
        if case_work_item(current) is not None:
            raise ConversationError(_("The case “%(title)s” is already a work item.") % {"title": current.title})
        return _record_work_item(current, workstream=workstream, actor=actor)

