"""What the core's pages and their socket pushes render, built once for both (the HTTP view and
the push render the same partial with the same context)."""

from __future__ import annotations

from django.http import Http404

from .models import Conversation
from .selectors import can_write, canned_responses_for, conversation_for_page, transcript


def conversation_context(*, user, pk: int) -> dict:
    """The conversation page and its live partial; Http404 for conversations the user may not see."""
    try:
        conversation = conversation_for_page(user=user, pk=pk)
    except Conversation.DoesNotExist:
        raise Http404 from None
    return {"conversation": conversation, "events": conversation.events.all()}


def communication_panel_context(*, user, conversation: Conversation) -> dict:
    """The communication panel beside a conversation with a transcript (CH-3); nothing otherwise."""
    if not conversation.traits.transcript:
        return {}
    writes = can_write(user, conversation)
    return {
        "transcript": transcript(conversation),
        "can_write": writes,
        "canned_responses": canned_responses_for(conversation) if writes else [],
    }
