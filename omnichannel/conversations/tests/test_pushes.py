"""What the core tells the supervisors' dashboards, and when (SUP-1)."""

import json

from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.models import SenderRole


def test_sentiment_moves_are_announced_to_supervisors_after_commit(
    active_chat, sent_pushes, django_capture_on_commit_callbacks
):
    """SUP-1: a customer message that moves the rolling sentiment to another level tells the
    supervisors after commit, with ids only (JSON-safe, as Redis needs); one that leaves the
    level where it was does not."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="This is awful, terrible!")
        assert sent_pushes == []
    for callback in callbacks:
        callback()
    [payload] = [payload for names, payload in sent_pushes if payload["type"] == "conversation.sentiment"]
    assert payload == {"type": "conversation.sentiment", "conversation_ids": [active_chat.pk]}
    assert json.loads(json.dumps(payload)) == payload
    sent_pushes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        message_post(
            conversation=active_chat, sender_role=SenderRole.AGENT, body="Sorry!", sender=active_chat.primary_agent
        )
    assert not [p for _, p in sent_pushes if p["type"] == "conversation.sentiment"]
