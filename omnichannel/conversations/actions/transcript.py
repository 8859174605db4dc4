"""The transcript: appending messages and system notices to a locked conversation, its rolling
sentiment (SEN-1), and the chat writer's SQL.

Every message of every channel is written by `messages_save` in the caller's transaction and
pushed after commit; a sentiment level falling to the workstream's alert threshold records a
sentiment alert event.
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from .. import pushes, sentiment
from ..models import Contact, Conversation, Message, Notice, SenderRole, SentimentLevel, Workstream
from ..states import Action, Kind, State
from .events import NewEvent, events_record

# What customer and agent read in the transcript after a move (CH-3, SUP-4, SUP-7).
_NOTICES = {
    Action.PICK: Notice.AGENT_JOINED,
    Action.ACCEPT: Notice.AGENT_JOINED,
    Action.ASSIGN: Notice.AGENT_JOINED,
    Action.RELEASE: Notice.AGENT_LEFT,
    Action.AGENT_RECONNECT_TIMEOUT: Notice.AGENT_LEFT,
    Action.CLOSE_SESSION: Notice.AGENT_LEFT,
    Action.TRANSFER_TO_QUEUE: Notice.TRANSFERRED,
    Action.AGENT_END: Notice.AGENT_ENDED,
    Action.CUSTOMER_END: Notice.CUSTOMER_ENDED,
    Action.CUSTOMER_DISCONNECT: Notice.CUSTOMER_LEFT,
    Action.TRANSFER_ACCEPT: Notice.AGENT_JOINED,
    Action.SUPERVISOR_JOIN: Notice.SUPERVISOR_JOINED,
    Action.SUPERVISOR_LEAVE: Notice.SUPERVISOR_LEFT,
    Action.FORCE_CLOSE: Notice.SUPERVISOR_ENDED,
}
_SUPERVISOR_NOTICES = {Notice.SUPERVISOR_JOINED, Notice.SUPERVISOR_LEFT, Notice.SUPERVISOR_ENDED}


def notice_for(
    conversation: Conversation,
    *,
    action: Action,
    agent_id: int | None,
    previous_agent_id: int | None,
    actor_id: int | None = None,
) -> Message | None:
    """The system notice a move puts in the transcript, unsaved, if any: routing's notices in live
    chat, a supervisor's on every channel but records (SUP-4, SUP-7: both sides are told)."""
    notice = _NOTICES.get(action)
    if notice is None or not conversation.traits.with_customer:
        return None
    if conversation.kind != Kind.LIVE_CHAT and notice not in _SUPERVISOR_NOTICES:
        return None
    if notice == Notice.AGENT_JOINED:
        if not conversation.accepted_at:
            return None  # offered, not yet accepted: nobody has joined
        named = agent_id
    elif notice == Notice.AGENT_LEFT:
        if conversation.state != State.OPEN:
            return None  # closing a Wrap-up or persistent session is not a departure mid-chat
        named = previous_agent_id
    elif notice in _SUPERVISOR_NOTICES:
        named = actor_id
    else:
        named = previous_agent_id
    name = ""
    if named is not None:
        user = get_user_model().objects.only("first_name", "username").get(pk=named)
        name = user.first_name or user.get_username()
    return message_append(conversation, sender_role=SenderRole.SYSTEM, body=name, notice=notice)


# The chat writer's queries, compiled by the ORM once per length of their lists and then run as
# raw SQL: compiling them anew was a third of writing a small batch, and a busy chat server
# writes hundreds of batches a second. Conversations bring only what a message needs (the rest
# loads when read): converting the other twenty columns of every row was a tenth of the writer.
_BATCH_QUERIES = {
    "locked conversations": lambda ids: (
        Conversation.objects.select_for_update(of=("self",))
        .only(
            *("state", "workstream", "queue", "contact", "visitor", "case", "primary_agent", "context"),
            *("last_sequence", "sentiment", "sentiment_level"),
        )
        .filter(pk__in=ids)
        .order_by("pk")
    ),
    "workstreams": lambda ids: Workstream.objects.filter(pk__in=ids).order_by(),
    "contacts": lambda ids: Contact.objects.filter(pk__in=ids).order_by(),
    # Unordered: the model's ordering would join the conversations to sort by them.
    "stored messages": lambda ids, keys: Message.objects.filter(
        conversation_id__in=ids, idempotency_key__in=keys
    ).order_by(),
}


@lru_cache(maxsize=512)
def _batch_sql(name: str, alias: str, *sizes: int) -> tuple[type, str, list[str], dict]:
    """The query's model, SQL, selected fields and their converters, as the ORM compiles them."""
    queryset = _BATCH_QUERIES[name](*(range(size) for size in sizes))
    compiler = queryset.query.get_compiler(using=alias)
    sql, _params = compiler.as_sql()
    columns = [column for column, _sql, _alias in compiler.select]
    return queryset.model, sql, [column.target.attname for column in columns], compiler.get_converters(columns)


