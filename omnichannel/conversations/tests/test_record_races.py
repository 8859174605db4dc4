"""Records under real concurrency (threads with their own connections, released at once):
one going record work item per case, and a case's status decided once. Run on SQLite and, in
CI's second pass, on PostgreSQL."""

import pytest

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.cases import case_resolve, case_route, case_update
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Case, CaseStatus, Conversation, ConversationEvent
from omnichannel.conversations.states import Action, Channel
from omnichannel.testing.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def attempt(job):
    def run():
        try:
            return job()
        except ConversationError as refused:
            return refused

    return run


def test_routing_one_case_from_many_agents_at_once_makes_one_work_item(
    make_agent, make_workstream, make_conversation, contact
):
    """MSG-2, REC-1: eight agents of the case's conversations route it at the same moment:
    exactly one record work item exists, and every other agent is told it already is one."""
    chats = make_workstream(Channel.SMS)
    cases = make_workstream(Channel.CASE)
    case = Case.objects.create(title="Raced", contact=contact)
    agents = [make_agent() for _ in range(8)]
    for agent in agents:
        conversation_pick(conversation=make_conversation(chats, contact=contact, case=case), agent=agent)
    results = run_together(
        [attempt(lambda agent=agent: case_route(case=case, actor=agent, workstream=cases)) for agent in agents]
    )
    made = [r for r in results if isinstance(r, Conversation)]
    assert len(made) == 1
    assert all("already a work item" in str(r) for r in results if not isinstance(r, Conversation))
    assert Conversation.objects.filter(case=case, workstream=cases).count() == 1


def test_resolving_and_cancelling_at_once_decides_once(make_agent, make_workstream, make_conversation, contact):
    """REC-1, ST-6: one agent resolves while another cancels and a third resolves: the case
    ends in one of those states, and the timeline records exactly the changes that happened."""
    chats = make_workstream(Channel.SMS)
    case = Case.objects.create(title="Contested", contact=contact)
    agents = [make_agent() for _ in range(3)]
    conversations = [make_conversation(chats, contact=contact, case=case) for _ in agents]
    for agent, conversation in zip(agents, conversations, strict=True):
        conversation_pick(conversation=conversation, agent=agent)
    jobs = [
        attempt(lambda: case_resolve(case=case, actor=agents[0])),
        attempt(
            lambda: case_update(case=case, actor=agents[1], title="Contested", status=CaseStatus.CANCELLED)
        ),
        attempt(lambda: case_resolve(case=case, actor=agents[2])),
    ]
    results = run_together(jobs)
    case.refresh_from_db()
    assert case.status in (CaseStatus.RESOLVED, CaseStatus.CANCELLED)
    changes = [r for r in results if isinstance(r, Case)]
    events = ConversationEvent.objects.filter(action=Action.CASE_UPDATE, conversation__in=conversations)
    # Each change that happened is recorded once on each of the case's three conversations;
    # a resolve that found the case no longer active was refused and recorded nothing.
    assert events.count() == 3 * len(changes)
    assert events.order_by("-id").first().detail["changes"]["status"][1] == case.status
