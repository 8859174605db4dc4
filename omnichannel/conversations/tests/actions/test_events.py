"""Every transition is an event, shown as the conversation's timeline (ST-23), and pushed after commit."""

import json

import pytest
from django.urls import reverse

from omnichannel.conversations import groups
from omnichannel.conversations.actions.assignment import conversation_pick, conversation_resume
from omnichannel.conversations.actions.ending import conversation_end
from omnichannel.conversations.models import ConversationEvent
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
