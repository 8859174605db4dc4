"""The transition table as plain values, without a database."""

import itertools

import pytest

from omnichannel.conversations.states import (
    CHANNEL_TRAITS,
    RULES,
    Action,
    Channel,
    Facts,
    IllegalTransition,
    Kind,
    State,
    caused_by_customer,
    next_state,
)


def test_table_is_unambiguous():
    """ST-13: for any facts, at most one rule answers an action, so every move is determined."""
    for action, state, kind, accepted, persistent, case_closed in itertools.product(
        Action, State, Kind, [False, True], [False, True], [False, True]
    ):
        facts = Facts(state=state, kind=kind, accepted=accepted, persistent=persistent, case_closed=case_closed)
        matching = [
            r for r in RULES if r.action == action and r.source == state and kind in r.kinds and r.applies(facts)
        ]
        assert len(matching) <= 1, (action, facts, matching)


def test_closed_is_final_for_every_action():
    """ST-12: nothing moves a Closed conversation, whatever the kind."""
    for action, kind in itertools.product(Action, Kind):
        with pytest.raises(IllegalTransition, match="Closed conversations are final"):
            next_state(action, Facts(state=State.CLOSED, kind=kind, accepted=True))


def test_illegal_move_names_state_and_action():
    """ST-13: the refusal names the state and the action."""
    with pytest.raises(IllegalTransition) as refused:
        next_state(Action.RESUME, Facts(state=State.OPEN, kind=Kind.MESSAGING))
    assert str(refused.value) == "Cannot resume it: the conversation is Open."


def test_illegal_for_kind_says_so():
    """ST-13: Waiting is for asynchronous work only, so a voice call cannot be parked there."""
    with pytest.raises(IllegalTransition, match="Not possible for Voice conversations"):
        next_state(Action.CLOSE_SESSION, Facts(state=State.ACTIVE, kind=Kind.VOICE, accepted=True))


@pytest.mark.parametrize(
    ("action", "facts", "target", "spec"),
    [
        (Action.PICK, Facts(State.OPEN, Kind.MESSAGING), State.ACTIVE, "ST-1"),
        (Action.CUSTOMER_END, Facts(State.OPEN, Kind.LIVE_CHAT), State.CLOSED, "ST-2"),
        (Action.AGENT_END, Facts(State.ACTIVE, Kind.MESSAGING, accepted=True), State.WRAP_UP, "ST-3"),
        (Action.RELEASE, Facts(State.ACTIVE, Kind.LIVE_CHAT, accepted=True), State.OPEN, "ST-4"),
        (Action.CLOSE_SESSION, Facts(State.ACTIVE, Kind.LIVE_CHAT, accepted=True), State.OPEN, "ST-4"),
        (Action.CLOSE_SESSION, Facts(State.ACTIVE, Kind.MESSAGING, accepted=True), State.WAITING, "ST-5"),
        (Action.CLOSE_SESSION, Facts(State.ACTIVE, Kind.RECORD, accepted=True, case_closed=True), State.CLOSED, "ST-6"),
        (Action.CUSTOMER_DISCONNECT, Facts(State.ACTIVE, Kind.LIVE_CHAT), State.CLOSED, "ST-7"),
        (Action.CLOSE_SESSION, Facts(State.WRAP_UP, Kind.LIVE_CHAT, accepted=True), State.CLOSED, "ST-8"),
        (Action.INACTIVITY_TIMEOUT, Facts(State.WAITING, Kind.MESSAGING), State.CLOSED, "ST-9"),
        (Action.RESUME, Facts(State.WAITING, Kind.MESSAGING), State.ACTIVE, "ST-10"),
        (Action.CUSTOMER_MESSAGE, Facts(State.WAITING, Kind.MESSAGING), State.OPEN, "ST-11"),
        (Action.CUSTOMER_DISCONNECT, Facts(State.ACTIVE, Kind.LIVE_CHAT, accepted=True), State.WRAP_UP, "ST-21"),
        (Action.TRANSFER_TO_EXTERNAL, Facts(State.ACTIVE, Kind.VOICE, accepted=True), State.ACTIVE, "ST-22"),
        (
            Action.CLOSE_SESSION,
            Facts(State.ACTIVE, Kind.LIVE_CHAT, accepted=True, persistent=True),
            State.WAITING,
            "ST-24",
        ),
    ],
)
def test_rule_targets(action, facts, target, spec):
    """ST-1 to ST-12, ST-21, ST-22, ST-24: each row of the table as plain values."""
    rule = next_state(action, facts)
    assert (rule.target, rule.spec) == (target, spec)


