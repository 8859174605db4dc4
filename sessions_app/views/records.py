"""Application tabs for records (REC-1) and the Active conversation page (SES-3).

Each view serves its tab's fragment to htmx (the workspace loads it into a session's
application tab panel) and a standalone page otherwise. Changes go through the core's
actions; a refusal is shown in the tab with its reason and changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from omnichannel.conversations.actions import cases as case_actions
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Account, Case, CaseStatus, Contact, Conversation
from omnichannel.conversations.record_selectors import (
    account_for_page,
    active_conversation_for_page,
    case_for_page,
    case_work_item,
    case_workstreams,
    cases_linkable,
    cases_visible_to,
    contact_for_page,
    earlier_conversations,
    may_change_case,
)
from omnichannel.conversations.roles import agent_required
from omnichannel.conversations.selectors import is_supervisor, pre_chat_labels
from omnichannel.conversations.states import Kind, State

ACTIVE_CONVERSATION = "sessions_app/_active_conversation.html#active-conversation"
CASE = "sessions_app/_case.html#case"
CONTACT = "sessions_app/_contact.html#contact"
ACCOUNT = "sessions_app/_account.html#account"


def render_tab(request: HttpRequest, template: str, context: dict, *, title: str) -> HttpResponse:
    """The tab's fragment for htmx; the same fragment on a page of its own otherwise."""
    if request.htmx:
        return render(request, template, context)
    return render(request, "sessions_app/tab_page.html", {**context, "tab_template": template, "page_title": title})


def respond(
    request: HttpRequest, *, error: str, success: str, url: str, rerender: Callable[[str, str], HttpResponse]
) -> HttpResponse:
    """After a change: htmx swaps the re-rendered tab (with the refusal or the confirmation);
    a plain form post is redirected to the tab's page, which shows the message. A refusal
    answers 422 (swapped all the same, see base.html's htmx-config): only a 2xx answer tells
    the workspace the form was saved and its draft can go (SES-4)."""
    if request.htmx:
        response = rerender(error, "" if error else success)
        if error:
            response.status_code = 422
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(request, success)
    return redirect(url)


# --- Active conversation (SES-3) -----------------------------------------------------------


