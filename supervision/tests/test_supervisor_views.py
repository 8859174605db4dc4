"""The supervisor's conversation page and action dialogs (SUP-2 to SUP-7), and what agents may
not reach (SEC-1)."""

import pytest
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_end
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.actions.transfers import conversation_transfer_request
from omnichannel.conversations.models import Conversation, ConversationEvent
from omnichannel.conversations.states import Channel, State

pytestmark = pytest.mark.django_db


def url(name, conversation, **query):
    path = reverse(f"supervision:{name}", args=[conversation.pk])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def as_supervisor(client, supervisor):
    client.force_login(supervisor)
    return client


def test_agents_get_403_on_every_supervisor_page(client, agent, active_chat):
    """SEC-1: an agent reaches no supervisor page or action, and nothing changes."""
    client.force_login(agent)
    for name in ("conversation", "assign", "transfer", "force_close"):
        assert client.get(url(name, active_chat)).status_code == 403
    for name in ("monitor", "join", "leave", "assign", "transfer", "force_close"):
        assert client.post(url(name, active_chat)).status_code == 403
    assert Conversation.objects.get(pk=active_chat.pk).state == State.ACTIVE
    assert not ConversationEvent.objects.filter(action__in=["monitor", "supervisor_join", "force_close"]).exists()


def test_monitor_opens_the_page_with_transcript_and_trend(as_supervisor, supervisor, active_chat):
    """SUP-3: Monitor records the event and opens the page: live transcript with agent replies,
    customer sentiment trend, and the actions the workstream enables."""
    message_post(conversation=active_chat, sender_role="customer", body="This is terrible and slow")
    message_post(conversation=active_chat, sender_role="agent", sender=active_chat.primary_agent, body="Sorry!")
    response = as_supervisor.post(url("monitor", active_chat))
    assert response.status_code == 302 and response.url == url("conversation", active_chat)
    assert ConversationEvent.objects.get(action="monitor").actor == supervisor
    page = as_supervisor.get(response.url).content.decode()
    assert "This is terrible and slow" in page and "Sorry!" in page
    assert 'class="sentiment-trend"' in page and "/ws/supervisor/chat/" in page
    for label in ("Join chat", "Transfer", "Force close"):
        assert label in page
    assert "Write to customer and agent" not in page  # only after joining


def test_monitor_refused_for_own_and_open(as_supervisor, supervisor, open_chat):
    """SUP-3: Open work is not monitored (the refusal says why); an own conversation opens in
    the supervisor's workspace instead of the monitor page."""
    response = as_supervisor.post(url("monitor", open_chat), follow=True)
    assert "Cannot monitor it: the conversation is Open." in response.content.decode()
    conversation_pick(conversation=open_chat, agent=supervisor)
    response = as_supervisor.get(url("conversation", open_chat))
    assert response.url == reverse("conversations:detail", args=[open_chat.pk])


def test_first_visit_of_the_page_is_a_monitor_refused_where_monitor_is(
    as_supervisor, supervisor, open_chat, make_workstream, make_conversation, agent
):
    """SUP-3: opening the page by its address records a Monitor the first time only, and is
    refused as Monitor is: Open work, records, a workstream without Monitor; nothing recorded."""
    case = make_conversation(make_workstream(Channel.CASE))
    conversation_pick(conversation=case, agent=agent)
    for conversation, reason in (
        (open_chat, "Cannot monitor it: the conversation is Open."),
        (case, "Not possible for Record conversations."),
    ):
        response = as_supervisor.get(url("conversation", conversation), follow=True)
        assert response.redirect_chain[-1][0] == reverse("supervision:home")
        assert reason in response.content.decode()
        response = as_supervisor.get(url("conversation", conversation), HTTP_HX_REQUEST="true")
        assert response.headers["HX-Redirect"] == reverse("supervision:home")
    assert not ConversationEvent.objects.filter(action="monitor").exists()

    conversation_pick(conversation=open_chat, agent=agent)
    assert as_supervisor.get(url("conversation", open_chat)).status_code == 200
    assert as_supervisor.get(url("conversation", open_chat)).status_code == 200
    assert ConversationEvent.objects.filter(action="monitor", actor=supervisor).count() == 1

    open_chat.workstream.allow_monitor = False
    open_chat.workstream.save()
    response = as_supervisor.get(url("conversation", open_chat), follow=True)
    assert "does not let supervisors monitor" in response.content.decode()


