"""Messages of every channel (CH-3, CH-5, ST-11, ST-12): storing them exactly once, and the
delivery and read marks of each side.

`messages_post` is the chat writer's group commit; `message_post` the single path, which
also makes Waiting work Open again when the customer writes (ST-11) and starts a new
conversation when they write to a Closed one (ST-12).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import pushes
from ..errors import ConversationError, InvalidInput, NotPermitted
from ..models import Conversation, Message, SenderRole
from ..states import Action, Kind, State
from .assignment import conversation_create
from .checks import require_supervisor
from .transcript import attach, batch_query, message_append, messages_save
from .transitions import lock, move, waiting_period

MAX_MESSAGE_LENGTH = 4000


def _same_customer(conversation: Conversation) -> Q:
    return Q(
        workstream_id=conversation.workstream_id,
        contact_id=conversation.contact_id,
        visitor_id=conversation.visitor_id,
        case_id=conversation.case_id,
    )


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput(_("A message cannot be empty."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            _("A message can be at most %(limit)s characters; this one has %(length)s.")
            % {"limit": MAX_MESSAGE_LENGTH, "length": len(body)}
        )
    return body


def _check_sender(
    conversation: Conversation,
    sender_role: SenderRole,
    sender: AbstractBaseUser | None,
    *,
    consultant: bool,
    joined: bool = False,
) -> None:
    if sender_role == SenderRole.AGENT and (
        sender is None or (conversation.primary_agent_id != sender.pk and not consultant)
    ):
        raise NotPermitted(_("Only the conversation's agents can write in it."))
    if sender_role == SenderRole.SUPERVISOR:
        require_supervisor(sender)
        if not joined:
            raise NotPermitted(_("Join the chat before writing in it."))
    if conversation.state == State.CLOSED and sender_role != SenderRole.CUSTOMER:
        raise ConversationError(_("The conversation is Closed; nothing more can be written in it."))
    if (
        sender_role == SenderRole.CUSTOMER
        and conversation.state == State.WRAP_UP
        and conversation.kind == Kind.LIVE_CHAT
    ):
        raise ConversationError(_("This chat has ended."))


@dataclass(frozen=True)
class Post:
    """A message to store, as a socket, view or webhook received it."""

    conversation_id: int
    sender_role: SenderRole
    body: str
    sender: AbstractBaseUser | None = None
    idempotency_key: str | None = None
    # A customer writing to a Closed conversation starts a new one (ST-12), except from a
    # chat widget, whose token names only this conversation: there the chat has ended.
    may_start_successor: bool = True
    # The socket it came from, which learns of it from its acknowledgement instead of a push.
    origin: str = ""


@dataclass(frozen=True)
class Posted:
    """What became of a Post: the stored message (the earlier one, for a resend), or why not."""

    message: Message | None = None
    error: str = ""
    html: str = ""  # the message's transcript entry, for the sender's acknowledgement


def messages_post(*, posts: list[Post]) -> list[Posted]:
    """Store many messages in one transaction (the chat sockets' group commit), each exactly
    as `message_post` would: the conversation's next sequence, once per idempotency key
    (CH-5), the sender's right to write, sentiment for the customer's (SEN-1). A refused post
    gets its error and the others go ahead. Conversations whose state a message may change
    (Waiting, Closed: ST-11, ST-12) take the single path, after the batch, in order."""
    results: list[Posted | None] = [None] * len(posts)
    slow: list[int] = []
    with transaction.atomic():
        ids = sorted({p.conversation_id for p in posts})
        rows = {c.pk: c for c in batch_query("locked conversations", ids)}
        attach(rows.values(), "contact")  # the transcript titles customers' messages with it
        keys = sorted({p.idempotency_key for p in posts if p.idempotency_key})
        stored = {
            (m.conversation_id, m.idempotency_key): m
            for m in (batch_query("stored messages", ids, keys) if keys else [])
        }
        # Consultants matter only for agents who are not the conversation's primary agent.
        consultants = (
            set(
                Conversation.consultants.through.objects.filter(conversation_id__in=ids).values_list(
                    "conversation_id", "user_id"
                )
            )
            if any(
                p.sender_role == SenderRole.AGENT
                and p.sender is not None
                and p.conversation_id in rows
                and rows[p.conversation_id].primary_agent_id != p.sender.pk
                for p in posts
            )
            else set()
        )
        joined = (
            set(
                Conversation.supervisors.through.objects.filter(conversation_id__in=ids).values_list(
                    "conversation_id", "user_id"
                )
            )
            if any(p.sender_role == SenderRole.SUPERVISOR for p in posts)
            else set()
        )
        new: list[Message] = []
        origins: list[str] = []
        for i, post in enumerate(posts):
            row = rows.get(post.conversation_id)
            if row is None:
                results[i] = Posted(error=_("There is no such conversation."))
                continue
            if row.state == State.CLOSED and not post.may_start_successor:
                results[i] = Posted(error=_("This chat has ended."))
                continue
            if row.state in (State.WAITING, State.CLOSED):
                slow.append(i)
                continue
            key = (row.pk, post.idempotency_key)
            if post.idempotency_key and key in stored:
                stored[key].conversation = row  # its acknowledgement renders it
                results[i] = Posted(stored[key])
                continue
            try:
                body = _clean_body(post.body)
                consultant = post.sender is not None and (row.pk, post.sender.pk) in consultants
                in_chat = post.sender is not None and (row.pk, post.sender.pk) in joined
                _check_sender(row, post.sender_role, post.sender, consultant=consultant, joined=in_chat)
            except ConversationError as error:
                results[i] = Posted(error=str(error))
                continue
            message = message_append(
                row, sender_role=post.sender_role, body=body, sender=post.sender, key=post.idempotency_key
            )
            stored[key] = message
            new.append(message)
            origins.append(post.origin)
            results[i] = Posted(message)
        if new:
            messages_save(rows, new, origins)
    for i in slow:
        post = posts[i]
        try:
            results[i] = Posted(
                message_post(
                    # Whole, not the batch's partial row: the state change reads all of it.
                    conversation=Conversation.objects.get(pk=post.conversation_id),
                    sender_role=post.sender_role,
                    body=post.body,
                    sender=post.sender,
                    idempotency_key=post.idempotency_key,
                )
            )
        except ConversationError as error:
            results[i] = Posted(error=str(error))
    # Rendered here, in the writer's thread: a resent message may still load its sender.
    return [replace(r, html=r.message.html) if r.message else r for r in results]



def message_post(
    *,
    conversation: Conversation,
    sender_role: SenderRole,
    body: str,
    sender: AbstractBaseUser | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Store a message with the conversation's next sequence number; a resend with the same
    idempotency key returns the stored message instead of a second copy (CH-5).

    A customer writing to a Waiting conversation makes it Open again (ST-11); to a Closed
    one starts a new conversation, because Closed is final (ST-12). Decided on the locked
    row, so a message racing a state change lands in the state that change left."""
    body = _clean_body(body)
    try:
        with transaction.atomic():
            lock(conversation)
            if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
                return stored
            consultant = sender is not None and conversation.consultants.filter(pk=sender.pk).exists()
            joined = (
                sender_role == SenderRole.SUPERVISOR
                and sender is not None
                and conversation.supervisors.filter(pk=sender.pk).exists()
            )
            _check_sender(conversation, sender_role, sender, consultant=consultant, joined=joined)
            if conversation.state == State.CLOSED:
                conversation = _successor(conversation) or conversation_create(
                    workstream=conversation.workstream,
                    context=conversation.context,
                    contact=conversation.contact,
                    visitor=conversation.visitor,
                    case=conversation.case,
                    detail={"follows": conversation.pk},
                )
                lock(conversation)
            if conversation.state == State.WAITING:
                if sender_role == SenderRole.CUSTOMER:
                    move(conversation, action=Action.CUSTOMER_MESSAGE)
                else:
                    # Agent activity restarts the inactivity clock (ST-9); the version bump
                    # makes a timer that read the old deadline lose its claim and re-check.
                    Conversation.objects.filter(pk=conversation.pk).update(
                        waiting_until=timezone.now() + waiting_period(conversation.workstream),
                        version=F("version") + 1,
                    )
            message = message_append(conversation, sender_role=sender_role, body=body, sender=sender, key=idempotency_key)
            messages_save({conversation.pk: conversation}, [message])
    except IntegrityError:
        # A concurrent resend with the same key committed first; everything here rolled back.
        if idempotency_key and (stored := _stored_message(conversation, sender_role, idempotency_key)):
            return stored
        raise
    return message



@dataclass(frozen=True)
class Mark:
    """How far one side's client has received (delivered) and shown (read) a transcript (CH-3)."""

    conversation_id: int
    customer: bool  # whose client: the customer's, or the agents'
    delivered: int
    read: int


def messages_mark(*, marks: list[Mark]) -> None:
    """Move delivery and read marks forward, never back, and tell the other side after commit.
    Marks only record what a client saw; they change no state, so they need no version."""
    latest: dict[tuple[int, bool], Mark] = {}
    for mark in marks:
        seen = latest.get((mark.conversation_id, mark.customer))
        latest[(mark.conversation_id, mark.customer)] = Mark(
            mark.conversation_id,
            mark.customer,
            max(mark.delivered, mark.read, seen.delivered if seen else 0),
            max(mark.read, seen.read if seen else 0),
        )
    with transaction.atomic():
        # In conversation order, as messages_post locks them, so the two cannot deadlock.
        for mark in sorted(latest.values(), key=lambda mark: mark.conversation_id):
            side = "customer" if mark.customer else "agent"
            delivered, read = f"{side}_delivered_sequence", f"{side}_read_sequence"
            Conversation.objects.filter(pk=mark.conversation_id).update(
                **{
                    delivered: Greatest(F(delivered), Least(mark.delivered, F("last_sequence"))),
                    read: Greatest(F(read), Least(mark.read, F("last_sequence"))),
                }
            )
        pushes.messages_marked(list(latest.values()))


def _successor(closed: Conversation) -> Conversation | None:
    """The conversation a message to this Closed one already started, if it is still going."""
    return (
        Conversation.objects.filter(_same_customer(closed), pk__gt=closed.pk)
        .exclude(state=State.CLOSED)
        .order_by("-pk")
        .first()
    )


def _stored_message(conversation: Conversation, sender_role: SenderRole, idempotency_key: str) -> Message | None:
    """The message already stored under this key: for a customer, also in a conversation a
    message to the Closed one started (ST-12), so a resend does not start a second."""
    if sender_role == SenderRole.CUSTOMER:
        scope = Q(conversation__in=Conversation.objects.filter(_same_customer(conversation), pk__gte=conversation.pk))
    else:
        scope = Q(conversation=conversation)
    return Message.objects.filter(scope, idempotency_key=idempotency_key).first()
