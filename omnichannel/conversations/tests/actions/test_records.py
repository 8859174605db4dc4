"""Record work items (ST-6)."""

import pytest

from omnichannel.conversations import actions
from omnichannel.conversations.errors import NotPermitted
from omnichannel.conversations.models import Case
from omnichannel.conversations.states import Channel, IllegalTransition, State


def test_resolving_the_case_and_closing_the_session_closes_the_record(make_workstream, make_conversation, agent):
    """ST-6: a record closes when its case is resolved and the session closed; not before."""
    case = Case.objects.create(title="Broken delivery")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    actions.conversation_pick(conversation=record, agent=agent)
    with pytest.raises(IllegalTransition, match="Resolve or deactivate the case first"):
        actions.conversation_close_session(conversation=record, agent=agent)
    record.refresh_from_db()
    assert record.state == State.ACTIVE

    actions.case_resolve(case=case, actor=agent)
    actions.conversation_close_session(conversation=record, agent=agent)
    record.refresh_from_db()
    assert record.state == State.CLOSED
    assert record.events.last().detail["rule"] == "ST-6"


def test_only_the_cases_agent_or_a_supervisor_resolves_it(make_workstream, make_conversation, agent, other_agent):
    """REC-1, SEC-1: an agent cannot resolve a case they do not work on; nothing changes."""
    case = Case.objects.create(title="Someone else's")
    record = make_conversation(make_workstream(Channel.CASE), case=case)
    actions.conversation_pick(conversation=record, agent=agent)
    with pytest.raises(NotPermitted):
        actions.case_resolve(case=case, actor=other_agent)
    case.refresh_from_db()
    assert not case.is_closed
