"""Supervisor actions under real concurrency (RT-6, SUP-5, SUP-6, SUP-7): threads with their own
database connections, released at once; run on SQLite and, in CI's second pass, on PostgreSQL.
Exactly one side wins each race, the other gets a clear refusal, and the invariants hold."""

import threading

import pytest
from django.utils import timezone

from omnichannel.conversations.actions import supervision
from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.supervision import (
    conversation_assign,
    conversation_force_close,
    conversation_supervisor_join,
    conversation_supervisor_leave,
)
from omnichannel.conversations.actions.transfers import conversation_transfer_accept, conversation_transfer_request
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.errors import ConcurrentChange, ConversationError
from omnichannel.conversations.models import Conversation, ConversationEvent, Message
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, IllegalTransition, State
from omnichannel.testing.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_supervisor_assign_racing_push_routing(make_agent, make_workstream, make_conversation, supervisor, connect):
    """SUP-5, RT-6: a supervisor assigns Open conversations to one agent while distribution
    offers them to another: each conversation is taken exactly once, the supervisor's losing
    assigns are refused naming the state, and nobody is over capacity."""
    pushed_to = make_agent(capacity=1000, first_name="Pushed")
    assigned_to = make_agent(capacity=1000, first_name="Assigned")
    connect(pushed_to)  # only the connected agent is offered work
    workstream = make_workstream(Channel.LIVE_CHAT)
    ids = [make_conversation(workstream).pk for _ in range(20)]

    def assign_all():
        outcomes = []
        for pk in ids:
            try:
                conversation_assign(
                    conversation=Conversation.objects.get(pk=pk), agent=assigned_to, actor=supervisor
                )
                outcomes.append("won")
            except ConversationError as refused:
                outcomes.append(str(refused))
        return outcomes

    def route():
        offered = 0
        for _ in range(5):
            offered += distribute()
        return offered

    outcomes, _ = run_together([assign_all, route])
    won = outcomes.count("won")
    for refusal in outcomes:
        assert refusal == "won" or refusal == "Cannot assign it: the conversation is Active."
    rows = Conversation.objects.filter(pk__in=ids)
    assert all(row.state == State.ACTIVE for row in rows)
    assert rows.filter(primary_agent=assigned_to).count() == won
    assert rows.filter(primary_agent=pushed_to).count() == len(ids) - won
    for pk in ids:
        takes = ConversationEvent.objects.filter(conversation_id=pk, action__in=["offer", "assign"])
        assert takes.count() == 1
    now = timezone.now()
    assert capacity_in_use(agent_id=assigned_to.pk, now=now) == 10 * won
    assert capacity_in_use(agent_id=pushed_to.pk, now=now) == 10 * (len(ids) - won)


def test_transfer_accept_racing_a_force_close(make_agent, make_workstream, make_conversation, supervisor):
    """SUP-6, SUP-7, RT-6: the second agent accepts a transfer while a supervisor force closes
    the conversation as they saw it: exactly one wins. Accept first: the force close is refused
    because the conversation changed; force close first: the accept is refused because it is
    Closed. One primary agent, capacity released or moved exactly once."""
    first, second = make_agent(capacity=1000), make_agent(capacity=1000)
    workstream = make_workstream(Channel.LIVE_CHAT)
    winners = []
    for _ in range(12):
        conversation = make_conversation(workstream)
        conversation_pick(conversation=conversation, agent=first)
        conversation_transfer_request(conversation=conversation, to_agent=second, actor=supervisor)
        seen = Conversation.objects.get(pk=conversation.pk).version

        def accept(pk=conversation.pk):
            try:
                conversation_transfer_accept(conversation=Conversation.objects.get(pk=pk), agent=second)
                return "won"
            except ConversationError as refused:
                return refused

        def close(pk=conversation.pk, seen=seen):
            try:
                conversation_force_close(
                    conversation=Conversation.objects.get(pk=pk), actor=supervisor, seen_version=seen
                )
                return "won"
            except ConversationError as refused:
                return refused

        accepted, closed = run_together([accept, close])
        row = Conversation.objects.get(pk=conversation.pk)
        assert [accepted, closed].count("won") == 1
        if accepted == "won":
            winners.append("accept")
            assert isinstance(closed, ConcurrentChange) and "changed since you opened this" in str(closed)
            assert (row.state, row.primary_agent, row.transfer_agent) == (State.ACTIVE, second, None)
            assert list(row.consultants.all()) == [first]
        else:
            winners.append("close")
            assert isinstance(accepted, IllegalTransition)
            assert str(accepted).startswith("Cannot accept the transfer: the conversation is Closed.")
            assert (row.state, row.primary_agent, row.transfer_agent) == (State.CLOSED, first, None)
        assert (
            ConversationEvent.objects.filter(conversation=row, action__in=["transfer_accept", "force_close"]).count()
            == 1
        )
    now = timezone.now()
    assert capacity_in_use(agent_id=first.pk, now=now) == 0
    assert capacity_in_use(agent_id=second.pk, now=now) == 10 * winners.count("accept")


def test_double_click_on_join_or_leave_writes_one_event_and_one_notice(active_chat, supervisor, monkeypatch):
    """SUP-4: two joins (then two leaves) that both read the conversation before either writes,
    as where the row lock is a no-op (SQLite's select_for_update): one wins with one event and
    one notice, the other is refused clearly."""
    read_both = threading.Barrier(2, timeout=3)

    def read_without_row_lock_then_wait_for_the_other_click(conversation):
        conversation.refresh_from_db()
        try:
            read_both.wait()
        except threading.BrokenBarrierError:
            pass  # the database serialized the two transactions (SQLite's IMMEDIATE write lock)

    monkeypatch.setattr(supervision, "lock", read_without_row_lock_then_wait_for_the_other_click)
    for act, refusal, action in (
        (conversation_supervisor_join, "You are already in this chat.", "supervisor_join"),
        (conversation_supervisor_leave, "You have not joined this chat.", "supervisor_leave"),
    ):
        read_both.reset()

        def click(act=act):
            try:
                act(conversation=Conversation.objects.get(pk=active_chat.pk), actor=supervisor)
                return "won"
            except ConversationError as refused:
                return str(refused)

        assert sorted(run_together([click, click])) == sorted(["won", refusal])
        assert ConversationEvent.objects.filter(conversation=active_chat, action=action).count() == 1
    notices = Message.objects.filter(conversation=active_chat, notice__startswith="supervisor")
    assert [m.notice for m in notices.order_by("sequence")] == ["supervisor_joined", "supervisor_left"]
