"""Push distribution against the database (RT-1, RT-2, RT-3, RT-5, ST-20)."""

from omnichannel.conversations.actions.assignment import (
    conversation_accept,
    conversation_create,
    conversation_pick,
    conversation_reject,
)
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.distribution import distribute
from omnichannel.conversations.models import (
    Conversation,
    Distribution,
    PresenceBase,
    RoutingCondition,
    RoutingRule,
)
from omnichannel.conversations.routing import AssignmentMethod, ConditionField
from omnichannel.conversations.states import Channel, State


def test_routing_rules_choose_the_queue_and_the_rest_go_to_the_default(make_workstream, queue, other_queue):
    """RT-1: ordered rules by language, pre-chat answer and customer attribute; unmatched → default queue."""
    workstream = make_workstream(Channel.LIVE_CHAT)
    billing = RoutingRule.objects.create(workstream=workstream, order=1, name="Billing", queue=other_queue, priority=5)
    RoutingCondition.objects.create(rule=billing, field=ConditionField.PRECHAT, key="topic", value="billing")
    danish_vip = RoutingRule.objects.create(workstream=workstream, order=2, name="Danish VIP", queue=other_queue)
    RoutingCondition.objects.create(rule=danish_vip, field=ConditionField.LANGUAGE, value="da")
    RoutingCondition.objects.create(rule=danish_vip, field=ConditionField.CUSTOMER, key="tier", value="gold")

    to_billing = conversation_create(workstream=workstream, context={"prechat": {"topic": "Billing"}})
    assert (to_billing.queue, to_billing.priority) == (other_queue, 5)
    assert to_billing.events.get().detail["routed"] == "routing rule “Billing”"
    vip = conversation_create(workstream=workstream, context={"language": "da", "customer": {"tier": "gold"}})
    assert vip.queue == other_queue
    plain = conversation_create(workstream=workstream, context={"language": "da"})
    assert plain.queue == queue
    assert plain.events.get().detail["routed"] == "default queue (no routing rule matched)"


def test_offers_go_to_the_highest_free_capacity_and_record_why(make_workstream, make_conversation, make_agent, connect):
    """RT-2: eligible = queue member, allowed presence, free capacity, connected; the offer's event
    says why this agent and who was skipped and why."""
    roomy, tight = make_agent(first_name="Roomy", capacity=40), make_agent(first_name="Tight", capacity=10)
    away = make_agent(first_name="Away", presence=PresenceBase.AWAY)
    offline_socket = make_agent(first_name="Gone")
    connect(roomy, tight, away)
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT))
    assert distribute() == 1
    conversation.refresh_from_db()
    assert (conversation.state, conversation.primary_agent, conversation.accepted_at) == (State.ACTIVE, roomy, None)
    offer = conversation.events.last()
    assert offer.action == "offer" and offer.detail["reason"] == "highest free capacity (40 units)"
    skipped = {s["agent"]: s["why"] for s in offer.detail["skipped"]}
    assert skipped[str(away.get_full_name())] == "presence Away not allowed"
    assert skipped[str(offline_socket.get_full_name())] == "not connected"
    assert tight.get_full_name() not in skipped  # eligible, just not chosen


def test_full_agents_leave_work_queued_in_order_until_capacity_frees(
    make_workstream, make_conversation, make_agent, connect
):
    """RT-2, ST-20: while everyone is full, conversations wait in priority-then-age order and are
    offered the moment capacity frees; nobody is ever over capacity."""
    agent = make_agent(capacity=10)
    connect(agent)
    workstream = make_workstream(Channel.SMS, wrap_up_block="never")
    first, second, third = (make_conversation(workstream) for _ in range(3))
    Conversation.objects.filter(pk=third.pk).update(priority=1)
    assert distribute() == 1
    third.refresh_from_db()
    assert third.primary_agent == agent  # priority first
    assert distribute() == 0  # full: the others wait
    conversation_accept(conversation=third, agent=agent)
    conversation_end(conversation=third, agent=agent)  # wrap-up does not block: capacity frees
    assert distribute() == 1
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.state, second.state) == (State.ACTIVE, State.OPEN)  # then by age


def test_rejected_offer_goes_to_the_next_agent(make_workstream, make_conversation, make_agent, connect):
    """RT-3: reject offers it to the next eligible agent, not back to the one who rejected."""
    first, second = make_agent(capacity=40), make_agent(capacity=30)
    connect(first, second)
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT))
    distribute()
    conversation.refresh_from_db()
    assert conversation.primary_agent == first
    conversation_reject(conversation=conversation, agent=first)
    distribute()
    conversation.refresh_from_db()
    assert conversation.primary_agent == second
    assert [s["why"] for s in conversation.events.last().detail["skipped"]] == ["declined this conversation"]


def test_auto_accept_assigns_without_an_offer(make_workstream, make_conversation, make_agent, connect):
    """RT-3: with auto-accept the conversation is the agent's at once."""
    agent = make_agent()
    connect(agent)
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT, auto_accept=True))
    distribute()
    conversation.refresh_from_db()
    assert conversation.accepted_at is not None and conversation.events.last().action == "assign"


def test_pick_mode_workstreams_are_never_pushed(make_workstream, make_conversation, agent, connect):
    """RT-4: in pick mode eligible agents pick Open work items; distribution leaves them alone."""
    connect(agent)
    conversation = make_conversation(make_workstream(Channel.SMS, distribution=Distribution.PICK))
    assert distribute() == 0
    conversation_pick(conversation=conversation, agent=agent)
    conversation.refresh_from_db()
    assert conversation.primary_agent == agent


def test_returning_customer_goes_to_the_last_agent_first(make_workstream, make_conversation, make_agent, connect):
    """RT-5: a Waiting conversation whose customer writes again is offered first to its last agent."""
    busy_one, free_one = make_agent(capacity=30), make_agent(capacity=60)
    connect(busy_one, free_one)
    workstream = make_workstream(Channel.SMS, assignment_method=AssignmentMethod.HIGHEST_CAPACITY)
    conversation = make_conversation(workstream)
    conversation_pick(conversation=conversation, agent=busy_one)
    conversation_close_session(conversation=conversation, agent=busy_one)
    message_post(conversation=conversation, sender_role="customer", body="Back again")
    distribute()
    conversation.refresh_from_db()
    assert conversation.primary_agent == busy_one
    assert conversation.events.last().detail["reason"] == "last agent (affinity)"


def test_timeline_shows_why_this_agent_and_who_was_skipped(
    client, make_workstream, make_conversation, make_agent, connect, supervisor
):
    """RT-2, ST-23: the conversation page explains the routing decision."""
    chosen, skipped = make_agent(first_name="Chosen"), make_agent(first_name="Skipped", presence=PresenceBase.AWAY)
    connect(chosen, skipped)
    conversation = make_conversation(make_workstream(Channel.LIVE_CHAT))
    distribute()
    client.force_login(supervisor)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "by default queue (no routing rule matched)" in page
    assert "Why: highest free capacity (30 units)" in page
    assert f"{skipped.get_full_name()}: presence Away not allowed" in page
