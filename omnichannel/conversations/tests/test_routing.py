"""Routing and distribution choices as plain values (RT-1, RT-2, RT-5)."""

from datetime import UTC, datetime, timedelta

from omnichannel.conversations.routing import (
    AssignmentMethod,
    Candidate,
    Condition,
    ConditionField,
    ConditionOperator,
    Rule,
    choose_agent,
    match_rule,
    presence_allowed,
)

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def rule(rule_id, *conditions, queue_id=None):
    return Rule(rule_id, f"rule {rule_id}", queue_id or rule_id * 10, 0, tuple(conditions))


def test_first_matching_rule_wins_and_unmatched_go_to_default():
    """RT-1: rules in order; every condition of a rule must hold; nothing matching returns None."""
    danish = Condition(ConditionField.LANGUAGE, "", ConditionOperator.EQUALS, "da")
    vip = Condition(ConditionField.CUSTOMER, "tier", ConditionOperator.EQUALS, "gold")
    billing = Condition(ConditionField.PRECHAT, "topic", ConditionOperator.CONTAINS, "invoice")
    sms = Condition(ConditionField.CHANNEL, "", ConditionOperator.EQUALS, "sms")
    rules = [rule(1, danish, vip), rule(2, billing), rule(3, sms)]
    assert match_rule(rules, {"language": "da", "customer": {"tier": "Gold"}}).rule_id == 1
    assert match_rule(rules, {"language": "da", "prechat": {"topic": "My INVOICE is wrong"}}).rule_id == 2
    assert match_rule(rules, {"channel": "sms"}).rule_id == 3
    assert match_rule(rules, {"channel": "live_chat", "language": "fi"}) is None
    assert match_rule([rule(4)], {}).rule_id == 4  # a rule without conditions catches everything


def candidate(agent_id, **kw):
    defaults = dict(
        name=f"agent {agent_id}", presence="Available", presence_allowed=True, connected=True, capacity=30, in_use=0
    )
    return Candidate(agent_id=agent_id, **{**defaults, **kw})


def test_highest_free_capacity_then_longest_idle():
    """RT-2: highest free capacity by default; ties go to the agent idle longest."""
    agents = [
        candidate(1, in_use=20),
        candidate(2, in_use=10, last_offered_at=T0),
        candidate(3, in_use=10, last_offered_at=T0 - timedelta(minutes=5)),
    ]
    decision = choose_agent(agents, units=10, method=AssignmentMethod.HIGHEST_CAPACITY)
    assert decision.agent_id == 3
    assert decision.reason == "highest free capacity (20 units)"


def test_round_robin_takes_the_least_recently_offered():
    """RT-2: round robin cycles through agents by who was offered work longest ago."""
    agents = [candidate(1, last_offered_at=T0), candidate(2, last_offered_at=T0 - timedelta(1)), candidate(3)]
    assert choose_agent(agents, units=10, method=AssignmentMethod.ROUND_ROBIN).agent_id == 3


def test_least_active_takes_fewest_active_conversations():
    """RT-2: least active goes to the agent with the fewest Active conversations."""
    agents = [candidate(1, active=2, in_use=0), candidate(2, active=1, in_use=25), candidate(3, active=3)]
    assert choose_agent(agents, units=5, method=AssignmentMethod.LEAST_ACTIVE).agent_id == 2


def test_ineligible_agents_are_skipped_with_reasons():
    """RT-2: not allowed presence, not connected or without enough capacity: skipped, and why."""
    agents = [
        candidate(1, presence="Away", presence_allowed=False),
        candidate(2, connected=False),
        candidate(3, in_use=25),
        candidate(4, in_use=20),
    ]
    decision = choose_agent(agents, units=10, method=AssignmentMethod.HIGHEST_CAPACITY)
    assert decision.agent_id == 4
    assert decision.skipped == [
        {"agent": "agent 1", "why": "presence Away not allowed"},
        {"agent": "agent 2", "why": "not connected"},
        {"agent": "agent 3", "why": "5 free units, needs 10"},
    ]
    assert choose_agent(agents[:3], units=10, method=AssignmentMethod.HIGHEST_CAPACITY).agent_id is None


def test_last_agent_first_when_eligible():
    """RT-5: agent affinity: the last agent gets it first when eligible, otherwise the method decides."""
    agents = [candidate(1, in_use=20), candidate(2)]
    assert choose_agent(agents, units=10, method="highest_capacity", affinity_agent_id=1).reason == (
        "last agent (affinity)"
    )
    busy = [candidate(1, in_use=25), candidate(2)]
    assert choose_agent(busy, units=10, method="highest_capacity", affinity_agent_id=1).agent_id == 2


def test_agents_who_declined_come_last_but_it_is_never_stuck():
    """RT-3: reject or timeout offers it to the next agent; if all declined, the earliest decliner again."""
    agents = [candidate(1, declined_at=T0), candidate(2, in_use=20)]
    assert choose_agent(agents, units=10, method="highest_capacity").agent_id == 2
    everyone = [candidate(1, declined_at=T0), candidate(2, declined_at=T0 - timedelta(minutes=1))]
    decision = choose_agent(everyone, units=10, method="highest_capacity")
    assert decision.agent_id == 2 and decision.reason.startswith("everyone eligible declined")


def test_presence_allowed_defaults_to_anything_but_offline():
    """RT-2, PR-1: a workstream listing no presences allows every presence but Offline."""
    assert presence_allowed(presence_id=1, base="away", allowed=set())
    assert not presence_allowed(presence_id=1, base="offline", allowed=set())
    assert not presence_allowed(presence_id=1, base="available", allowed={2})
