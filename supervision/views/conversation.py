"""A supervisor's actions on one conversation (SUP-3 to SUP-7, seed 001): the monitored
conversation's page, joining and leaving its chat, and the Assign, Transfer and Force close
dialogs. Every change goes through the core's actions, which check role, workstream switch
(SUP-2) and state on the locked row; a refusal is shown and changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from omnichannel.conversations.actions.supervision import (
    conversation_assign,
    conversation_assign_to_queue,
    conversation_force_close,
    conversation_monitor,
    conversation_supervisor_join,
    conversation_supervisor_leave,
)
from omnichannel.conversations.actions.transfers import conversation_transfer_request
from omnichannel.conversations.errors import ConversationError, InvalidInput
from omnichannel.conversations.models import Conversation, Queue
from omnichannel.conversations.roles import supervisor_required
from omnichannel.conversations.selectors import (
    agent_candidates,
    conversation_for_page,
    other_queues,
    supervisor_actions_for,
    supervisor_monitoring,
    transcript,
)
from omnichannel.conversations.states import Action, State

TREND_WIDTH, TREND_HEIGHT = 240, 60
LIVE_PART = "supervisor-live"  # the region supervisor.js re-renders after each change
TRANSFER_OUTCOMES = {Action.TRANSFER_ACCEPT, Action.TRANSFER_REJECT, Action.TRANSFER_TIMEOUT}


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(
        Conversation.objects.select_related("workstream", "queue", "contact", "case", "primary_agent"), pk=pk
    )


def _back(request: HttpRequest, conversation: Conversation) -> str:
    """Where a dialog returns: the page it was opened from, else the conversation's page."""
    # From htmx, the page that opened the dialog (a dashboard row's, say) is where to return.
    opener = (request.htmx.current_url_abs_path or "") if request.htmx else ""
    target = request.POST.get("next") or request.GET.get("next") or opener
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("supervision:conversation", args=[conversation.pk])


def sentiment_trend(messages_: list) -> list[tuple[str, str]]:
    """SVG points of the customer's message scores, oldest to newest (-1 at the bottom, 1 at the top)."""
    scores = [m.sentiment for m in messages_ if m.sentiment is not None]
    step = TREND_WIDTH / max(1, len(scores) - 1)
    return [(f"{i * step:.1f}", f"{(1 - score) * TREND_HEIGHT / 2:.1f}") for i, score in enumerate(scores)]


def conversation_page_context(*, user, pk: int) -> dict:
    """What the supervisor's conversation page and its live partial show."""
    conversation = conversation_for_page(user=user, pk=pk)
    lines = transcript(conversation)
    events = list(conversation.events.all())
    return {
        "conversation": conversation,
        "events": events,
        # What became of the last transfer (answered, timed out, or cancelled by another move), for the
        # supervisor who asked for it (SUP-6).
        "last_transfer": next(
            (e for e in reversed(events) if e.action in TRANSFER_OUTCOMES or "transfer_cancelled_for" in e.detail),
            None,
        ),
        "transcript": lines,
        "trend": sentiment_trend(lines),
        "trend_size": (TREND_WIDTH, TREND_HEIGHT),
        "consultants": list(conversation.consultants.all()),
        "joined": (joined := conversation.supervisors.filter(pk=user.pk).exists()),
        # A joined supervisor writes to both sides until the conversation is Closed (SUP-4).
        "can_write": joined and conversation.state != State.CLOSED,
        "supervisor_actions": supervisor_actions_for(conversation, user),
    }


