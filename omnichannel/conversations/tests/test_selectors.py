"""Reads that restate a rule for rows already loaded agree with the rule's queryset."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.selectors import conversations_visible_to, is_agent, visible_conversation_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversations(agent, other_agent, make_conversation, chat_workstream, other_queue):
    """The agent's own chat, one they consult on, one Open in their queue, one Open in a queue
    not theirs, and a colleague's."""
    own = make_conversation(chat_workstream)
    conversation_pick(conversation=own, agent=agent)
    consulted = make_conversation(chat_workstream)
    conversation_pick(conversation=consulted, agent=other_agent)
    consulted.consultants.add(agent)
    in_queue = make_conversation(chat_workstream)
    elsewhere = make_conversation(chat_workstream, queue=other_queue)
    colleagues = make_conversation(chat_workstream)
    conversation_pick(conversation=colleagues, agent=other_agent)
    return [own, consulted, in_queue, elsewhere, colleagues]


def test_visible_ids_are_those_conversations_visible_to_gives(agent, other_agent, supervisor, conversations):
    """SEC-1: for agents and supervisors alike, the loaded rows' answer is the queryset's."""
    for user in (agent, other_agent, supervisor):
        expected = set(
            conversations_visible_to(user).filter(pk__in=[c.pk for c in conversations]).values_list("pk", flat=True)
        )
        assert visible_conversation_ids(user, conversations) == expected


def test_an_agents_own_conversations_cost_no_query(agent, conversations):
    """SEC-1: the agent's own conversations are theirs to see, known from the rows alone."""
    own = conversations[0]
    assert is_agent(agent)  # the role check every workspace request has made already
    with CaptureQueriesContext(connection) as queries:
        assert visible_conversation_ids(agent, [own]) == {own.pk}
    assert len(queries) == 0