def active_conversation_context(*, user, pk: int, error: str = "", notice: str = "") -> dict:
    try:
        conversation = active_conversation_for_page(user=user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404 from None
    earlier, earlier_total = earlier_conversations(conversation)
    answers = conversation.context.get("prechat") or {}
    questions = pre_chat_labels(conversation.workstream_id) if answers else {}
    works_it = conversation.primary_agent_id == user.pk or is_supervisor(user)
    may_change = works_it and conversation.state != State.CLOSED and conversation.kind != Kind.RECORD
    return {
        "conversation": conversation,
        "contact": conversation.contact,
        "account": conversation.contact.account
        if conversation.contact
        else getattr(conversation.case, "account", None),
        "case": conversation.case,
        # Pre-chat answers under the questions the customer saw (CH-2).
        "answers": [(questions.get(key, key), answer) for key, answer in answers.items()],
        "earlier": earlier,
        "earlier_total": earlier_total,
        "may_change_case": may_change,
        "linkable_cases": list(cases_linkable(conversation).exclude(pk=conversation.case_id)) if may_change else [],
        "is_record": conversation.kind == Kind.RECORD,
        "may_close_session": conversation.primary_agent_id == user.pk and conversation.state == State.ACTIVE,
        "error": error,
        "notice": notice,
    }


@login_required
@agent_required
def active_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """SES-3: customer or account, case, and a summary of the customer's earlier conversations."""
    context = active_conversation_context(user=request.user, pk=pk)
    return render_tab(request, ACTIVE_CONVERSATION, context, title=context["conversation"].title)


def _after_case_change(request: HttpRequest, pk: int, *, error: str, success: str) -> HttpResponse:
    return respond(
        request,
        error=error,
        success=success,
        url=reverse("sessions_app:active_conversation", args=[pk]),
        rerender=lambda error, notice: render(
            request,
            ACTIVE_CONVERSATION,
            active_conversation_context(user=request.user, pk=pk, error=error, notice=notice),
        ),
    )


def _visible_conversation(user, pk: int) -> Conversation:
    try:
        return active_conversation_for_page(user=user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404 from None


@require_POST
@login_required
@agent_required
def case_create(request: HttpRequest, pk: int) -> HttpResponse:
    """REC-1, MSG-2: create a case from the conversation and link it; it becomes a record work item."""
    conversation = _visible_conversation(request.user, pk)
    error = success = ""
    try:
        case = case_actions.conversation_case_create(
            conversation=conversation, actor=request.user, title=request.POST.get("title", "")
        )
        record = case_work_item(case)
        if record is not None:
            where = _("It waits in %(queue)s as a work item.") % {"queue": record.queue}
        else:
            where = _("No case workstream is configured, so it is not a work item.")
        success = _("Case “%(title)s” created and linked.") % {"title": case.title} + " " + where
    except ConversationError as refused:
        error = str(refused)
    return _after_case_change(request, pk, error=error, success=success)


@require_POST
@login_required
@agent_required
def case_link(request: HttpRequest, pk: int) -> HttpResponse:
    """REC-1: link the conversation to one of the customer's active cases."""
    conversation = _visible_conversation(request.user, pk)
    error = success = ""
    case_id = request.POST.get("case", "")
    # Only the listed cases are looked up: any other id is refused without a word about it (SEC-1).
    case = cases_linkable(conversation).filter(pk=case_id).first() if case_id.isdigit() else None
    if case is None:
        error = _("Choose one of the listed cases.")
    else:
        try:
            case_actions.conversation_case_link(conversation=conversation, case=case, actor=request.user)
            success = _("Linked to the case “%(title)s”.") % {"title": case.title}
        except ConversationError as refused:
            error = str(refused)
    return _after_case_change(request, pk, error=error, success=success)


# --- Records: case, contact, account (REC-1) ------------------------------------------------


def _visible_case(user, pk: int) -> Case:
    try:
        return cases_visible_to(user).get(pk=pk)
    except Case.DoesNotExist:
        raise Http404 from None


def case_context(*, user, pk: int, error: str = "", notice: str = "", values: dict | None = None) -> dict:
    try:
        case, conversations = case_for_page(user=user, pk=pk)
    except Case.DoesNotExist:
        raise Http404 from None
    may_change = may_change_case(user, case, conversations)
    record = next((c for c in conversations if c.kind == Kind.RECORD and c.state != State.CLOSED), None)
    return {
        "case": case,
        "conversations": conversations,
        "may_change": may_change,
        "record": record,
        # Where the case can go as a work item (MSG-2), when it can.
        "case_workstreams": (list(case_workstreams()) if may_change and record is None and not case.is_closed else []),
        "statuses": CaseStatus.choices,
        # What the form shows: what was submitted when it was refused, else what is saved.
        "values": values or {"title": case.title, "status": case.status},
        "error": error,
        "notice": notice,
    }


@require_http_methods(["GET", "POST"])
@login_required
@agent_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """REC-1, ST-6: the case form; saving changes its title and status (resolve, cancel, reactivate)."""
    if request.method == "GET":
        context = case_context(user=request.user, pk=pk)
        return render_tab(request, CASE, context, title=context["case"].title)
    case = _visible_case(request.user, pk)
    values = {"title": request.POST.get("title", ""), "status": request.POST.get("status", "")}
    error = success = ""
    try:
        case_actions.case_update(case=case, actor=request.user, **values)
        success = _("Case saved.")
    except ConversationError as refused:
        error = str(refused)
    return respond(
        request,
        error=error,
        success=success,
        url=reverse("sessions_app:case", args=[pk]),
        rerender=lambda error, notice: render(
            request,
            CASE,
            case_context(user=request.user, pk=pk, error=error, notice=notice, values=values if error else None),
        ),
    )


@require_POST
@login_required
@agent_required
def case_route(request: HttpRequest, pk: int) -> HttpResponse:
    """MSG-2: send the case to a queue as a record work item."""
    case = _visible_case(request.user, pk)
    error = success = ""
    value = request.POST.get("workstream", "")
    workstream = case_workstreams().filter(pk=value).first() if value.isdigit() else None
    if workstream is None:
        error = _("Choose one of the listed workstreams.")
    else:
        try:
            record = case_actions.case_route(case=case, actor=request.user, workstream=workstream)
            success = _("The case waits in %(queue)s as a work item.") % {"queue": record.queue}
        except ConversationError as refused:
            error = str(refused)
    return respond(
        request,
        error=error,
        success=success,
        url=reverse("sessions_app:case", args=[pk]),
        rerender=lambda error, notice: render(
            request, CASE, case_context(user=request.user, pk=pk, error=error, notice=notice)
        ),
    )


@login_required
@agent_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """REC-1: a contact with their account, cases and conversations."""
    try:
        contact, cases, conversations = contact_for_page(user=request.user, pk=pk)
    except Contact.DoesNotExist:
        raise Http404 from None
    context = {"contact": contact, "cases": cases, "conversations": conversations}
    return render_tab(request, CONTACT, context, title=str(contact))


@login_required
@agent_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """REC-1: an account with its contacts and cases."""
    try:
        account, contacts, cases = account_for_page(user=request.user, pk=pk)
    except Account.DoesNotExist:
        raise Http404 from None
    context = {"account": account, "contacts": contacts, "cases": cases}
    return render_tab(request, ACCOUNT, context, title=str(account))
