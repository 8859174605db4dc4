"""The workspace costs a fixed number of queries however many sessions are open."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.models import AgentProfile, SenderRole
from sessions_app import actions as session_actions
from sessions_app.consumers import WorkspaceConsumer
from sessions_app.models import AgentSession
from sessions_app.selectors import focused, workspace_sessions

HTMX = {"HX-Request": "true"}


@pytest.fixture
def open_sessions(agent, chat_workstream, make_conversation):
    """`open_sessions(n)`: the agent has n chat sessions, each with a customer message, the last focused."""

    AgentProfile.objects.filter(user=agent).update(capacity=1000)

    def make(n: int) -> list[AgentSession]:
        sessions = []
        for _ in range(n):
            conversation = make_conversation(chat_workstream)
            conversation_pick(conversation=conversation, agent=agent)
            message_post(conversation=conversation, sender_role=SenderRole.CUSTOMER, body="Hi")
            sessions.append(session_actions.session_open(agent=agent, conversation=conversation))
        return sessions

    return make


def count(request) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200, response.content[:500]
    return len(queries)


def measure(client, agent) -> dict[str, int]:
    client.force_login(agent)
    sessions = list(AgentSession.objects.filter(agent=agent).order_by("position"))
    first, last = sessions[0], sessions[-1]
    session_actions.session_focus(agent=agent, session=None)
    counts = {
        "page": count(lambda: client.get(reverse("sessions_app:home"))),
        "switch_from_home": count(
            lambda: client.post(reverse("sessions_app:session_focus", args=[first.pk]), headers=HTMX)
        ),
        "switch": count(lambda: client.post(reverse("sessions_app:session_focus", args=[last.pk]), headers=HTMX)),
        "home": count(lambda: client.post(reverse("sessions_app:focus_home"), headers=HTMX)),
        "page_at_home": count(lambda: client.get(reverse("sessions_app:home"))),
        "tab": count(
            lambda: client.post(
                reverse("sessions_app:session_tab", args=[last.pk]), {"tab": "knowledge_search"}, headers=HTMX
            )
        ),
        "work_items": count(lambda: client.get(reverse("sessions_app:work_items"), headers=HTMX)),
        "header": count(lambda: client.get(reverse("sessions_app:session_header", args=[last.pk]), headers=HTMX)),
    }
    consumer = WorkspaceConsumer()
    consumer.user = agent
    session_actions.session_focus(agent=agent, session=last)
    with CaptureQueriesContext(connection) as queries:
        consumer.render_session_panel()
    counts["pushed_session_panel"] = len(queries)
    with CaptureQueriesContext(connection) as queries:
        html = consumer.render_workspace()
    assert 'id="session-panel"' in html and 'id="offers"' in html
    counts["pushed_on_change"] = len(queries)
    return counts


def test_workspace_page_and_partials_cost_the_same_for_1_and_10_sessions(client, agent, open_sessions):
    """SES-1, SES-9: the page, a session switch, Home, a tab change, the regions the page fetches
    again after a change and the socket's pushes each cost as many queries with 10 sessions as with 1."""
    open_sessions(1)
    one = measure(client, agent)
    open_sessions(9)
    assert AgentSession.objects.filter(agent=agent).count() == 10
    assert measure(client, agent) == one


def test_session_panel_partial_is_the_one_the_socket_pushes(agent, open_sessions):
    """SES-8: the page and the push render one partial: the session panel with its badges."""
    first, _second = open_sessions(2)
    message_post(conversation=first.conversation, sender_role=SenderRole.CUSTOMER, body="Still there?")
    sessions = workspace_sessions(agent)
    html = render_to_string(
        "sessions_app/workspace.html#session-panel", {"sessions": sessions, "current": focused(sessions)}
    )
    assert 'id="session-panel"' in html and html.count('class="session__unread"') == 1