def batch_query(name: str, *values: list) -> list:
    """Run one of _BATCH_QUERIES for these lists (free of duplicates, as the ORM passes them):
    its rows as model instances, as the queryset would have made them."""
    model, sql, attnames, converters = _batch_sql(name, connection.alias, *map(len, values))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for each in values for value in each])
        rows = [list(row) for row in cursor.fetchall()]
    for row in rows:
        for position, (functions, expression) in converters.items():
            for convert in functions:
                row[position] = convert(row[position], expression, connection)
    return [model.from_db(connection.alias, attnames, row) for row in rows]


def attach(rows, name: str) -> None:
    """Load the rows' related object `name` in one query, as select_related would have."""
    wanted = sorted({getattr(row, f"{name}_id") for row in rows} - {None})
    related = {obj.pk: obj for obj in batch_query(f"{name}s", wanted)} if wanted else {}
    for row in rows:
        if (pk := getattr(row, f"{name}_id")) is not None:
            setattr(row, name, related[pk])



def message_append(
    conversation: Conversation,
    *,
    sender_role: SenderRole,
    body: str,
    sender: AbstractBaseUser | None = None,
    key: str | None = None,
    notice: Notice | str = "",
) -> Message:
    """The locked conversation's next message, unsaved; scored when the customer wrote it (SEN-1)."""
    conversation.last_sequence += 1
    message = Message(
        conversation=conversation,
        sequence=conversation.last_sequence,
        sender_role=sender_role,
        sender=sender,
        body=body,
        notice=notice,
        idempotency_key=key or None,
    )
    if sender_role == SenderRole.CUSTOMER:
        message.sentiment = sentiment.score(body, language=conversation.context.get("language") or "en")
    return message


def messages_save(
    conversations: dict[int, Conversation], messages: list[Message], origins: list[str] | None = None
) -> None:
    """Write appended messages, and their conversations' last sequence and rolling sentiment,
    in the caller's transaction; push them after commit. Where the rolling sentiment falls to
    the workstream's alert threshold, record a sentiment alert event (SEN-1)."""
    _insert_messages(messages)
    moves: list[tuple[Conversation, str | None, str]] = []  # each level change: row, before, after
    for message in messages:
        if message.sentiment is None:
            continue
        row = conversations[message.conversation_id]
        before = row.sentiment_level or None
        row.sentiment = sentiment.rolling(row.sentiment, message.sentiment)
        row.sentiment_level = sentiment.level(row.sentiment)
        if before != row.sentiment_level:
            moves.append((row, before, row.sentiment_level))
    # Only a level that moved can cross the threshold: their workstreams alone are read.
    attach([row for row, *_ in moves if not Conversation.workstream.is_cached(row)], "workstream")
    alerts = {  # the level each alert fell to
        row.pk: (row, after)
        for row, before, after in moves
        if sentiment.crossed(before, after, row.workstream.sentiment_alert_threshold)
    }
    levels_moved = {row.pk for row, *_ in moves}
    _write_heads([conversations[pk] for pk in dict.fromkeys(m.conversation_id for m in messages)])
    if levels_moved:
        pushes.sentiment_changed(sorted(levels_moved))
    if alerts:
        events_record(
            events=[
                NewEvent(
                    conversation=row,
                    action=Action.SENTIMENT_ALERT,
                    notify=(row.primary_agent_id,) if row.primary_agent_id else (),
                    detail={
                        "level": level,
                        "level_label": str(SentimentLevel(level).label),
                        "threshold": row.workstream.sentiment_alert_threshold,
                    },
                )
                for row, level in alerts.values()
            ],
            now=timezone.now(),
        )
    pushes.messages_posted(messages, origins)


def _insert_messages(messages: list[Message]) -> None:
    """bulk_create's work for new messages, with each statement's text built once per number of
    rows: at full load the ORM's INSERT compiler took a third of the chat writer's time."""
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        Message.objects.bulk_create(messages)
        return
    fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
    now = timezone.now()
    for message in messages:
        message.created_at = now  # auto_now_add, as bulk_create's pre_save sets it
    size = connection.ops.bulk_batch_size(fields, messages)
    with connection.cursor() as cursor:
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            cursor.execute(
                _insert_sql(connection.vendor, len(chunk)),
                [field.get_db_prep_save(getattr(m, field.attname), connection) for m in chunk for field in fields],
            )
            # Rows come back in the order given, as bulk_create relies on too.
            for message, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                message.pk = pk
                message._state.adding, message._state.db = False, connection.alias


@lru_cache(maxsize=64)
def _insert_sql(vendor: str, rows: int) -> str:
    quote = connection.ops.quote_name
    fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(Message._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(Message._meta.pk.column)}"
    )


def _write_heads(rows: list[Conversation]) -> None:
    """The conversations' last sequence and rolling sentiment in one prepared statement run per
    row: bulk_update's CASE expressions cost more to build than the whole rest of a batch."""
    fields = [Conversation._meta.get_field(name) for name in ("last_sequence", "sentiment", "sentiment_level")]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Conversation._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s",
            [
                [*(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields), row.pk]
                for row in rows
            ],
        )

