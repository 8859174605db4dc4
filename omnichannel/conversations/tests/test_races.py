"""RT-6 under real concurrency: threads with their own database connections, all released at
once. Run on SQLite and, in CI's second pass, on PostgreSQL."""

import random
from collections import Counter

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_accept, conversation_offer, conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_customer_disconnect
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.errors import CapacityExceeded, ConcurrentChange, ConversationError, NotPermitted
from omnichannel.conversations.models import AgentProfile, Conversation, ConversationEvent
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, IllegalTransition, State
from omnichannel.testing.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)
EXPECTED_LOSSES = (IllegalTransition, CapacityExceeded, ConcurrentChange)




def assert_invariants(conversation_ids):
    """Exactly one agent per taken conversation, nobody over capacity."""
    now = timezone.now()
    for profile in AgentProfile.objects.all():
        assert capacity_in_use(agent_id=profile.user_id, now=now) <= profile.capacity
    for conversation in Conversation.objects.filter(pk__in=conversation_ids):
        takes = conversation.events.filter(action__in=["pick", "offer", "assign"]).count()
        if conversation.state == State.ACTIVE:
            assert takes == 1 and conversation.primary_agent_id is not None
        else:
            assert takes == 0


def test_fifty_agents_picking_among_two_hundred_conversations(make_agent, make_workstream, make_conversation):
    """RT-6: 50 agents pick among 200 conversations at once: each conversation ends with exactly
    one agent, no agent over capacity, and every loser gets a clear refusal."""
    agents = [make_agent(capacity=30) for _ in range(50)]
    workstream = make_workstream(Channel.SMS)
    ids = [make_conversation(workstream).pk for _ in range(200)]

    def picker(agent, seed):
        order = random.Random(seed).sample(ids, 12)
        outcomes = Counter()
        for pk in order:
            try:
                conversation_pick(conversation=Conversation.objects.get(pk=pk), agent=agent)
                outcomes["won"] += 1
            except EXPECTED_LOSSES as refused:
                assert str(refused)  # a message the agent can read
                outcomes[type(refused).__name__] += 1
        return outcomes

    results = run_together([lambda a=a, i=i: picker(a, i) for i, a in enumerate(agents)])
    total = sum(results, Counter())
    assert total["won"] == Conversation.objects.filter(state=State.ACTIVE).count()
    assert total["won"] + total["IllegalTransition"] + total["CapacityExceeded"] + total["ConcurrentChange"] == 600
    assert total["IllegalTransition"] > 0  # there were real collisions
    assert_invariants(ids)


def test_accept_racing_the_customers_disconnect(make_agent, make_workstream, make_conversation):
    """RT-6, ST-7, ST-21: accept and disconnect at once: either the chat was accepted and then
    wraps up, or it closed first and the accept is refused saying so."""
    agent = make_agent(capacity=1000)
    workstream = make_workstream(Channel.LIVE_CHAT)
    for _ in range(15):
        conversation = make_conversation(workstream)
        conversation_offer(conversation=conversation, agent=agent)

        def accept(pk=conversation.pk):
            try:
                conversation_accept(conversation=Conversation.objects.get(pk=pk), agent=agent)
                return "accepted"
            except ConversationError as refused:
                return str(refused)

        def leave(pk=conversation.pk):
            conversation_customer_disconnect(conversation=Conversation.objects.get(pk=pk))
            return "left"

        accepted, _ = run_together([accept, leave])
        conversation.refresh_from_db()
        if accepted == "accepted":
            assert conversation.state == State.WRAP_UP
        else:
            assert conversation.state == State.CLOSED
            assert (
                accepted
                == "Cannot accept it: the conversation is Closed. Closed conversations are final and cannot be reopened."
            )


def test_push_racing_a_pick(make_agent, make_workstream, make_conversation, connect):
    """RT-6: two distribution workers offer while the same agents pick, with capacity for only
    some of the work: one agent per conversation, nobody over capacity."""
    shared = [make_agent(capacity=20) for _ in range(4)]  # room for 8 of the 30
    connect(*shared)
    workstream = make_workstream(Channel.LIVE_CHAT)
    ids = [make_conversation(workstream).pk for _ in range(30)]

    def pick_all(agent):
        for pk in ids:
            try:
                conversation_pick(conversation=Conversation.objects.get(pk=pk), agent=agent)
            except (*EXPECTED_LOSSES, NotPermitted):
                pass

    run_together([distribute, distribute, *[lambda a=a: pick_all(a) for a in shared]])
    assert_invariants(ids)
    taken = ConversationEvent.objects.filter(conversation__in=ids, action__in=["pick", "offer"]).count()
    assert taken == Conversation.objects.filter(pk__in=ids, state=State.ACTIVE).count() == 8


def test_agents_filling_and_freeing_capacity_at_once_do_not_deadlock(
    make_agent, make_workstream, make_conversation, presences
):
    """RT-6, PR-2: one agent's capacity fills (going Busy) while another's frees (back to
    Available), over and over at once; presence rows are shared, profile locks are not."""
    filling, freeing = make_agent(capacity=10), make_agent(capacity=10)
    workstream = make_workstream(Channel.SMS)
    for _ in range(10):
        held = make_conversation(workstream)
        conversation_pick(conversation=held, agent=freeing)
        waiting = make_conversation(workstream)
        run_together(
            [
                lambda pk=held.pk: conversation_close_session(
                    conversation=Conversation.objects.get(pk=pk), agent=freeing
                ),
                lambda pk=waiting.pk: conversation_pick(
                    conversation=Conversation.objects.get(pk=pk), agent=filling
                ),
            ]
        )
        assert AgentProfile.objects.get(user=filling).presence.base == "busy"
        assert AgentProfile.objects.get(user=freeing).presence.base == "available"
        conversation_close_session(conversation=Conversation.objects.get(pk=waiting.pk), agent=filling)
