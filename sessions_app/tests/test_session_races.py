"""Sessions under real concurrency: threads with their own connections, released at once (the
agent's tabs, or double clicks). Run on SQLite and, in CI's second pass, on PostgreSQL."""


import pytest

from omnichannel.conversations.errors import ConversationError
from omnichannel.testing.races import run_together
from sessions_app import actions as session_actions
from sessions_app.models import AgentSession

pytestmark = pytest.mark.django_db(transaction=True)




def test_opening_one_conversation_from_several_tabs_at_once_gives_one_session(agent, active_chat):
    """SES-3: one session per conversation however many requests open it at once; all get it."""
    results = run_together(
        [lambda: session_actions.session_open(agent=agent, conversation=active_chat)] * 6, refusals=(ConversationError,)
    )
    assert len({session.pk for session in results}) == 1
    assert AgentSession.objects.filter(agent=agent).count() == 1


def test_switching_at_once_leaves_exactly_one_session_in_focus(agent, make_conversation, chat_workstream):
    """SES-1: concurrent switches never leave two sessions focused (or a refusal other than a clear one)."""
    from omnichannel.conversations.actions.assignment import conversation_pick

    sessions = []
    for _ in range(3):  # the agent's capacity holds three chats
        conversation = make_conversation(chat_workstream)
        conversation_pick(conversation=conversation, agent=agent)
        sessions.append(session_actions.session_open(agent=agent, conversation=conversation))
    jobs = [lambda s=s: session_actions.session_focus(agent=agent, session=s) for s in sessions * 2]
    for result in run_together(jobs, refusals=(ConversationError,)):
        assert not isinstance(result, Exception) or isinstance(result, ConversationError)
    assert AgentSession.objects.filter(agent=agent, focused=True).count() == 1
