"""The customer's side of a live chat: starting it from the widget (CH-2, ST-24), and its
sockets: connected, alive, gone (ST-2, ST-7, ST-21).

As with agents, each socket is tracked by `connections.Tracker`. When the last one closes, the
conversation records when; the worker applies the departure only once the workstream's
customer reconnect timeout has passed with no new socket, because a page reload or a short
network loss is not a customer leaving (CH-5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import InvalidInput
from ..models import Contact, Conversation, CustomerConnection, Visitor, Workstream
from ..states import Channel, State
from .assignment import conversation_create
from .connections import Tracker

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
MAX_ANSWER_LENGTH = 500


class PreChatInvalid(InvalidInput):
    """Answers the pre-chat form refused, by question key; nothing was created."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(" ".join(errors.values()))


@dataclass(frozen=True)
class Identity:
    """Who the host web site says the customer is, in a token signed with the workstream's secret (CH-2)."""

    external_id: str
    name: str = ""
    email: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


def _clean_answers(workstream: Workstream, answers: dict) -> dict[str, str]:
    cleaned, errors = {}, {}
    for question in workstream.pre_chat_questions.all():
        answer = answers.get(question.key)
        answer = answer.strip() if isinstance(answer, str) else ""
        if not answer:
            if question.required:
                errors[question.key] = _("Please answer “%(question)s”.") % {"question": question.label}
            continue
        if len(answer) > MAX_ANSWER_LENGTH:
            errors[question.key] = _("Please keep the answer under %(limit)s characters.") % {
                "limit": MAX_ANSWER_LENGTH
            }
        elif question.choice_list and answer not in question.choice_list:
            errors[question.key] = _("Please choose one of the listed answers.")
        else:
            cleaned[question.key] = answer
    if errors:
        raise PreChatInvalid(errors)
    return cleaned


def _contact(identity: Identity) -> Contact:
    first, _space, last = identity.name.strip().partition(" ")
    contact, created = Contact.objects.get_or_create(
        external_id=identity.external_id,
        defaults={"first_name": first or identity.external_id, "last_name": last, "email": identity.email},
    )
    if not created and identity.email and contact.email != identity.email:
        Contact.objects.filter(pk=contact.pk).update(email=identity.email)
    return contact


def customer_chat_start(
    *,
    workstream: Workstream,
    answers: dict,
    language: str = "",
    identity: Identity | None = None,
    visitor_id: int | None = None,
) -> Conversation:
    """The customer starts a chat from the widget (CH-2): the pre-chat answers are checked,
    the customer is the contact the identity names or an anonymous "Visitor N", and the
    conversation is routed like any other (RT-1). A customer with a chat still going in
    this workstream, or a persistent one Waiting (ST-24), continues it instead."""
    if workstream.channel != Channel.LIVE_CHAT:
        raise InvalidInput(_("This workstream has no chat."))
    language = language if LANGUAGE.match(language or "") else "en"
    with transaction.atomic():
        contact = _contact(identity) if identity else None
        visitor = None
        if contact is None:
            visitor = Visitor.objects.filter(pk=visitor_id).first() if visitor_id else None
        ongoing = (
            Conversation.objects.filter(workstream=workstream, contact=contact, visitor=visitor)
            .filter(state__in=[State.OPEN, State.ACTIVE, State.WAITING])
            .order_by("-pk")
            .first()
            if contact or visitor
            else None
        )
        if ongoing:
            return ongoing
        cleaned = _clean_answers(workstream, answers if isinstance(answers, dict) else {})
        visitor = visitor or (None if contact else Visitor.objects.create())
        conversation = conversation_create(
            workstream=workstream,
            context={
                "language": language,
                "prechat": cleaned,
                "customer": dict(identity.attributes) if identity else {},
            },
            contact=contact,
            visitor=visitor,
        )
        # Until the widget's socket opens, the customer counts as gone: a chat started by a
        # browser that never connects is abandoned after the reconnect timeout (ST-2).
        CONNECTIONS.owners(conversation.pk).update(customer_disconnected_at=timezone.now())
    return conversation


def _lock(conversation_id: int) -> None:
    Conversation.objects.select_for_update(of=("self",)).filter(pk=conversation_id).values_list("pk").first()


CONNECTIONS = Tracker(
    connections=CustomerConnection,
    owner="conversation_id",
    lock=_lock,
    owners=lambda conversation_id: Conversation.objects.filter(pk=conversation_id),
    gone_since="customer_disconnected_at",
)


def customer_connect(*, conversation_id: int, channel_name: str) -> None:
    """A customer socket opened: the customer is here, and any departure clock stops."""
    CONNECTIONS.connect(owner_id=conversation_id, channel_name=channel_name)


def customer_heartbeat(*, conversation_id: int, channel_name: str) -> None:
    """The socket is alive; if a worker counted it as gone meanwhile, it is connected again."""
    CONNECTIONS.heartbeat(owner_id=conversation_id, channel_name=channel_name)


def customer_disconnect(*, channel_name: str) -> None:
    """A customer socket closed: when it was the customer's last, the departure clock starts."""
    CONNECTIONS.disconnect(channel_name=channel_name)
