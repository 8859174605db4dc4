"""The groups Agent, Supervisor and Administrator and what each may do."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import Group, Permission

AGENT = "Agent"
SUPERVISOR = "Supervisor"
ADMINISTRATOR = "Administrator"

AGENT_PERMISSIONS = [
    "conversations.work_conversation",
    "conversations.view_conversation",
    "conversations.view_contact",
    "conversations.add_contact",
    "conversations.change_contact",
    "conversations.view_account",
    "conversations.view_case",
    "conversations.add_case",
    "conversations.change_case",
]
SUPERVISOR_PERMISSIONS = [*AGENT_PERMISSIONS, "conversations.supervise_conversation"]

# Who reaches a surface's views (SEC-1), after login_required: agents (supervisors included) the
# workspace, supervisors the dashboards. The object checks are the selectors' and the actions'.
agent_required = permission_required("conversations.work_conversation", raise_exception=True)
supervisor_required = permission_required("conversations.supervise_conversation", raise_exception=True)
# Administrators configure everything in Django admin: every model of the domain, and users.
ADMINISTRATOR_APPS = ["conversations", "knowledge", "auth"]


def _permissions(names: list[str]) -> list[Permission]:
    pairs = [name.split(".", 1) for name in names]
    found = Permission.objects.filter(
        content_type__app_label__in={app for app, _ in pairs}, codename__in={code for _, code in pairs}
    )
    return list(found)


def ensure_roles(**_kwargs) -> None:
    """Create or complete the three groups; idempotent, run after every migrate."""
    Group.objects.get_or_create(name=AGENT)[0].permissions.add(*_permissions(AGENT_PERMISSIONS))
    Group.objects.get_or_create(name=SUPERVISOR)[0].permissions.add(*_permissions(SUPERVISOR_PERMISSIONS))
    # Configuring is not working conversations: an administrator is an agent only if also in that group.
    Group.objects.get_or_create(name=ADMINISTRATOR)[0].permissions.add(
        *Permission.objects.filter(content_type__app_label__in=ADMINISTRATOR_APPS).exclude(
            codename__in=["work_conversation", "supervise_conversation"]
        )
    )
