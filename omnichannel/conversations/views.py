"""The core's pages: role-based landing and the conversation page with its timeline (ST-23)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from .models import Conversation
from .selectors import (
    can_write,
    canned_responses_for,
    conversation_for_page,
    is_agent,
    is_supervisor,
    transcript,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to the surface it works in."""
    if is_supervisor(request.user):
        return redirect("supervision:home")
    if is_agent(request.user):
        return redirect("sessions_app:home")
    if request.user.is_staff:
        return redirect("admin:index")
    return render(request, "conversations/no_role.html", status=403)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (admin, a JSON answer)."""
    return redirect(static("favicon.svg"))


def conversation_context(*, user, pk: int) -> dict:
    """What the page and its live partial render; raises Http404 for conversations the user may not see."""
    try:
        conversation = conversation_for_page(user=user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404 from None
    return {"conversation": conversation, "events": conversation.events.all()}


@login_required
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's page; where it has a transcript, the communication panel beside it."""
    if request.htmx:
        return render(
            request,
            "conversations/conversation_detail.html#conversation-live",
            conversation_context(user=request.user, pk=pk),
        )
    context = conversation_context(user=request.user, pk=pk)
    conversation = context["conversation"]
    if conversation.traits.transcript:
        writes = can_write(request.user, conversation)
        context |= {
            "transcript": transcript(conversation),
            "can_write": writes,
            "canned_responses": canned_responses_for(conversation) if writes else [],
        }
    return render(request, "conversations/conversation_detail.html", context)