def test_record_session_cannot_close_before_case_is_resolved():
    """ST-6: the record closes only with its case resolved; the refusal says what to do."""
    with pytest.raises(IllegalTransition, match="Resolve or deactivate the case first"):
        next_state(Action.CLOSE_SESSION, Facts(State.ACTIVE, Kind.RECORD, accepted=True))


C, M, V, R = Kind.LIVE_CHAT, Kind.MESSAGING, Kind.VOICE, Kind.RECORD
OFFERED = {"accepted": False}
HELD = {"accepted": True}
# The spec's table restated independently of RULES: (action, state, facts) → {kind: target}.
# Every kind not listed must be refused, so widening a row fails here too.
EXPECTED = [
    (Action.PICK, State.OPEN, {}, {C: State.ACTIVE, M: State.ACTIVE, V: State.ACTIVE, R: State.ACTIVE}),
    (Action.CUSTOMER_END, State.OPEN, {}, {C: State.CLOSED, V: State.CLOSED}),
    (Action.CUSTOMER_DISCONNECT, State.ACTIVE, OFFERED, {C: State.CLOSED, V: State.CLOSED}),
    (Action.CUSTOMER_DISCONNECT, State.ACTIVE, HELD, {C: State.WRAP_UP, V: State.WRAP_UP}),
    (Action.AGENT_END, State.ACTIVE, HELD, {C: State.WRAP_UP, M: State.WRAP_UP, V: State.WRAP_UP}),
    (Action.AGENT_END, State.ACTIVE, OFFERED, {}),
    (Action.RELEASE, State.ACTIVE, HELD, {C: State.OPEN, M: State.OPEN, V: State.OPEN}),
    (Action.CLOSE_SESSION, State.ACTIVE, HELD, {C: State.OPEN, M: State.WAITING}),
    (
        Action.CLOSE_SESSION,
        State.ACTIVE,
        {**HELD, "case_closed": True},
        {C: State.OPEN, M: State.WAITING, R: State.CLOSED},
    ),
    (Action.CLOSE_SESSION, State.ACTIVE, {**HELD, "persistent": True}, {C: State.WAITING, M: State.WAITING}),
    (Action.CLOSE_SESSION, State.WRAP_UP, HELD, {C: State.CLOSED, M: State.CLOSED, V: State.CLOSED}),
    (Action.CLOSE_SESSION, State.OPEN, {}, {}),
    (Action.INACTIVITY_TIMEOUT, State.WAITING, {}, {C: State.CLOSED, M: State.CLOSED}),
    (Action.RESUME, State.WAITING, {}, {C: State.ACTIVE, M: State.ACTIVE}),
    (Action.CUSTOMER_MESSAGE, State.WAITING, {}, {C: State.OPEN, M: State.OPEN}),
    (Action.TRANSFER_TO_EXTERNAL, State.ACTIVE, HELD, {V: State.ACTIVE}),
    (Action.CUSTOMER_END, State.ACTIVE, {**HELD, "has_agent": False}, {V: State.CLOSED}),
]


@pytest.mark.parametrize(("action", "state", "facts", "targets"), EXPECTED)
def test_each_row_allows_exactly_its_kinds(action, state, facts, targets):
    """ST-1 to ST-13, ST-22, ST-24: each row moves exactly the kinds the spec names, to its
    target, and refuses every other kind."""
    for kind in Kind:
        given = Facts(state=state, kind=kind, **facts)
        if kind in targets:
            assert next_state(action, given).target == targets[kind], kind
        else:
            with pytest.raises(IllegalTransition):
                next_state(action, given)


def test_customer_caused_events_are_their_ending_leaving_writing_and_starting():
    """ST-23: ending, leaving, writing again and starting a conversation with a customer are the
    customer's doing; anything a staff member did, a timer's move or a new record work item is not."""
    chat, case = CHANNEL_TRAITS[Channel.LIVE_CHAT], CHANNEL_TRAITS[Channel.CASE]
    for action in (Action.CUSTOMER_END, Action.CUSTOMER_DISCONNECT, Action.CUSTOMER_MESSAGE, Action.CREATE):
        assert caused_by_customer(action, has_actor=False, traits=chat)
        assert not caused_by_customer(action, has_actor=True, traits=chat)
    assert not caused_by_customer(Action.INACTIVITY_TIMEOUT, has_actor=False, traits=chat)
    assert not caused_by_customer(Action.CREATE, has_actor=False, traits=case)
