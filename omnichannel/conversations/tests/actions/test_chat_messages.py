"""Messages in a batch (the chat sockets' group commit), system notices and sentiment (CH-3, CH-5, SEN-1, SES-7)."""

import pytest

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.messages import Post, message_post, messages_post
from omnichannel.conversations.actions.transfers import conversation_transfer_to_queue
from omnichannel.conversations.models import Conversation, Message, Notice, SenderRole
from omnichannel.conversations.sentiment import reached

pytestmark = pytest.mark.django_db


def test_a_batch_stores_each_post_as_a_single_post_would(
    active_chat, make_conversation, chat_workstream, agent, other_agent
):
    """CH-5: in one transaction, per-conversation sequences, one message per key (even
    repeated within the batch), and a refused post does not stop the others."""
    open_chat = make_conversation(chat_workstream)
    posts = [
        Post(active_chat.pk, SenderRole.CUSTOMER, "one", idempotency_key="k1"),
        Post(open_chat.pk, SenderRole.CUSTOMER, "elsewhere", idempotency_key="k1"),
        Post(active_chat.pk, SenderRole.AGENT, "reply", sender=agent, idempotency_key="a1"),
        Post(active_chat.pk, SenderRole.CUSTOMER, "one again", idempotency_key="k1"),
        Post(active_chat.pk, SenderRole.AGENT, "intruder", sender=other_agent, idempotency_key="x"),
        Post(active_chat.pk, SenderRole.CUSTOMER, "   ", idempotency_key="empty"),
        Post(999999, SenderRole.CUSTOMER, "nowhere"),
    ]
    results = messages_post(posts=posts)
    assert [r.message.body if r.message else None for r in results] == [
        "one",
        "elsewhere",
        "reply",
        "one",
        None,
        None,
        None,
    ]
    assert "agents can write" in results[4].error and "cannot be empty" in results[5].error
    assert "no such conversation" in results[6].error
    assert results[0].message.pk == results[3].message.pk
    chat = list(active_chat.messages.filter(notice="").values_list("sequence", "body"))
    assert [body for _, body in chat] == ["one", "reply"]
    active_chat.refresh_from_db()
    assert active_chat.last_sequence == chat[-1][0]


def test_a_batch_hands_waiting_conversations_to_the_single_path(sms_workstream, make_conversation, agent):
    """ST-11 in a batch: the customer writing to a Waiting conversation reopens it."""
    sms = make_conversation(sms_workstream)
    conversation_pick(conversation=sms, agent=agent)
    conversation_close_session(conversation=sms, agent=agent)
    [result] = messages_post(posts=[Post(sms.pk, SenderRole.CUSTOMER, "Still there?", idempotency_key="w")])
    sms.refresh_from_db()
    assert result.message.body == "Still there?" and sms.state == "open"


def test_live_chat_moves_leave_notices_in_the_transcript(open_chat, agent, other_queue):
    """CH-3: agent joined, transferred and ended appear as system notices, named."""
    conversation_pick(conversation=open_chat, agent=agent)
    conversation_transfer_to_queue(conversation=open_chat, queue=other_queue, actor=agent)
    notices = list(open_chat.messages.values_list("notice", "body"))
    assert notices == [(Notice.AGENT_JOINED, "Anna"), (Notice.TRANSFERRED, "Anna")]
    joined = open_chat.messages.first()
    assert joined.notice_text == "Anna joined the chat"


def test_a_customer_cannot_write_into_an_ended_chat(active_chat, agent):
    """ST-3: after End the chat takes no more customer messages; the refusal says why."""
    conversation_end(conversation=active_chat, agent=agent)
    [result] = messages_post(posts=[Post(active_chat.pk, SenderRole.CUSTOMER, "hello?")])
    assert result.error == "This chat has ended."
    assert not Message.objects.filter(body="hello?").exists()


def test_customer_messages_are_scored_and_the_conversation_keeps_a_rolling_sentiment(active_chat):
    """SEN-1: every customer message gets a score; the conversation's level moves from Neutral
    towards them; agents' messages are not scored."""
    messages_post(
        posts=[
            Post(active_chat.pk, SenderRole.CUSTOMER, "Thank you so much, this is wonderful!"),
            Post(active_chat.pk, SenderRole.AGENT, "This is terrible", sender=active_chat.primary_agent),
        ]
    )
    customer, agent_message = active_chat.messages.filter(notice="")
    assert customer.sentiment > 0.7 and agent_message.sentiment is None
    active_chat.refresh_from_db()
    assert active_chat.sentiment_level == "slightly_positive"


def test_falling_to_the_threshold_raises_one_sentiment_alert(active_chat):
    """SEN-1: crossing the workstream's threshold records an event (the agent's and
    supervisors' alert); staying below it does not repeat it."""
    assert active_chat.workstream.sentiment_alert_threshold == "slightly_negative"
    for body in ["This is terrible, I am furious and want a refund", "Still awful and useless", "Horrible service"]:
        message_post(conversation=active_chat, sender_role=SenderRole.CUSTOMER, body=body)
    alerts = active_chat.events.filter(action="sentiment_alert")
    assert alerts.count() == 1
    assert alerts.get().detail["level"] in ("negative", "very_negative", "slightly_negative")
    assert Conversation.objects.get(pk=active_chat.pk).state == "active"


