"""Every transition is an event, shown as the conversation's timeline (ST-23), and pushed after commit."""

import json

import pytest
from django.urls import reverse

from omnichannel.conversations import groups
from omnichannel.conversations.actions.assignment import (
    conversation_create,
    conversation_offer,
    conversation_pick,
    conversation_resume,
)
from omnichannel.conversations.actions.ending import (
    conversation_close_session,
    conversation_customer_disconnect,
    conversation_customer_end,
    conversation_end,
)
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.actions.supervision import conversation_assign
from omnichannel.conversations.models import ConversationEvent, SenderRole
from omnichannel.conversations.states import IllegalTransition


def test_every_transition_writes_an_event_with_from_to_reason_actor_time(active_chat, agent):
    """ST-23: from, to, reason, actor and time are recorded for each move."""
    conversation_end(conversation=active_chat, agent=agent)
    events = list(ConversationEvent.objects.filter(conversation=active_chat).order_by("id"))
    assert [(e.from_state, e.to_state, e.action) for e in events] == [
        ("", "open", "create"),
        ("open", "active", "pick"),
        ("active", "wrap_up", "agent_end"),
    ]
    assert events[-1].actor == agent and events[-1].created_at == active_chat.state_changed_at
    assert events[-1].detail["rule"] == "ST-3"


def test_conversation_page_shows_the_timeline(client, active_chat, agent):
    """ST-23: the conversation page lists each transition with its reason and actor."""
    conversation_end(conversation=active_chat, agent=agent)
    client.force_login(agent)
    page = client.get(reverse("conversations:detail", args=[active_chat.pk])).content.decode()
    for text in ("Picked from Open work items", "Ended by the agent", "Anna Jensen", "Wrap-up", "ST-3"):
        assert text in page
    partial = client.get(reverse("conversations:detail", args=[active_chat.pk]), headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<section id="conversation-live"')


def test_push_is_sent_only_after_commit(open_chat, agent, django_capture_on_commit_callbacks, sent_pushes):
    """ST-23: the transition's push waits for the commit; its payload is plain JSON (ids and strings)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation_pick(conversation=open_chat, agent=agent)
        assert sent_pushes == []
    for callback in callbacks:
        callback()
    assert {names for names, _ in sent_pushes} == {
        (groups.conversation_group(open_chat.pk),),
        (groups.queue_group(open_chat.queue_id),),
        (groups.SUPERVISORS,),
        (groups.agent_group(agent.pk),),
    }
    payload = sent_pushes[-1][1]
    assert json.loads(json.dumps(payload)) == payload
    assert payload["conversation_ids"] == [open_chat.pk] and payload["states"] == ["active"]


def test_refused_move_pushes_nothing(active_chat, agent, django_capture_on_commit_callbacks):
    """ST-13, ST-23: a refusal writes no event and schedules no push."""
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(IllegalTransition):
        conversation_resume(conversation=active_chat, agent=agent)
    assert callbacks == []


def timeline_bys(client, conversation) -> list[str]:
    """The "by …" line of each timeline item, as the conversation page shows it."""
    import re

    page = client.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()
    return [" ".join(by.split()) for by in re.findall(r'<p class="muted small">(.*?)(?: · |</p>)', page, re.S)]


@pytest.mark.parametrize("leave", [conversation_customer_end, conversation_customer_disconnect])
def test_the_timeline_names_the_customer_who_started_and_left_the_chat(client, active_chat, agent, leave):
    """ST-23, CH-2: a chat the visitor started and ended (or left) says "by Visitor N" for both,
    not "by the system"; the agent's pick names the agent."""
    leave(conversation=active_chat)
    client.force_login(agent)
    visitor = f"by Visitor {active_chat.visitor_id}"
    assert timeline_bys(client, active_chat) == [visitor, "by Anna Jensen", visitor]


def test_the_timeline_names_the_contact_whose_message_reopened_waiting_work(client, active_sms, agent, contact):
    """ST-23, ST-11: the customer writing to Waiting work is named by their contact on its timeline."""
    active_sms.contact = contact
    active_sms.save(update_fields=["contact"])
    conversation_close_session(conversation=active_sms, agent=agent)
    message_post(conversation=active_sms, sender_role=SenderRole.CUSTOMER, body="Any news?")
    assert active_sms.events.last().action == "customer_message"
    client.force_login(agent)
    bys = timeline_bys(client, active_sms)
    assert bys[-1] == "by Mette Larsen" and "by the system" not in bys


def test_the_supervisors_timeline_names_the_customer_too(client, supervisor, active_chat):
    """ST-23, SUP-3: the supervisor's conversation page says who ended the chat."""
    conversation_customer_end(conversation=active_chat)
    client.force_login(supervisor)
    page = client.get(reverse("supervision:conversation", args=[active_chat.pk])).content.decode()
    assert f"by Visitor {active_chat.visitor_id}" in page and "by the system" not in page


def test_an_assignment_tells_the_agent_after_commit(
    open_chat, agent, supervisor, django_capture_on_commit_callbacks, monkeypatch
):
    """SUP-5, SES-3: a supervisor's Assign, with nothing for the agent to accept, is announced to
    the agent's group after commit so their workspace opens its session; an offer is not."""
    sent = []
    monkeypatch.setattr("omnichannel.conversations.pushes._send", lambda messages, wake=False: sent.extend(messages))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation_assign(conversation=open_chat, agent=agent, actor=supervisor)
        assert sent == []
    for callback in callbacks:
        callback()
    assigned = [(names, payload) for names, payload in sent if payload["type"] == "conversation.assigned"]
    assert assigned == [
        ((groups.agent_group(agent.pk),), {"type": "conversation.assigned", "conversation_ids": [open_chat.pk]})
    ]
    assert json.loads(json.dumps(assigned[0][1])) == assigned[0][1]
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        another = conversation_create(workstream=open_chat.workstream, visitor=open_chat.visitor)
        conversation_offer(conversation=another, agent=agent)
    assert all(payload["type"] != "conversation.assigned" for _, payload in sent)
