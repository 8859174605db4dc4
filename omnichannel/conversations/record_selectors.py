"""Reads of the records: contacts, accounts and cases, and a conversation's customer history
(REC-1, MSG-2), each with its joins done up front like every selector."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from .models import Account, Case, CaseStatus, Contact, Conversation, Message, SenderRole, Workstream
from .selectors import conversations_visible_to, is_supervisor
from .states import Channel, State


def customer_cases(conversation: Conversation) -> QuerySet[Case]:
    """The cases of the conversation's customer, whatever their status: its contact's, and their account's."""
    if conversation.contact_id is None:
        return Case.objects.none()
    customer = Q(contact_id=conversation.contact_id)
    if conversation.contact.account_id:
        customer |= Q(account_id=conversation.contact.account_id)
    return Case.objects.filter(customer)


def cases_linkable(conversation: Conversation) -> QuerySet[Case]:
    """The active cases a conversation may be linked to: its customer's."""
    return customer_cases(conversation).filter(status=CaseStatus.ACTIVE)


EARLIER_CONVERSATIONS_SHOWN = 5
RECORD_ROWS_SHOWN = 20


def _customer(conversation: Conversation) -> Q | None:
    """The same customer's conversations: by contact, else by visitor; None when nobody is known."""
    if conversation.contact_id:
        return Q(contact_id=conversation.contact_id)
    if conversation.visitor_id:
        return Q(visitor_id=conversation.visitor_id)
    return None


def _with_summary(rows: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Conversations as a history list shows them: joins, message count and the customer's first words."""
    first_words = Message.objects.filter(conversation=OuterRef("pk"), sender_role=SenderRole.CUSTOMER).order_by(
        "sequence"
    )
    return rows.select_related("workstream", "case", "primary_agent").annotate(
        message_count=Count("messages", filter=~Q(messages__sender_role=SenderRole.SYSTEM)),
        first_customer_message=Subquery(first_words.values("body")[:1]),
    )


def active_conversation_for_page(*, user, pk: int) -> Conversation:
    """SES-3: the conversation with its customer, account and case, or Conversation.DoesNotExist
    when the user may not see it."""
    return (
        conversations_visible_to(user)
        .select_related("workstream", "queue", "contact__account", "case__account", "case__contact", "primary_agent")
        .get(pk=pk)
    )


def earlier_conversations(conversation: Conversation) -> tuple[list[Conversation], int]:
    """SES-3: the customer's other conversations, newest first (a few), and how many there are
    in all: two queries however many there are."""
    customer = _customer(conversation)
    if customer is None:
        return [], 0
    rows = Conversation.objects.filter(customer).exclude(pk=conversation.pk)
    return list(_with_summary(rows).order_by("-created_at", "-pk")[:EARLIER_CONVERSATIONS_SHOWN]), rows.count()


def contacts_visible_to(user) -> QuerySet[Contact]:
    """SEC-1: supervisors see every contact; an agent those of conversations they may see."""
    if is_supervisor(user):
        return Contact.objects.all()
    return Contact.objects.filter(pk__in=conversations_visible_to(user).values("contact_id"))


def accounts_visible_to(user) -> QuerySet[Account]:
    if is_supervisor(user):
        return Account.objects.all()
    visible = conversations_visible_to(user)
    return Account.objects.filter(
        Q(pk__in=visible.values("contact__account_id")) | Q(pk__in=visible.values("case__account_id"))
    )


def cases_visible_to(user) -> QuerySet[Case]:
    if is_supervisor(user):
        return Case.objects.all()
    return Case.objects.filter(pk__in=conversations_visible_to(user).values("case_id"))


def contact_for_page(*, user, pk: int) -> tuple[Contact, list[Case], list[Conversation]]:
    """REC-1: a contact, their cases and their latest conversations, in three queries."""
    contact = contacts_visible_to(user).select_related("account").get(pk=pk)
    cases = list(contact.cases.order_by("status", "-created_at")[:RECORD_ROWS_SHOWN])
    conversations = list(_with_summary(contact.conversations.all()).order_by("-created_at")[:RECORD_ROWS_SHOWN])
    return contact, cases, conversations


def account_for_page(*, user, pk: int) -> tuple[Account, list[Contact], list[Case]]:
    """REC-1: an account, its contacts and its cases, in three queries."""
    account = accounts_visible_to(user).get(pk=pk)
    contacts = list(account.contacts.all()[:RECORD_ROWS_SHOWN])
    cases = list(account.cases.select_related("contact").order_by("status", "-created_at")[:RECORD_ROWS_SHOWN])
    return account, contacts, cases


def case_for_page(*, user, pk: int) -> tuple[Case, list[Conversation]]:
    """REC-1: a case with its customer and its conversations, in two queries."""
    case = cases_visible_to(user).select_related("contact", "account").get(pk=pk)
    conversations = list(_with_summary(case.conversations.all()).order_by("-created_at")[:RECORD_ROWS_SHOWN])
    return case, conversations


def may_change_case(user, case: Case, conversations: list[Conversation]) -> bool:
    """Whether the case page offers its form: supervisors, and the agents of its conversations
    (consultants too may save; actions.case_update decides). No query beyond the user's permissions."""
    if not user.has_perm("conversations.change_case"):
        return False
    return is_supervisor(user) or any(c.primary_agent_id == user.pk for c in conversations)


def case_workstreams() -> QuerySet[Workstream]:
    """The workstreams that route cases as record work items (MSG-2)."""
    return Workstream.objects.filter(channel=Channel.CASE).order_by("name")


def default_case_workstream() -> Workstream | None:
    """Where a new case's record work item goes (MSG-2): the first case workstream by name, the
    one Route case lists first; its routing rules then choose the queue (RT-1). None when no
    case workstream is configured: the case is then created without a work item."""
    return case_workstreams().first()


def case_work_item(case: Case) -> Conversation | None:
    """The case's record work item that is still going (one at most per case), with its queue."""
    return (
        Conversation.objects.filter(case=case, workstream__channel=Channel.CASE)
        .exclude(state=State.CLOSED)
        .select_related("queue")
        .first()
    )


