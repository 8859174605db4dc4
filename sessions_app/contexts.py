"""What the workspace's pages and regions render, built once for the views and the agent socket."""

from __future__ import annotations

from django.utils import timezone

from omnichannel.conversations.contexts import communication_panel_context
from omnichannel.conversations.models import AgentProfile
from omnichannel.conversations.selectors import capacity_in_use, closed_work_items, my_work_items, open_work_items

from .selectors import SessionItem, focused, session_tabs, workspace_sessions

WORKSPACE = "sessions_app/workspace.html"


def home_context(user) -> dict:
    """What the Home session shows (SES-2)."""
    profile = AgentProfile.objects.filter(user=user).first()
    return {
        "capacity_in_use": capacity_in_use(agent_id=user.pk, now=timezone.now()),
        "capacity": profile.capacity if profile else 0,
        "my_work_items": my_work_items(user),
        "open_work_items": open_work_items(user),
        "closed_work_items": closed_work_items(user),
    }


def session_pane_context(user, item: SessionItem) -> dict:
    """The focused session: its application tabs and, for a conversation with a transcript,
    the communication panel (SES-3, SES-9)."""
    if not item.visible:
        # Transferred or taken over meanwhile: the session stays until closed, its contents go (SEC-1).
        return {"tabs": [], "conversation_gone": True}
    context = {"tabs": session_tabs(item.session, agent=user)}
    if (conversation := item.conversation) is not None and (
        panel := communication_panel_context(user=user, conversation=conversation)
    ):
        context |= {"conversation": conversation, **panel}
    return context


def workspace_context(user) -> dict:
    sessions = workspace_sessions(user)
    current = focused(sessions)
    context = {"sessions": sessions, "current": current}
    context |= home_context(user) if current is None else session_pane_context(user, current)
    return context
