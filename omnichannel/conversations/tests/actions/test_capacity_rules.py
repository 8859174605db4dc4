"""Capacity held by conversations, against the agent's capacity (ST-20)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from omnichannel.conversations.actions.assignment import conversation_pick, conversation_resume
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.capacity import WrapUpBlock
from omnichannel.conversations.errors import CapacityExceeded
from omnichannel.conversations.selectors import capacity_in_use
from omnichannel.conversations.states import Channel, State


def in_use(agent, *, later=timedelta(0)):
    return capacity_in_use(agent_id=agent.pk, now=timezone.now() + later)


@pytest.mark.parametrize(
    ("block", "minutes", "during", "after_an_hour"),
    [(WrapUpBlock.ALWAYS, None, 10, 10), (WrapUpBlock.NEVER, None, 0, 0), (WrapUpBlock.MINUTES, 5, 10, 0)],
)
def test_wrap_up_blocks_capacity_as_the_workstream_says(
    make_workstream, make_conversation, agent, block, minutes, during, after_an_hour
):
    """ST-20: Active consumes; Wrap-up per Block capacity for wrap-up (always, never, N minutes)."""
    workstream = make_workstream(Channel.SMS, wrap_up_block=block, wrap_up_block_minutes=minutes)
    conversation = make_conversation(workstream)
    assert in_use(agent) == 0  # Open consumes nothing
    conversation_pick(conversation=conversation, agent=agent)
    assert in_use(agent) == 10
    conversation_end(conversation=conversation, agent=agent)
    assert conversation.state == State.WRAP_UP
    assert in_use(agent) == during
    assert in_use(agent, later=timedelta(hours=1)) == after_an_hour
    conversation_close_session(conversation=conversation, agent=agent)
    assert in_use(agent) == 0


def test_no_assignment_over_capacity_without_override(make_workstream, make_conversation, make_agent, supervisor):
    """ST-20, RT-6: a full agent is refused with a clear message and nothing changes; a supervisor may override."""
    agent = make_agent(capacity=20)
    workstream = make_workstream(Channel.SMS)
    first, second, third = (make_conversation(workstream) for _ in range(3))
    conversation_pick(conversation=first, agent=agent)
    conversation_pick(conversation=second, agent=agent)
    with pytest.raises(CapacityExceeded, match="0 free capacity units; this conversation needs 10"):
        conversation_pick(conversation=third, agent=agent)
    third.refresh_from_db()
    assert third.state == State.OPEN and third.events.count() == 1
    conversation_assign(conversation=third, agent=agent, actor=supervisor, override=True)
    assert in_use(agent) == 30
    assert third.capacity_override


def test_waiting_frees_capacity_for_new_work(make_workstream, make_conversation, make_agent):
    """ST-20: a Waiting conversation does not consume, so the agent can take another."""
    agent = make_agent(capacity=10)
    workstream = make_workstream(Channel.SMS)
    first, second = make_conversation(workstream), make_conversation(workstream)
    conversation_pick(conversation=first, agent=agent)
    conversation_close_session(conversation=first, agent=agent)
    conversation_pick(conversation=second, agent=agent)
    with pytest.raises(CapacityExceeded):
        conversation_resume(conversation=first, agent=agent)
    first.refresh_from_db()
    assert first.state == State.WAITING
