"""Messages: per-conversation sequence, idempotent resends, clear refusals (CH-5, REL-1 groundwork)."""

import pytest

from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.messages import message_post
from omnichannel.conversations.errors import ConversationError, InvalidInput, NotPermitted
from omnichannel.conversations.models import Message, SenderRole


def test_sequence_is_monotonic_per_conversation(active_chat, open_chat, agent, chat_workstream, make_conversation):
    """Each conversation numbers its messages 1, 2, 3 … on its own."""
    other = make_conversation(chat_workstream)
    bodies = ["one", "two", "three"]
    for body in bodies:
        message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body=body)
    message_post(conversation=other, sender_role=SenderRole.CUSTOMER, body="elsewhere")
    # Sequence 1 is the notice that the agent joined (CH-3).
    assert list(active_chat.messages.values_list("sequence", "body")) == [(1, "Anna"), *enumerate(bodies, 2)]
    assert other.messages.get().sequence == 1


def test_resend_with_the_same_idempotency_key_is_stored_once(active_chat):
    """CH-5: a client that resends after a lost acknowledgement gets the same message back."""
    first = message_post(
        conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="hi", idempotency_key="abc"
    )
    again = message_post(
        conversation=active_chat, sender_role=SenderRole.CUSTOMER, body="hi", idempotency_key="abc"
    )
    assert again.pk == first.pk and Message.objects.exclude(sender_role=SenderRole.SYSTEM).count() == 1


@pytest.mark.parametrize(("body", "error"), [("   ", "cannot be empty"), ("x" * 4001, "at most 4000 characters")])
def test_bad_message_is_refused_and_nothing_stored(active_chat, body, error):
    """Bad input gets a clear error and changes nothing."""
    with pytest.raises(InvalidInput, match=error):
        message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body=body)
    assert Message.objects.exclude(sender_role=SenderRole.SYSTEM).count() == 0


def test_only_the_conversations_agents_write_as_agent(active_chat, other_agent):
    """SEC-1: an agent who is not on the conversation cannot write in it."""
    with pytest.raises(NotPermitted):
        message_post(conversation=active_chat, sender_role=SenderRole.AGENT, sender=other_agent, body="hi")
    assert Message.objects.exclude(sender_role=SenderRole.SYSTEM).count() == 0


def test_agents_cannot_write_in_a_closed_conversation(active_chat, agent):
    """ST-12: a Closed conversation takes no more agent messages."""
    conversation_end(conversation=active_chat, agent=agent)
    conversation_close_session(conversation=active_chat, agent=agent)
    with pytest.raises(ConversationError, match="Closed"):
        message_post(conversation=active_chat, sender_role=SenderRole.AGENT, sender=agent, body="hi")
