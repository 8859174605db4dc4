"""The agent's open sessions (SES-1 … SES-9): one row per customer context in the workspace, so
the session panel, each session's application tabs and their unsaved drafts survive a reload."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnichannel.conversations.models import Case, Contact, Conversation


class SessionKind(models.TextChoices):
    CONVERSATION = "conversation", _("Conversation")
    CASE = "case", _("Case")
    CONTACT = "contact", _("Contact")


class AgentSession(models.Model):
    """One session in an agent's session panel. Home is not a row: it is focused when no row is."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_sessions")
    kind = models.CharField(_("kind"), max_length=12, choices=SessionKind.choices)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(_("position"))
    focused = models.BooleanField(_("focused"), default=False)
    # Application tabs (SES-9): "app" or "app:pk" strings, in the order they were opened.
    tabs = models.JSONField(_("application tabs"), default=list)
    active_tab = models.CharField(_("active tab"), max_length=60)
    # Unsaved form fields by the application tab they are in, then field name (SES-4): saved as the agent types.
    draft = models.JSONField(_("unsaved changes"), default=dict, blank=True)
    # The conversation's last message sequence the agent has seen here: later ones are unread (SES-8).
    seen_sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("opened"), auto_now_add=True)

    class Meta:
        ordering = ["agent", "position"]
        verbose_name = _("agent session")
        verbose_name_plural = _("agent sessions")
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "conversation"],
                condition=Q(kind="conversation"),
                name="one_session_per_conversation",
            ),
            models.UniqueConstraint(fields=["agent", "case"], condition=Q(kind="case"), name="one_session_per_case"),
            models.UniqueConstraint(
                fields=["agent", "contact"], condition=Q(kind="contact"), name="one_session_per_contact"
            ),
            models.UniqueConstraint(fields=["agent"], condition=Q(focused=True), name="one_focused_session"),
            models.CheckConstraint(
                condition=(
                    Q(kind="conversation", conversation__isnull=False)
                    | Q(kind="case", case__isnull=False)
                    | Q(kind="contact", contact__isnull=False)
                ),
                name="session_has_its_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session of {self.agent_id}"
