"""The agent's actions over HTTP: accept, reject, pick, presence; refusals explained."""

from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_offer, conversation_pick
from omnichannel.conversations.models import AgentProfile, PresenceBase
from omnichannel.conversations.states import State
from sessions_app import actions as session_actions

HTMX = {"HX-Request": "true"}


def test_accept_opens_the_conversation(client, agent, open_chat):
    """RT-3, SES-3: Accept takes the agent to the workspace, where the conversation's session has the focus."""
    conversation_offer(conversation=open_chat, agent=agent)
    client.force_login(agent)
    response = client.post(reverse("sessions_app:accept", args=[open_chat.pk]), headers=HTMX)
    assert response.headers["HX-Redirect"] == "/agent/"
    open_chat.refresh_from_db()
    assert open_chat.accepted_at is not None


def test_reject_returns_it_to_the_queue(client, agent, open_chat):
    """RT-3: Reject gives the conversation back for the next agent."""
    conversation_offer(conversation=open_chat, agent=agent)
    client.force_login(agent)
    client.post(reverse("sessions_app:reject", args=[open_chat.pk]), headers=HTMX)
    open_chat.refresh_from_db()
    assert open_chat.state == State.OPEN


def test_pick_from_open_work_items(client, agent, open_chat):
    """RT-4: Pick on an Open work item makes it the agent's and opens it."""
    client.force_login(agent)
    home = client.get(reverse("sessions_app:home")).content.decode()
    assert "Open work items" in home and open_chat.title in home
    response = client.post(reverse("sessions_app:pick", args=[open_chat.pk]), headers=HTMX)
    assert response.headers["HX-Redirect"] == "/agent/"


def test_losing_a_pick_race_is_explained(client, agent, other_agent, open_chat):
    """RT-6: the agent who picked second is told why, and nothing changed."""
    conversation_pick(conversation=open_chat, agent=other_agent)
    client.force_login(agent)
    response = client.post(reverse("sessions_app:pick", args=[open_chat.pk]), follow=True)
    assert "Cannot pick it: the conversation is Active." in response.content.decode()
    open_chat.refresh_from_db()
    assert open_chat.primary_agent == other_agent


def test_presence_selector(client, agent, presences):
    """PR-1: the header's selector sets the agent's presence; a bad value is refused clearly."""
    client.force_login(agent)
    away = presences[PresenceBase.AWAY]
    partial = client.post(reverse("sessions_app:presence"), {"presence": away.pk}, headers=HTMX).content.decode()
    assert f'value="{away.pk}" selected' in partial
    assert AgentProfile.objects.get(user=agent).presence == away
    bad = client.post(reverse("sessions_app:presence"), {"presence": "nope"}, headers=HTMX).content.decode()
    assert "Choose one of the listed presences." in bad
    assert AgentProfile.objects.get(user=agent).presence == away


def test_agent_actions_need_post_and_an_agent(client, agent, administrator, open_chat):
    client.force_login(agent)
    assert client.get(reverse("sessions_app:pick", args=[open_chat.pk])).status_code == 405
    client.force_login(administrator)
    assert client.post(reverse("sessions_app:pick", args=[open_chat.pk])).status_code == 403


def test_accept_in_the_workspace_swaps_in_the_new_session(client, agent, open_chat):
    """SES-3: accepted in the workspace, the new session replaces the session pane without a reload."""
    conversation_offer(conversation=open_chat, agent=agent)
    client.force_login(agent)
    headers = {**HTMX, "HX-Current-URL": "http://testserver/agent/"}
    response = client.post(reverse("sessions_app:accept", args=[open_chat.pk]), headers=headers)
    assert response.headers["HX-Retarget"] == "#session-pane" and response.headers["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert f'data-conversation-id="{open_chat.pk}"' in html and 'id="session-panel"' in html
    # A refusal (the offer is gone) is shown in the pane, and nothing changes.
    again = client.post(reverse("sessions_app:accept", args=[open_chat.pk]), headers=headers).content.decode()
    assert 'role="alert"' in again


def test_the_workspace_fetches_homes_streams_and_a_sessions_header_again(client, agent, other_agent, active_chat):
    """SES-2, SES-3: what the agent socket no longer pushes, the page fetches: Home's streams (the
    inside of #work-items) and a session's header with its state; another agent's session or
    one closed meanwhile answers with nothing to swap (SEC-1)."""
    session = session_actions.session_open(agent=agent, conversation=active_chat)
    client.force_login(agent)
    streams = client.get(reverse("sessions_app:work_items"), headers=HTMX).content.decode()
    assert "My work items" in streams and active_chat.title in streams and 'id="work-items"' not in streams
    header = client.get(reverse("sessions_app:session_header", args=[session.pk]), headers=HTMX)
    assert "badge-active" in header.content.decode() and "<header" not in header.content.decode()
    client.force_login(other_agent)
    assert client.get(reverse("sessions_app:session_header", args=[session.pk]), headers=HTMX).status_code == 204