def test_the_monitored_page_stays_readable_after_the_supervisor_force_closes(as_supervisor, active_chat):
    """SUP-3, SUP-7: once monitoring, the supervisor's force close returns to the page, which
    shows the conversation Closed with no action, composer or Join."""
    as_supervisor.post(url("monitor", active_chat))
    version = Conversation.objects.get(pk=active_chat.pk).version
    response = as_supervisor.post(url("force_close", active_chat), {"version": version}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == url("conversation", active_chat)
    assert "A supervisor ended the chat" in page and 'class="badge badge-closed">Closed<' in page
    assert "Join chat" not in page and "Write to customer and agent" not in page
    assert url("force_close", active_chat) not in page


def test_the_live_region_is_the_only_part_the_page_renders(as_supervisor, active_chat):
    """SUP-3: htmx re-renders the page's live region; any other part is answered 400 with the
    reason, and nothing is recorded for it beyond the first visit's Monitor."""
    live = as_supervisor.get(url("conversation", active_chat, part="supervisor-live"), HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and 'id="supervisor-live"' in live.content.decode()
    for part in ("dialog", "nope"):
        response = as_supervisor.get(url("conversation", active_chat, part=part), HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and f"Unknown part “{part}”" in response.content.decode()
    assert ConversationEvent.objects.filter(action="monitor").count() == 1


def test_join_shows_the_composer_and_leave_hides_it(as_supervisor, supervisor, active_chat):
    """SUP-4: after Join the page has the composer that writes to both; Leave takes it away."""
    page = as_supervisor.post(url("join", active_chat), follow=True).content.decode()
    assert "Write to customer and agent" in page and "Leave chat" in page
    assert "(supervisor) joined the chat" in page
    page = as_supervisor.post(url("leave", active_chat), follow=True).content.decode()
    assert "Write to customer and agent" not in page and "Join chat" in page


def test_disabled_switches_hide_buttons_and_refuse(as_supervisor, active_chat):
    """SUP-2: with Transfer and Force close off, their buttons are gone and a posted request is
    refused with the reason; nothing changes."""
    workstream = active_chat.workstream
    workstream.allow_transfer = workstream.allow_force_close = False
    workstream.save()
    page = as_supervisor.get(url("conversation", active_chat)).content.decode()
    assert url("force_close", active_chat) not in page and url("transfer", active_chat) not in page
    assert url("assign", active_chat) not in page  # Active: never assignable
    version = Conversation.objects.get(pk=active_chat.pk).version
    response = as_supervisor.post(url("force_close", active_chat), {"version": version})
    assert response.status_code == 400
    assert "does not let supervisors force close" in response.content.decode()
    assert Conversation.objects.get(pk=active_chat.pk).state == State.ACTIVE


def test_assign_dialog_lists_eligible_agents_and_override_shows_units_over(
    as_supervisor, make_agent, make_conversation, chat_workstream, supervisor, other_queue
):
    """SUP-5: the dialog lists agents with an allowed presence and free capacity, and every
    other queue; the override lists all members with the units over capacity; assigning with
    it records the units over."""
    free = make_agent(first_name="Free")
    away = make_agent(first_name="Away", presence="away")
    full = make_agent(first_name="Full", capacity=15)
    conversation_assign(conversation=make_conversation(chat_workstream), agent=full, actor=supervisor)
    conversation = make_conversation(chat_workstream)

    dialog = as_supervisor.get(url("assign", conversation), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in dialog  # the fragment for the page's <dialog>
    assert f'data-candidate="{free.pk}"' in dialog
    assert f'data-candidate="{away.pk}"' not in dialog and f'data-candidate="{full.pk}"' not in dialog
    assert other_queue.name in dialog

    dialog = as_supervisor.get(url("assign", conversation, override=1)).content.decode()
    assert f'data-candidate="{away.pk}"' in dialog and "presence not allowed" in dialog
    assert "5 units over capacity" in dialog

    response = as_supervisor.post(url("assign", conversation), {"agent": "", "queue": ""})
    assert response.status_code == 400 and "Choose one agent or one queue." in response.content.decode()
    response = as_supervisor.post(url("assign", conversation), {"agent": full.pk, "override": "1"})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.state, conversation.primary_agent) == (State.ACTIVE, full)
    assert conversation.events.last().detail["units_over_capacity"] == 5


def test_assign_to_queue_from_the_dialog(as_supervisor, open_chat, other_queue):
    """SUP-5: the dialog moves an Open conversation to another queue."""
    as_supervisor.post(url("assign", open_chat), {"queue": other_queue.pk})
    assert Conversation.objects.get(pk=open_chat.pk).queue == other_queue


def test_transfer_dialog_then_the_agent_accepts_from_the_header(
    as_supervisor, supervisor, active_chat, other_agent, agent, make_agent, other_queue
):
    """SUP-6: the dialog lists agents of the same queue; the transfer waits for the second
    agent, whose header shows Accept and Reject; on Accept the first agent consults, and the
    supervisor's page shows the outcome."""
    stranger = make_agent(queues=[other_queue])
    dialog = as_supervisor.get(url("transfer", active_chat)).content.decode()
    assert f'data-candidate="{other_agent.pk}"' in dialog and f'data-candidate="{stranger.pk}"' not in dialog
    version = Conversation.objects.get(pk=active_chat.pk).version
    response = as_supervisor.post(url("transfer", active_chat), {"agent": other_agent.pk, "version": version})
    assert response.status_code == 302
    page = as_supervisor.get(url("conversation", active_chat)).content.decode()
    assert "Waiting for Bo Nielsen to accept" in page

    as_supervisor.force_login(other_agent)
    home = as_supervisor.get(reverse("sessions_app:home")).content.decode()
    assert f'data-transfer="{active_chat.pk}"' in home
    as_supervisor.post(reverse("sessions_app:transfer_accept", args=[active_chat.pk]))
    row = Conversation.objects.get(pk=active_chat.pk)
    assert row.primary_agent == other_agent and list(row.consultants.all()) == [agent]
    as_supervisor.force_login(supervisor)
    page = as_supervisor.get(url("conversation", active_chat)).content.decode()
    assert "Transfer accepted" in page


def test_force_close_confirms_then_closes(as_supervisor, active_chat):
    """SUP-7: the dialog asks first; the confirmed post closes it; a stale confirmation is refused."""
    as_supervisor.post(url("monitor", active_chat))  # the dialog is opened from the monitored page
    dialog = as_supervisor.get(url("force_close", active_chat)).content.decode()
    assert "told that a supervisor ended it" in dialog
    stale = Conversation.objects.get(pk=active_chat.pk).version - 1
    response = as_supervisor.post(url("force_close", active_chat), {"version": stale})
    assert response.status_code == 400 and "changed since you opened this" in response.content.decode()
    version = stale + 1
    response = as_supervisor.post(url("force_close", active_chat), {"version": version}, follow=True)
    assert Conversation.objects.get(pk=active_chat.pk).state == State.CLOSED
    assert "A supervisor ended the chat" in response.content.decode()


def test_rejected_transfer_outcome_shows_on_the_supervisors_page(as_supervisor, supervisor, active_chat, other_agent):
    """SUP-6: when the second agent rejects, the conversation stays with its agent and the
    supervisor's page says the transfer was rejected, and by whom."""
    conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    as_supervisor.force_login(other_agent)
    as_supervisor.post(reverse("sessions_app:transfer_reject", args=[active_chat.pk]))
    as_supervisor.force_login(supervisor)
    page = as_supervisor.get(url("conversation", active_chat)).content.decode()
    assert "Transfer rejected · Bo Nielsen" in page
    assert Conversation.objects.get(pk=active_chat.pk).primary_agent == active_chat.primary_agent


def test_a_transfer_cancelled_by_another_move_shows_on_the_supervisors_page(
    as_supervisor, supervisor, active_chat, other_agent
):
    """SUP-6: when the first agent ends the chat before the second answers, the supervisor's page
    says the transfer was cancelled, and by what."""
    as_supervisor.post(url("monitor", active_chat))
    conversation_transfer_request(conversation=active_chat, to_agent=other_agent, actor=supervisor)
    conversation_end(conversation=active_chat, agent=active_chat.primary_agent)
    page = as_supervisor.get(url("conversation", active_chat)).content.decode()
    assert "Transfer cancelled: ended by the agent" in page


def test_bad_dialog_input_gets_a_clear_error_and_changes_nothing(as_supervisor, active_chat):
    """SUP-6, SUP-7: no agent chosen, an unknown agent, or a dialog without its version is
    answered 400 with the reason; nothing changes."""
    version = Conversation.objects.get(pk=active_chat.pk).version
    for data, reason in (
        ({"version": version}, "Choose the agent to transfer to."),
        ({"agent": "999999", "version": version}, "Choose the agent to transfer to."),
        ({"agent": active_chat.primary_agent_id}, "The dialog is incomplete; open it again."),
    ):
        response = as_supervisor.post(url("transfer", active_chat), data)
        assert response.status_code == 400 and reason in response.content.decode()
    response = as_supervisor.post(url("force_close", active_chat), {"version": "x"})
    assert response.status_code == 400 and "The dialog is incomplete" in response.content.decode()
    row = Conversation.objects.get(pk=active_chat.pk)
    assert (row.state, row.version, row.transfer_agent) == (State.ACTIVE, version, None)
