"""The agent workspace (SES-1 … SES-9, A11Y-1) and the agent's own actions on work items: accept
or reject an offer (RT-3), pick from Open work items (RT-4), set presence (PR-1).

One page, `/agent/`: the session panel on the left, the focused session (or Home) beside it.
Switching, opening and closing sessions answer htmx with the session pane and, out of band,
the session panel; the agent's socket pushes the same partials when something changes."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from omnichannel.conversations.actions.assignment import conversation_accept, conversation_pick, conversation_reject
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.presence import agent_presence_set
from omnichannel.conversations.actions.transfers import conversation_transfer_accept, conversation_transfer_reject
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Case, Contact, Conversation, Presence
from omnichannel.conversations.roles import agent_required

from .. import actions as session_actions
from ..context_processors import agent_bar_context
from ..contexts import WORKSPACE, home_context, workspace_context
from ..models import AgentSession
from ..selectors import workspace_sessions


def _workspace(request: HttpRequest, *, error: str = "") -> HttpResponse:
    """The page, or for htmx the session pane with the session panel out of band."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("sessions_app:home")
    context = {**workspace_context(request.user), "session_error": error, "oob": True}
    return render(request, f"{WORKSPACE}#workspace-swap", context)


@login_required
@agent_required
def agent_home(request: HttpRequest) -> HttpResponse:
    return render(request, WORKSPACE, workspace_context(request.user))


@login_required
@agent_required
def work_items(request: HttpRequest) -> HttpResponse:
    """Home's streams, fetched again when the agent socket says work changed (SES-2, RT-4)."""
    return render(request, "sessions_app/_home.html#work-items", home_context(request.user))


@login_required
@agent_required
def session_header(request: HttpRequest, pk: int) -> HttpResponse:
    """A session's header, fetched again when its conversation changed: state and sentiment (SES-3)."""
    current = next((item for item in workspace_sessions(request.user) if item.pk == pk), None)
    if current is None:
        # Closed while the page asked: its pane is on its way out, with nothing to show.
        return HttpResponse(status=204)
    return render(request, f"{WORKSPACE}#session-header", {"current": current})


def _own_session(request: HttpRequest, pk: int, rows: QuerySet[AgentSession] | None = None) -> AgentSession:
    """The agent's session `pk`, 404 for anyone else's; joined (`rows`) only where the action
    reads the conversation: a switch reads just the row, and re-reads the panel after it."""
    return get_object_or_404(AgentSession if rows is None else rows, pk=pk, agent=request.user)


