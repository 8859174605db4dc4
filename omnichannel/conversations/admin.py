"""Administration: every configuration object, with validation, filters and search.

Conversations, messages and events are shown read-only: they change only through
`actions/`, so that every change is checked and recorded. A case added here is created by
the same action as in the workspace, which makes it a record work item (MSG-2).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .actions.cases import case_create
from .errors import ConversationError
from .models import (
    Account,
    AgentProfile,
    CannedResponse,
    Case,
    Contact,
    Conversation,
    ConversationEvent,
    Message,
    PreChatQuestion,
    Presence,
    PresenceChange,
    Queue,
    RoutingCondition,
    RoutingRule,
    Workstream,
)
from .record_selectors import case_work_item
from .states import Channel

admin.site.site_header = _("Omnichannel administration")
admin.site.site_title = _("Omnichannel")


@admin.register(Presence)
class PresenceAdmin(admin.ModelAdmin):
    list_display = ["name", "base"]
    list_filter = ["base"]
    search_fields = ["name"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name", "members__username"]
    filter_horizontal = ["members"]

    @admin.display(description=_("agents"))
    def member_count(self, obj: Queue) -> int:
        return obj.members.count()


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    fields = ["order", "name", "queue", "priority"]
    extra = 0
    show_change_link = True  # conditions are edited on the rule's own page


class PreChatQuestionInline(admin.TabularInline):
    """CH-2: what the chat widget asks before the chat starts; routing rules read the answers by key."""

    model = PreChatQuestion
    extra = 0
    fields = ["order", "key", "label", "choices", "required"]


@admin.register(Workstream)
class WorkstreamAdmin(admin.ModelAdmin):
    inlines = [PreChatQuestionInline, RoutingRuleInline]
    readonly_fields = ["embed_snippet"]
    list_display = ["name", "channel", "default_queue", "distribution", "capacity_units", "wrap_up_block"]
    list_filter = ["channel", "distribution", "assignment_method", "wrap_up_block", "persistent_chat"]
    search_fields = ["name", "default_queue__name"]
    list_select_related = ["default_queue"]
    filter_horizontal = ["allowed_presences"]
    fieldsets = [
        (None, {"fields": ["name", "channel", "default_queue"]}),
        (
            _("Work distribution"),
            {
                "fields": [
                    "distribution",
                    "assignment_method",
                    "capacity_units",
                    "allowed_presences",
                    "offer_timeout_seconds",
                    "auto_accept",
                ]
            },
        ),
        (
            _("Timeouts"),
            {
                "fields": [
                    "wrap_up_block",
                    "wrap_up_block_minutes",
                    "waiting_timeout_minutes",
                    "agent_reconnect_timeout_seconds",
                    "persistent_chat",
                    "persistent_chat_days",
                ]
            },
        ),
        (
            _("Supervision"),
            {
                "fields": [
                    "allow_monitor",
                    "allow_assign",
                    "allow_transfer",
                    "allow_force_close",
                    "sentiment_alert_threshold",
                ]
            },
        ),
        (
            _("Live chat widget"),
            {
                "fields": [
                    "embed_snippet",
                    "widget_key",
                    "widget_secret",
                    "monitoring_notice",
                    "customer_reconnect_timeout_seconds",
                ]
            },
        ),
    ]

    @admin.display(description=_("snippet for the web site"))
    def embed_snippet(self, workstream: Workstream) -> str:
        """CH-1: the one line a web site adds to show the chat button."""
        if workstream.pk is None or workstream.channel != Channel.LIVE_CHAT:
            return _("Save a live chat workstream to get its snippet.")
        src = static("widget.js")
        return format_html(
            '<code>&lt;script src="https://YOUR-SERVER{}" data-workstream="{}" async&gt;&lt;/script&gt;</code>',
            src,
            workstream.widget_key,
        )


class RoutingConditionInline(admin.TabularInline):
    model = RoutingCondition
    extra = 1


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """RT-1: rules are tried in order; all of a rule's conditions must hold; none matching: default queue."""

    list_display = ["name", "workstream", "order", "queue", "priority"]
    list_filter = ["workstream", "queue"]
    search_fields = ["name", "workstream__name", "queue__name"]
    list_select_related = ["workstream", "queue"]
    inlines = [RoutingConditionInline]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "capacity", "presence", "auto_busy", "disconnected_at"]
    list_filter = ["presence__base", "presence", "auto_busy"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user", "presence"]
    autocomplete_fields = ["user"]


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    can_delete = False
    extra = 0


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AgentUserAdmin(UserAdmin):
    inlines = [AgentProfileInline]
    list_filter = [*UserAdmin.list_filter, "queues"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "account"]
    list_filter = ["account"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_select_related = ["account"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "contact", "account", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["title", "contact__first_name", "contact__last_name", "account__name"]
    list_select_related = ["contact", "account"]
    autocomplete_fields = ["contact", "account"]

    def get_exclude(self, request, obj=None):
        # A new case is active: its record work item is made with it.
        return ["status"] if obj is None else []

    def save_model(self, request, obj: Case, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            case = case_create(title=obj.title, contact=obj.contact, account=obj.account, actor=request.user)
        except ConversationError as refused:
            # The form validated the same title; what is left is a refusal of the action itself.
            raise PermissionDenied(str(refused)) from refused
        obj.pk, obj.status, obj.created_at = case.pk, case.status, case.created_at
        if (record := case_work_item(case)) is not None:
            self.message_user(request, _("The case waits in %(queue)s as a work item.") % {"queue": record.queue})
        else:
            self.message_user(
                request, _("No case workstream is configured, so the case is not a work item."), messages.WARNING
            )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ConversationEventInline(admin.TabularInline):
    model = ConversationEvent
    fields = ["created_at", "from_state", "to_state", "action", "actor", "agent", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["id", "__str__", "state", "workstream", "queue", "primary_agent", "created_at"]
    list_filter = ["state", "workstream__channel", "workstream", "queue", "primary_agent"]
    search_fields = ["id", "contact__first_name", "contact__last_name", "case__title"]
    list_select_related = ["workstream", "queue", "primary_agent", "contact", "case"]
    date_hierarchy = "created_at"
    inlines = [ConversationEventInline]


@admin.register(PresenceChange)
class PresenceChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "agent", "presence", "reason", "actor"]
    list_filter = ["reason", "presence"]
    search_fields = ["agent__username"]
    list_select_related = ["agent", "presence", "actor"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "sequence", "sender_role", "created_at"]
    list_filter = ["sender_role", "created_at"]
    search_fields = ["body", "conversation__id"]
    list_select_related = ["conversation"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    """Prepared replies agents insert from the communication panel."""

    list_display = ["title", "workstream"]
    list_filter = ["workstream"]
    search_fields = ["title", "body"]
