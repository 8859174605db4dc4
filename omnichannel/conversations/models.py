"""The conversation domain: configuration, records, conversations, messages and events.

Fields change only through `actions.py`; these classes hold data, validation and the
derived values pages need (kind, title).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .capacity import MAX_WRAP_UP_BLOCK_MINUTES, MIN_WRAP_UP_BLOCK_MINUTES, WrapUpBlock
from .routing import KEYED_FIELDS, AssignmentMethod, ConditionField, ConditionOperator, PresenceBase
from .states import CHANNEL_TRAITS, Action, Channel, Kind, State, Traits, caused_by_customer


class Presence(models.Model):
    """A presence an agent can show: the five base ones plus custom ones mapped to a base (PR-1)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    base = models.CharField(_("base presence"), max_length=12, choices=PresenceBase.choices)

    class Meta:
        ordering = ["base", "name"]
        verbose_name = _("presence")
        verbose_name_plural = _("presences")

    def __str__(self) -> str:
        if self.name == self.get_base_display():
            return self.name
        return f"{self.name} ({self.get_base_display()})"


class SentimentLevel(models.TextChoices):
    VERY_NEGATIVE = "very_negative", _("Very negative")
    NEGATIVE = "negative", _("Negative")
    SLIGHTLY_NEGATIVE = "slightly_negative", _("Slightly negative")
    NEUTRAL = "neutral", _("Neutral")
    SLIGHTLY_POSITIVE = "slightly_positive", _("Slightly positive")
    POSITIVE = "positive", _("Positive")
    VERY_POSITIVE = "very_positive", _("Very positive")


