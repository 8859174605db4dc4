"""The core's pages: role-based landing and the conversation page with its timeline (ST-23)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static

from .contexts import communication_panel_context, conversation_context
from .selectors import is_agent, is_supervisor


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
    context |= communication_panel_context(user=request.user, conversation=context["conversation"])
    return render(request, "conversations/conversation_detail.html", context)