@require_POST
@login_required
@supervisor_required
def monitor(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-3: start monitoring (recorded on the timeline), then the conversation's page."""
    conversation = _conversation(pk)
    target = reverse("supervision:conversation", args=[pk])
    try:
        conversation_monitor(conversation=conversation, actor=request.user)
    except ConversationError as refused:
        messages.error(request, str(refused))
        target = reverse("supervision:home")
    # A dashboard row posts with htmx (its pushed markup has no CSRF field): the browser goes there.
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@supervisor_required
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The monitored conversation: live transcript, sentiment trend, agent replies, timeline and
    the actions its workstream enables. The first visit is a Monitor, recorded and refused where
    Monitor is (SUP-3); once monitoring, the page follows the conversation read-only wherever it
    moves (Closed after a force close, say). The supervisor's own conversations open in their workspace."""
    conversation = _conversation(pk)
    if conversation.primary_agent_id == request.user.pk:
        messages.info(request, _("This conversation is assigned to you; it opens in your workspace."))
        return redirect("conversations:detail", pk=pk)
    if not supervisor_monitoring(conversation_id=pk, user=request.user):
        try:
            conversation_monitor(conversation=conversation, actor=request.user)
        except ConversationError as refused:
            messages.error(request, str(refused))
            home = reverse("supervision:home")
            return HttpResponseClientRedirect(home) if request.htmx else redirect(home)
    template = "supervision/conversation.html"
    if request.htmx:
        part = request.GET.get("part", LIVE_PART)
        if part != LIVE_PART:
            return HttpResponseBadRequest(
                _("Unknown part “%(part)s”; this page has “%(live)s”.") % {"part": part, "live": LIVE_PART}
            )
        template += "#" + part
    return render(request, template, conversation_page_context(user=request.user, pk=pk))


@require_POST
@login_required
@supervisor_required
def join(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-4: join the monitored chat; customer and agent are told."""
    return _act(request, pk, lambda c: conversation_supervisor_join(conversation=c, actor=request.user))


@require_POST
@login_required
@supervisor_required
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-4: leave the chat; customer and agent are told."""
    return _act(request, pk, lambda c: conversation_supervisor_leave(conversation=c, actor=request.user))


def _act(request: HttpRequest, pk: int, act) -> HttpResponse:
    conversation = _conversation(pk)
    try:
        act(conversation)
    except ConversationError as refused:
        messages.error(request, str(refused))
    return redirect(_back(request, conversation))


def _seen_version(request: HttpRequest) -> int | None:
    value = request.POST.get("version", "")
    if not value.isdigit():
        raise InvalidInput(_("The dialog is incomplete; open it again."))
    return int(value)


def _dialog(request: HttpRequest, conversation: Conversation, kind: str, context: dict, status: int = 200):
    """The dialog as a fragment for the page's <dialog> (htmx), or as a page of its own."""
    context = {
        "conversation": conversation,
        "kind": kind,
        "action_url": reverse(f"supervision:{kind}", args=[conversation.pk]),
        "next": _back(request, conversation),
        **context,
    }
    template = "supervision/dialog.html#dialog" if request.htmx else "supervision/dialog.html"
    return render(request, template, context, status=status)


def _agent(pk: str):
    if not pk.isdigit():
        return None
    return get_user_model().objects.filter(pk=pk).first()


@login_required
@supervisor_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-5: assign an Open, unassigned conversation to an agent (those showing an allowed
    presence with free capacity; with the override, every member of its queue, each with the
    units it would take them over capacity) or to another queue."""
    conversation = _conversation(pk)
    override = request.POST.get("override", request.GET.get("override", "")) == "1"
    error = ""
    if request.method == "POST":
        agent, queue = _agent(request.POST.get("agent", "")), None
        queue_pk = request.POST.get("queue", "")
        if queue_pk.isdigit():
            queue = Queue.objects.filter(pk=queue_pk).first()
        try:
            if (agent is None) == (queue is None):
                raise InvalidInput(_("Choose one agent or one queue."))
            if agent is not None:
                conversation_assign(
                    conversation=conversation, agent=agent, actor=request.user, override=override
                )
                done = _("Assigned to %(agent)s.") % {"agent": agent.get_full_name() or agent.get_username()}
            else:
                conversation_assign_to_queue(conversation=conversation, queue=queue, actor=request.user)
                done = _("Moved to the queue %(queue)s.") % {"queue": queue}
        except ConversationError as refused:
            error = str(refused)
        else:
            messages.success(request, done)
            return redirect(_back(request, conversation))
    allowed = Action.ASSIGN in supervisor_actions_for(conversation, request.user)
    context = {
        "candidates": agent_candidates(conversation, now=timezone.now(), override=override) if allowed else [],
        "queues": other_queues(conversation) if allowed else [],
        "override": override,
        "allowed": allowed,
        "error": error,
    }
    return _dialog(request, conversation, "assign", context, status=400 if error else 200)


@login_required
@supervisor_required
def transfer(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-6: offer the conversation to another agent of its queue showing an allowed presence;
    it stays with its agent until the second one accepts (then the first consults)."""
    conversation = _conversation(pk)
    error = ""
    if request.method == "POST":
        to_agent = _agent(request.POST.get("agent", ""))
        try:
            if to_agent is None:
                raise InvalidInput(_("Choose the agent to transfer to."))
            conversation_transfer_request(
                conversation=conversation, to_agent=to_agent, actor=request.user, seen_version=_seen_version(request)
            )
        except ConversationError as refused:
            error = str(refused)
        else:
            name = to_agent.get_full_name() or to_agent.get_username()
            messages.success(request, _("Transfer offered to %(agent)s; waiting for their answer.") % {"agent": name})
            return redirect(_back(request, conversation))
    allowed = Action.TRANSFER_REQUEST in supervisor_actions_for(conversation, request.user)
    context = {
        "candidates": agent_candidates(conversation, now=timezone.now()) if allowed else [],
        "allowed": allowed,
        "error": error,
    }
    return _dialog(request, conversation, "transfer", context, status=400 if error else 200)


@login_required
@supervisor_required
def force_close(request: HttpRequest, pk: int) -> HttpResponse:
    """SUP-7: confirm, then close the conversation; customer and agent are told a supervisor ended it."""
    conversation = _conversation(pk)
    error = ""
    if request.method == "POST":
        try:
            conversation_force_close(
                conversation=conversation, actor=request.user, seen_version=_seen_version(request)
            )
        except ConversationError as refused:
            error = str(refused)
        else:
            messages.success(request, _("The conversation is closed; customer and agent were told."))
            return redirect(_back(request, conversation))
    allowed = Action.FORCE_CLOSE in supervisor_actions_for(conversation, request.user)
    return _dialog(request, conversation, "force_close", {"allowed": allowed, "error": error}, 400 if error else 200)