class Queue(models.Model):
    """Holds conversations; its members are the agents work is offered to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="queues", blank=True, verbose_name=_("agents")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("queue")
        verbose_name_plural = _("queues")

    def __str__(self) -> str:
        return self.name


class Distribution(models.TextChoices):
    PUSH = "push", _("Push (offer to an agent)")
    PICK = "pick", _("Pick (agents pick from Open work items)")


def _new_widget_key() -> str:
    return secrets.token_urlsafe(12)


def _new_widget_secret() -> str:
    return secrets.token_urlsafe(32)


class Workstream(models.Model):
    """The configuration of one kind of work: channel, capacity, timeouts, supervision."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    default_queue = models.ForeignKey(
        Queue, on_delete=models.PROTECT, related_name="+", verbose_name=_("default queue")
    )
    capacity_units = models.PositiveSmallIntegerField(
        _("capacity units per conversation"), default=10, validators=[MinValueValidator(1)]
    )
    allowed_presences = models.ManyToManyField(
        Presence,
        blank=True,
        related_name="+",
        verbose_name=_("allowed presences"),
        help_text=_(
            "Work is offered only to agents showing one of these presences; none chosen: any presence but Offline."
        ),
    )
    wrap_up_block = models.CharField(
        _("block capacity for wrap-up"), max_length=8, choices=WrapUpBlock.choices, default=WrapUpBlock.ALWAYS
    )
    wrap_up_block_minutes = models.PositiveSmallIntegerField(
        _("wrap-up block minutes"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(MIN_WRAP_UP_BLOCK_MINUTES, _("Block capacity for wrap-up must be from 1 to 60 minutes.")),
            MaxValueValidator(MAX_WRAP_UP_BLOCK_MINUTES, _("Block capacity for wrap-up must be from 1 to 60 minutes.")),
        ],
        help_text=_("1 to 60; used when wrap-up blocks for a number of minutes."),
    )
    waiting_timeout_minutes = models.PositiveIntegerField(
        _("waiting inactivity timeout (minutes)"),
        default=24 * 60,
        validators=[MinValueValidator(1)],
        help_text=_("A Waiting conversation with no activity for this long is closed."),
    )
    persistent_chat = models.BooleanField(
        _("persistent chat"),
        default=False,
        help_text=_("Closing the session keeps the chat Waiting so a returning customer continues it."),
    )
    persistent_chat_days = models.PositiveSmallIntegerField(
        _("persistent chat period (days)"), default=28, validators=[MinValueValidator(1)]
    )
    agent_reconnect_timeout_seconds = models.PositiveIntegerField(
        _("agent reconnect timeout (seconds)"), default=120, validators=[MinValueValidator(1)]
    )
    customer_reconnect_timeout_seconds = models.PositiveIntegerField(
        _("customer reconnect timeout (seconds)"),
        default=60,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A live-chat customer whose browser stays disconnected this long has left the chat; "
            "a page reload or a short network loss within it is not a departure."
        ),
    )
    widget_key = models.CharField(
        _("widget key"),
        max_length=32,
        unique=True,
        default=_new_widget_key,
        help_text=_("Public: the chat snippet on the web site names the workstream by this key."),
    )
    widget_secret = models.CharField(
        _("widget secret"),
        max_length=64,
        default=_new_widget_secret,
        help_text=_("Shared with the web site, which signs its customers' identity tokens with it. Keep it private."),
    )
    monitoring_notice = models.TextField(
        _("monitoring notice"),
        default=_("This conversation may be monitored and recorded for quality and training purposes."),
        help_text=_("Shown to the customer before the chat starts (CH-4)."),
    )
    distribution = models.CharField(
        _("distribution"), max_length=8, choices=Distribution.choices, default=Distribution.PUSH
    )
    assignment_method = models.CharField(
        _("assignment method"),
        max_length=20,
        choices=AssignmentMethod.choices,
        default=AssignmentMethod.HIGHEST_CAPACITY,
    )
    offer_timeout_seconds = models.PositiveSmallIntegerField(
        _("offer timeout (seconds)"), default=60, validators=[MinValueValidator(5)]
    )
    auto_accept = models.BooleanField(_("auto-accept offers"), default=False)
    allow_monitor = models.BooleanField(_("supervisors may monitor"), default=True)
    allow_assign = models.BooleanField(_("supervisors may assign"), default=True)
    allow_transfer = models.BooleanField(_("supervisors may transfer"), default=True)
    allow_force_close = models.BooleanField(_("supervisors may force close"), default=True)
    sentiment_alert_threshold = models.CharField(
        _("sentiment alert threshold"),
        max_length=20,
        choices=SentimentLevel.choices,
        blank=True,
        default=SentimentLevel.SLIGHTLY_NEGATIVE,
        help_text=_("Alert the agent when a conversation's sentiment reaches this level; blank for never."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("workstream")
        verbose_name_plural = _("workstreams")

    def __str__(self) -> str:
        return self.name

    @property
    def traits(self) -> Traits:
        return CHANNEL_TRAITS[Channel(self.channel)]

    @property
    def kind(self) -> Kind:
        return self.traits.kind

    def clean(self) -> None:
        if self.wrap_up_block == WrapUpBlock.MINUTES and self.wrap_up_block_minutes is None:
            raise ValidationError(
                {"wrap_up_block_minutes": _("Give the number of minutes (1 to 60) to block capacity for wrap-up.")}
            )
        if self.wrap_up_block != WrapUpBlock.MINUTES and self.wrap_up_block_minutes is not None:
            raise ValidationError(
                {"wrap_up_block_minutes": _("Minutes apply only when wrap-up blocks for a number of minutes.")}
            )
        if self.persistent_chat and self.channel != Channel.LIVE_CHAT:
            raise ValidationError({"persistent_chat": _("Persistent chat applies only to live chat workstreams.")})


class AgentProfile(models.Model):
    """An agent's capacity and current presence."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile", verbose_name=_("user")
    )
    capacity = models.PositiveSmallIntegerField(_("capacity (units)"), default=30, validators=[MinValueValidator(1)])
    presence = models.ForeignKey(Presence, on_delete=models.PROTECT, related_name="+", verbose_name=_("presence"))
    auto_busy = models.BooleanField(
        _("busy when full"),
        default=True,
        help_text=_("Show Busy while capacity is full and go back to the earlier presence when it frees (PR-2)."),
    )
    presence_before_busy = models.ForeignKey(
        Presence,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The presence to return to once capacity frees; set only while auto-busy."),
    )
    last_offered_at = models.DateTimeField(
        _("last offered work"), null=True, blank=True, editable=False, help_text=_("Ties go to the longest idle.")
    )
    disconnected_at = models.DateTimeField(
        _("last connection gone"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when the agent's last connection closed; empty while connected."),
    )

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Account(models.Model):
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["name"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The web site's own id for this customer, named by its signed chat tokens (CH-2)."),
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts", verbose_name=_("account")
    )

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class CaseStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESOLVED = "resolved", _("Resolved")
    CANCELLED = "cancelled", _("Cancelled")


class Case(models.Model):
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.ACTIVE)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", verbose_name=_("contact")
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", verbose_name=_("account")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return self.title

    @property
    def is_closed(self) -> bool:
        return self.status != CaseStatus.ACTIVE


class Visitor(models.Model):
    """An anonymous customer; their number titles their conversations "Visitor N" (CH-2, SES-6)."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self) -> str:
        return _("Visitor %(number)s") % {"number": self.pk}


class Conversation(models.Model):
    """A work item. `version` guards every write: an action updates the row only if nobody
    else has since (a conditional UPDATE that works alike on SQLite and PostgreSQL)."""

    workstream = models.ForeignKey(
        Workstream, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("workstream")
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("queue"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("contact"),
    )
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("visitor"),
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations", verbose_name=_("case")
    )
    primary_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="primary_conversations",
        verbose_name=_("primary agent"),
    )
    consultants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="consulted_conversations", verbose_name=_("consultants")
    )
    last_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("last agent"),
        help_text=_("Who had it before it returned to a queue: offered first when the customer writes again (RT-5)."),
    )
    priority = models.SmallIntegerField(_("priority"), default=0, help_text=_("Higher is offered first."))
    context = models.JSONField(
        _("context"),
        default=dict,
        blank=True,
        help_text=_("What routing reads: language, pre-chat answers, customer attributes."),
    )
    external_party = models.CharField(
        _("external party"), max_length=32, blank=True, help_text=_("Number a voice call was transferred to.")
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True)
    capacity_units = models.PositiveSmallIntegerField(_("capacity units held"), default=0)
    capacity_release_at = models.DateTimeField(_("capacity released at"), null=True, blank=True)
    capacity_override = models.BooleanField(_("assigned over capacity"), default=False)
    waiting_until = models.DateTimeField(_("waiting until"), null=True, blank=True)
    last_sequence = models.PositiveIntegerField(_("last message sequence"), default=0)
    # Delivery and read marks (CH-3): the highest sequence each side's client has received or shown.
    customer_delivered_sequence = models.PositiveIntegerField(default=0)
    customer_read_sequence = models.PositiveIntegerField(default=0)
    agent_delivered_sequence = models.PositiveIntegerField(default=0)
    agent_read_sequence = models.PositiveIntegerField(default=0)
    sentiment = models.FloatField(_("sentiment"), null=True, blank=True, help_text=_("Rolling value, -1 to 1 (SEN-1)."))
    sentiment_level = models.CharField(_("sentiment level"), max_length=20, choices=SentimentLevel.choices, blank=True)
    supervisors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="joined_conversations",
        verbose_name=_("supervisors in the chat"),
        help_text=_("Supervisors who joined the chat and write to customer and agent (SUP-4)."),
    )
    transfer_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("transfer offered to"),
        help_text=_("The agent a supervisor's transfer waits on to accept or reject (SUP-6)."),
    )
    transfer_expires_at = models.DateTimeField(_("transfer offer expires"), null=True, blank=True)
    escalated_at = models.DateTimeField(
        _("escalated to a call"),
        null=True,
        blank=True,
        help_text=_(
            "When it was first escalated to a voice or video call; never transferred between agents after (SUP-6)."
        ),
    )
    customer_disconnected_at = models.DateTimeField(
        _("customer disconnected"),
        null=True,
        blank=True,
        help_text=_("When the live-chat customer's last socket closed; cleared when one opens."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    state_changed_at = models.DateTimeField(_("state changed"))
    version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        permissions = [
            ("work_conversation", _("Can work conversations as an agent")),
            ("supervise_conversation", _("Can supervise every conversation")),
        ]
        indexes = [
            models.Index(fields=["state", "queue", "-priority", "created_at"], name="conversation_queue_order"),
            models.Index(fields=["state", "queue"]),
            models.Index(fields=["primary_agent", "state"]),
            # The supervisors' dashboard pages through ongoing work in creation order (SUP-1):
            # read off this index, a page costs the same however many are ongoing or closed.
            models.Index(fields=["id"], condition=~Q(state=State.CLOSED), name="conversation_ongoing"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state=State.ACTIVE) | Q(primary_agent__isnull=False) | ~Q(external_party=""),
                name="active_has_a_party",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def traits(self) -> Traits:
        return self.workstream.traits

    @property
    def kind(self) -> Kind:
        return self.workstream.kind

    @property
    def title(self) -> str:
        """Contact, account or case title; "Visitor N" for anonymous chats, even once a case is
        linked to one (SES-6: an unauthenticated request is titled as a visitor)."""
        if self.contact_id:
            return str(self.contact)
        if self.visitor_id:
            return gettext("Visitor %(number)s") % {"number": self.visitor_id}
        if self.case_id:
            return self.case.title
        return gettext("Conversation %(number)s") % {"number": self.pk}


class SenderRole(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    SYSTEM = "system", _("System")


class Notice(models.TextChoices):
    """System notices in the transcript, shown to customer and agent alike (CH-3); the
    message body holds the name the notice mentions."""

    AGENT_JOINED = "agent_joined", _("%(name)s joined the chat")
    AGENT_LEFT = "agent_left", _("%(name)s left the chat; the next available agent will continue")
    TRANSFERRED = "transferred", _("The chat was transferred; the next available agent will continue")
    AGENT_ENDED = "agent_ended", _("%(name)s ended the chat")
    CUSTOMER_ENDED = "customer_ended", _("The customer ended the chat")
    CUSTOMER_LEFT = "customer_left", _("The customer left the chat")
    SUPERVISOR_JOINED = "supervisor_joined", _("%(name)s (supervisor) joined the chat")
    SUPERVISOR_LEFT = "supervisor_left", _("%(name)s (supervisor) left the chat")
    SUPERVISOR_ENDED = "supervisor_ended", _("A supervisor ended the chat")


MESSAGE_TEMPLATE = "conversations/_message.html"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sequence = models.PositiveIntegerField(_("sequence"))
    sender_role = models.CharField(_("sender role"), max_length=10, choices=SenderRole.choices)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("body"))
    notice = models.CharField(
        _("notice"), max_length=24, choices=Notice.choices, blank=True, help_text=_("Set on system notices.")
    )
    sentiment = models.FloatField(_("sentiment"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["conversation", "sequence"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="message_sequence_unique"),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.get_sender_role_display()}"

    @property
    def clock(self) -> str:
        """The time it was stored, on the server's clock: what the transcript shows, made
        without the template filters' format lookups (a fifth of a chat push's cost)."""
        return timezone.localtime(self.created_at).strftime("%H:%M")

    @property
    def notice_text(self) -> str:
        return Notice(self.notice).label % {"name": self.body} if self.notice else ""

    @cached_property
    def html(self) -> str:
        """Its transcript entry: what pages include and pushes carry, rendered once a message."""
        return render_to_string(MESSAGE_TEMPLATE, {"message": self})


class ConversationEvent(models.Model):
    """One transition (ST-23): the timeline of a conversation, and what its pushes announce."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(_("from"), max_length=10, choices=State.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=10, choices=State.choices)
    action = models.CharField(_("reason"), max_length=24, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("primary agent after"),
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["conversation", "id"]
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")

    def __str__(self) -> str:
        return f"{self.from_state or '∅'} → {self.to_state} ({self.action})"

    @property
    def by_customer(self) -> bool:
        """The customer caused it: the timeline names them (their contact or "Visitor N")."""
        return caused_by_customer(self.action, has_actor=self.actor_id is not None, traits=self.conversation.traits)


class RoutingRule(models.Model):
    """Sends a new conversation of a workstream to a queue when all its conditions match (RT-1).
    Rules are tried in order; a conversation no rule matches goes to the default queue."""

    workstream = models.ForeignKey(Workstream, on_delete=models.CASCADE, related_name="routing_rules")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    name = models.CharField(_("name"), max_length=100)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="+", verbose_name=_("queue"))
    priority = models.SmallIntegerField(_("priority"), default=0, help_text=_("Given to matching conversations."))

    class Meta:
        ordering = ["workstream", "order", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class RoutingCondition(models.Model):
    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="conditions")
    field = models.CharField(_("field"), max_length=10, choices=ConditionField.choices)
    key = models.CharField(
        _("question or attribute"),
        max_length=60,
        blank=True,
        help_text=_("For pre-chat answers and customer attributes."),
    )
    operator = models.CharField(
        _("operator"), max_length=10, choices=ConditionOperator.choices, default=ConditionOperator.EQUALS
    )
    value = models.CharField(_("value"), max_length=200)

    class Meta:
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")

    def __str__(self) -> str:
        subject = f"{self.get_field_display()} {self.key}".strip()
        return f"{subject} {self.get_operator_display()} {self.value}"

    def clean(self) -> None:
        keyed = self.field in KEYED_FIELDS
        if keyed and not self.key:
            raise ValidationError({"key": _("Name the pre-chat question or customer attribute to compare.")})
        if not keyed and self.key:
            raise ValidationError({"key": _("Only pre-chat answers and customer attributes take a name.")})


class AgentConnection(models.Model):
    """One open agent socket (one per browser tab), kept fresh by heartbeats so a process that
    died without closing its sockets cannot keep an agent online."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_connections")
    channel_name = models.CharField(max_length=200, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["agent", "last_seen"])]


class CustomerConnection(models.Model):
    """One open customer socket of a live chat, heartbeated like an agent's, so a customer
    whose browser or server process vanished is noticed (ST-2, ST-7, ST-21)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="customer_connections")
    channel_name = models.CharField(max_length=200, unique=True)
    last_seen = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["conversation", "last_seen"])]


class PreChatQuestion(models.Model):
    """A question the chat widget asks before the chat starts (CH-2); answers go into the
    conversation's context, where routing rules can read them by key (RT-1)."""

    workstream = models.ForeignKey(Workstream, on_delete=models.CASCADE, related_name="pre_chat_questions")
    key = models.SlugField(_("key"), max_length=50, help_text=_("Routing rules name the answer by this key."))
    label = models.CharField(_("question"), max_length=200)
    choices = models.TextField(_("choices"), blank=True, help_text=_("One per line; blank for a free-text answer."))
    required = models.BooleanField(_("required"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["workstream", "order", "pk"]
        verbose_name = _("pre-chat question")
        verbose_name_plural = _("pre-chat questions")
        constraints = [models.UniqueConstraint(fields=["workstream", "key"], name="pre_chat_question_key_unique")]

    def __str__(self) -> str:
        return self.label

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class CannedResponse(models.Model):
    """A prepared reply agents insert into the composer."""

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    workstream = models.ForeignKey(
        Workstream,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        verbose_name=_("workstream"),
        help_text=_("Blank: offered in every workstream."),
    )

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")

    def __str__(self) -> str:
        return self.title


class PresenceReason(models.TextChoices):
    CHOSEN = "chosen", _("chosen")
    CAPACITY_FULL = "capacity_full", _("capacity full")
    CAPACITY_FREED = "capacity_freed", _("capacity freed")
    DISCONNECTED = "disconnected", _("disconnected")


class PresenceChange(models.Model):
    """Every change of an agent's presence, with why (PR-2)."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence_changes")
    presence = models.ForeignKey(Presence, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=PresenceReason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("presence change")
        verbose_name_plural = _("presence changes")


class QueueDepthSample(models.Model):
    """How many Open conversations a queue held at one minute: the supervisors' chart of the
    last hour (SUP-1). The worker takes one per queue each minute; the unique minute makes a
    second worker's sample of the same minute a no-op."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="depth_samples")
    taken_at = models.DateTimeField(_("minute"))
    depth = models.PositiveIntegerField(_("Open conversations"))

    class Meta:
        ordering = ["taken_at", "queue"]
        verbose_name = _("queue depth sample")
        verbose_name_plural = _("queue depth samples")
        constraints = [models.UniqueConstraint(fields=["queue", "taken_at"], name="queue_depth_sample_minute")]
        indexes = [models.Index(fields=["taken_at"])]

    def __str__(self) -> str:
        return f"{self.queue} {self.taken_at:%H:%M}: {self.depth}"
