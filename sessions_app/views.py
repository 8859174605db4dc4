"""The agent workspace's Home session: the agent dashboard (SES-1, SES-2)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from omnichannel.conversations.models import AgentProfile
from omnichannel.conversations.selectors import capacity_in_use, my_work_items


@login_required
@permission_required("conversations.work_conversation", raise_exception=True)
def agent_home(request: HttpRequest) -> HttpResponse:
    profile = AgentProfile.objects.select_related("presence").filter(user=request.user).first()
    return render(
        request,
        "sessions_app/home.html",
        {
            "profile": profile,
            "capacity_in_use": capacity_in_use(agent_id=request.user.pk, now=timezone.now()),
            "my_work_items": my_work_items(request.user),
        },
    )
