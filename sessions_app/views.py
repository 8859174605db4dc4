"""The agent workspace's Home session (SES-1, SES-2) and the agent's own actions on work items:
accept or reject an offer (RT-3), pick from Open work items (RT-4), set presence (PR-1)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from omnichannel.conversations import actions, agents
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import AgentProfile, Conversation, Presence
from omnichannel.conversations.selectors import capacity_in_use, my_work_items, open_work_items

from .context_processors import agent_bar_context

agent_required = permission_required("conversations.work_conversation", raise_exception=True)


def home_context(user) -> dict:
    """What the Home session shows; the agent socket re-renders the same partials."""
    profile = AgentProfile.objects.filter(user=user).first()
    return {
        "capacity_in_use": capacity_in_use(agent_id=user.pk, now=timezone.now()),
        "capacity": profile.capacity if profile else 0,
        "my_work_items": my_work_items(user),
        "open_work_items": open_work_items(user),
    }


@login_required
@agent_required
def agent_home(request: HttpRequest) -> HttpResponse:
    return render(request, "sessions_app/home.html", home_context(request.user))


# The agent's own moves on a work item, and where each leads when it succeeds.
WORK_ITEM_ACTIONS = {
    "accept": (actions.conversation_accept, "conversation"),  # RT-3
    "reject": (actions.conversation_reject, "home"),  # RT-3
    "pick": (actions.conversation_pick, "conversation"),  # RT-4
    "end": (actions.conversation_end, "conversation"),  # ST-3
    "close_session": (actions.conversation_close_session, "home"),  # ST-4, ST-5, ST-8, ST-24
    "transfer_accept": (actions.conversation_transfer_accept, "conversation"),  # SUP-6
    "transfer_reject": (actions.conversation_transfer_reject, "home"),  # SUP-6
}


@require_POST
@login_required
@agent_required
def work_item_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    """Run one of the agent's actions; a refusal is shown with its reason (on the agent's home,
    or for End and Close session on the conversation's page) and changed nothing. Buttons
    post with htmx, which follows HX-Redirect, or as plain forms."""
    act, then = WORK_ITEM_ACTIONS[verb]
    conversation = get_object_or_404(Conversation.objects.select_related("workstream", "queue"), pk=pk)
    success = reverse("conversations:detail", args=[pk]) if then == "conversation" else reverse("sessions_app:home")
    try:
        act(conversation=conversation, agent=request.user)
    except ConversationError as refused:
        messages.error(request, str(refused))
        # Ending and closing are done from the conversation's page: the refusal is shown there.
        in_session = verb in ("end", "close_session")
        success = reverse("conversations:detail", args=[pk]) if in_session else reverse("sessions_app:home")
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
            agents.agent_presence_set(agent=request.user, presence=presence)
        except ConversationError as refused:
            error = str(refused)
    if request.htmx:
        context = {**agent_bar_context(request.user), "presence_error": error}
        return render(request, "sessions_app/_agent_bar.html#presence", context)
    if error:
        messages.error(request, error)
    return redirect("sessions_app:home")