@require_POST
@login_required
@agent_required
def session_focus(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Switch to a session, or Home (SES-1, SES-4, SES-8)."""
    session = _own_session(request, pk) if pk is not None else None
    try:
        session_actions.session_focus(agent=request.user, session=session)
    except ConversationError as refused:
        return _workspace(request, error=str(refused))
    return _workspace(request)


# What a session can be opened for from the dashboard or a record link (SES-2).
SESSION_TARGETS = {"conversation": Conversation, "case": Case, "contact": Contact}


@require_POST
@login_required
@agent_required
def session_open(request: HttpRequest) -> HttpResponse:
    """Open (or focus) the session for `target`, "conversation:5", "case:3" or "contact:2" (SES-2)."""
    kind, _sep, pk = request.POST.get("target", "").partition(":")
    model = SESSION_TARGETS.get(kind)
    target = model.objects.filter(pk=pk).first() if model is not None and pk.isdigit() else None
    if target is None:
        return _workspace(request, error=_("Choose a conversation, case or contact to open."))
    try:
        session_actions.session_open(agent=request.user, **{kind: target})
    except ConversationError as refused:
        return _workspace(request, error=str(refused))
    return _workspace(request)


@require_POST
@login_required
@agent_required
def session_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a session after the agent confirmed (SES-5); its conversation moves as its kind says."""
    session = _own_session(
        request, pk, AgentSession.objects.select_related("conversation__workstream", "conversation__case")
    )
    try:
        session_actions.session_close(agent=request.user, session=session)
    except ConversationError as refused:
        return _workspace(request, error=str(refused))
    return _workspace(request)


@require_POST
@login_required
@agent_required
def session_tab(request: HttpRequest, pk: int) -> HttpResponse:
    """Open or bring forward an application tab in the session (SES-9); `close` closes it."""
    session = _own_session(request, pk)
    act = session_actions.session_tab_close if request.POST.get("close") else session_actions.session_tab_open
    try:
        act(agent=request.user, session=session, tab=request.POST.get("tab"))
    except ConversationError as refused:
        return _workspace(request, error=str(refused))
    return _workspace(request)


@require_POST
@login_required
@agent_required
def session_drafts(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep the session's unsaved form fields as the agent types (SES-4)."""
    session = _own_session(request, pk)
    try:
        drafts = json.loads(request.POST.get("drafts", ""))
    except ValueError:
        return HttpResponse(_("Unsaved changes must be sent as JSON."), status=400, content_type="text/plain")
    try:
        session_actions.session_drafts_save(agent=request.user, session=session, drafts=drafts)
    except ConversationError as refused:
        return HttpResponse(str(refused), status=400, content_type="text/plain")
    return HttpResponse(status=204)


# The agent's moves on a work item. Accepting or picking starts the conversation's session
# (SES-3); every move lands in the workspace.
WORK_ITEM_ACTIONS = {
    "accept": conversation_accept,  # RT-3
    "reject": conversation_reject,  # RT-3
    "pick": conversation_pick,  # RT-4
    "end": conversation_end,  # ST-3
    "close_session": conversation_close_session,  # ST-4, ST-5, ST-8, ST-24
    "transfer_accept": conversation_transfer_accept,  # SUP-6
    "transfer_reject": conversation_transfer_reject,  # SUP-6
}
STARTS_A_SESSION = {"accept", "pick", "transfer_accept"}


@require_POST
@login_required
@agent_required
def work_item_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """Run one of the agent's actions; a refusal is shown in the workspace with its reason and
    changed nothing. Buttons post with htmx, which follows HX-Redirect, or as plain forms."""
    act = WORK_ITEM_ACTIONS[verb]
    conversation = get_object_or_404(Conversation.objects.select_related("workstream", "queue"), pk=pk)
    error = ""
    try:
        with transaction.atomic():
            act(conversation=conversation, agent=request.user)
            if verb in STARTS_A_SESSION:
                session_actions.session_open(agent=request.user, conversation=conversation)
            elif verb == "close_session":
                session_actions.session_conversation_closed(agent=request.user, conversation=conversation)
    except ConversationError as refused:
        error = str(refused)
    success = reverse("sessions_app:home")
    if request.htmx and verb in STARTS_A_SESSION and request.htmx.current_url_abs_path == success:
        # In the workspace the new session (or the refusal) replaces the session pane: no reload.
        return reswap(retarget(_workspace(request, error=error), "#session-pane"), "outerHTML")
    if error:
        messages.error(request, error)
    return HttpResponseClientRedirect(success) if request.htmx else redirect(success)


@require_POST
@login_required
@agent_required
def set_presence(request: HttpRequest) -> HttpResponse:
    """PR-1: the agent chooses a presence in the header; htmx swaps the selector in place."""
    error = ""
    presence = (
        Presence.objects.filter(pk=request.POST.get("presence", "")).first()
        if request.POST.get("presence", "").isdigit()
        else None
    )
    if presence is None:
        error = _("Choose one of the listed presences.")
    else:
        try:
            agent_presence_set(agent=request.user, presence=presence)
        except ConversationError as refused:
            error = str(refused)
    if request.htmx:
        context = {**agent_bar_context(request.user), "presence_error": error}
        return render(request, "sessions_app/_agent_bar.html#presence", context)
    if error:
        messages.error(request, error)
    return redirect("sessions_app:home")