def test_messages_stored_together_raise_the_sentiment_alert_once(active_chat):
    """SEN-1: the chat sockets' group commit raises the alert as single messages do: once, on
    the message that falls to the threshold, never for the agent's words, and also when a later
    message in the same batch lifts the level again."""
    bodies = ["Thanks, fine", "This is terrible, I am furious", "Still awful", "Horrible service", "Awful again"]
    bodies += ["Wonderful, thank you so much, great help!", "Wonderful, thank you!"]
    messages_post(
        posts=[
            Post(active_chat.pk, SenderRole.AGENT, "This is terrible", sender=active_chat.primary_agent),
            *(Post(active_chat.pk, SenderRole.CUSTOMER, body) for body in bodies),
        ]
    )
    alerts = active_chat.events.filter(action="sentiment_alert")
    assert alerts.count() == 1
    assert (alerts.get().detail["level"], alerts.get().detail["threshold"]) == ("very_negative", "slightly_negative")
    assert Conversation.objects.get(pk=active_chat.pk).sentiment_level in ("slightly_positive", "positive")


@pytest.mark.parametrize(
    ("language", "polite", "furious", "warm"),
    [
        (
            "en",
            "Hi! I hope you can help me, I love your shop.",
            "This is ridiculous. I have waited three weeks and nobody answers. I am furious!",
            "Great, thank you so much, that's very helpful!",
        ),
        (
            "da-DK",
            "Hej! Jeg håber I kan hjælpe mig.",
            "Det her er fuldstændig uacceptabelt. Jeg har ventet i tre uger, og ingen svarer. Jeg er rasende!",
            "Tusind tak, det var en stor hjælp!",
        ),
    ],
)
def test_a_polite_opening_then_a_furious_message_raises_one_sentiment_alert(
    make_conversation,
    chat_workstream,
    agent,
    monkeypatch,
    django_capture_on_commit_callbacks,
    language,
    polite,
    furious,
    warm,
):
    """SEN-1, SES-7: the furious message itself raises the agent's sentiment alert, once, and
    the level the agent is shown with it is at or below the threshold; a thank-you right after
    leaves it there, without a second alert."""
    chat = make_conversation(chat_workstream, context={"language": language})
    conversation_pick(conversation=chat, agent=agent)
    threshold = chat.workstream.sentiment_alert_threshold
    assert threshold == "slightly_negative"
    sent = []
    monkeypatch.setattr("omnichannel.conversations.pushes._send", sent.extend)
    shown = []  # the conversation's level each customer message's push shows the agent
    alerts = chat.events.filter(action="sentiment_alert")
    for body, alerts_after in [(polite, 0), (furious, 1), (warm, 1)]:
        with django_capture_on_commit_callbacks(execute=True):
            message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body=body)
        assert alerts.count() == alerts_after
        shown += [p["sentiment"] for _, p in sent if p["type"] == "message.posted" and "sentiment" in p]
        sent.clear()
    assert [reached(level, threshold) for level in shown] == [False, True, True]
    alert = alerts.get()
    assert alert.agent_id == agent.pk
    assert alert.detail == {"level": shown[1], "level_label": "Very negative", "threshold": threshold}
    assert Conversation.objects.get(pk=chat.pk).sentiment_level == shown[2]


@pytest.mark.parametrize(
    ("language", "opening", "mild"),
    [
        ("en", "Hi, I have a question about my order", "I have a problem with my invoice"),
        ("da", "Hej, jeg har et spørgsmål om min ordre", "Pakken er desværre ikke kommet endnu"),
    ],
)
def test_one_mildly_negative_word_raises_no_sentiment_alert(
    make_conversation, chat_workstream, language, opening, mild
):
    """SEN-1: a chat neutral so far, then one negative word: no alert, the level stays Neutral."""
    chat = make_conversation(chat_workstream, context={"language": language})
    for body in (opening, mild):
        message = message_post(conversation=chat, sender_role=SenderRole.CUSTOMER, body=body)
    assert message.sentiment < 0
    assert not chat.events.filter(action="sentiment_alert").exists()
    assert Conversation.objects.get(pk=chat.pk).sentiment_level == "neutral"


def test_danish_customers_are_scored_with_the_danish_lexicon(make_conversation, chat_workstream):
    """SEN-1: the conversation's language picks the lexicon."""
    chat = make_conversation(chat_workstream, context={"language": "da-DK"})
    message = message_post(
        conversation=chat, sender_role=SenderRole.CUSTOMER, body="Det er elendigt og jeg er meget vred"
    )
    assert message.sentiment < -0.3
