"""Starting a chat from the widget: pre-chat answers, identity tokens, "Visitor N",
continuing a chat, and the pages that carry the widget (CH-1, CH-2, CH-4, ST-24)."""

import json
import re
import time

import jwt
import pytest
from django.conf import settings

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.actions.ending import conversation_close_session, conversation_end
from omnichannel.conversations.actions.messages import MAX_MESSAGE_LENGTH
from omnichannel.conversations.models import Contact, Conversation, PreChatQuestion
from omnichannel.conversations.sockets.chat import MAX_FRAME_BYTES, MAX_KEY_LENGTH, ChatConsumer
from omnichannel.widget.tokens import CHAT_TOKEN_MAX_AGE_DAYS, read_chat_token
from omnichannel.widget.views import MAX_START_BYTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def questions(chat_workstream):
    PreChatQuestion.objects.create(
        workstream=chat_workstream, key="topic", label="What is it about?", choices="Orders\nBilling", order=1
    )
    PreChatQuestion.objects.create(
        workstream=chat_workstream, key="order", label="Order number", required=False, order=2
    )
    return chat_workstream


def start(client, workstream, **data):
    response = client.post(f"/chat/{workstream.widget_key}/start/", json.dumps(data), content_type="application/json")
    return response.status_code, response.json()


def identity_token(workstream, **claims):
    claims = {
        "sub": "cust-42",
        "name": "Mette Larsen",
        "email": "mette@example.com",
        "exp": int(time.time()) + 300,
        **claims,
    }
    return jwt.encode(claims, workstream.widget_secret, algorithm="HS256")


def test_chat_page_shows_the_monitoring_notice_and_the_questions_before_the_chat(client, questions):
    """CH-1, CH-2, CH-4: the iframe page may be framed by any site, and asks the workstream's
    questions under the notice that the conversation may be monitored and recorded."""
    response = client.get(f"/chat/{questions.widget_key}/")
    html = response.content.decode()
    assert response.status_code == 200 and "X-Frame-Options" not in response.headers
    assert "may be monitored and recorded" in html
    assert html.index("may be monitored") < html.index("Start chat")
    assert "What is it about?" in html and "<option>Billing</option>" in html and "Order number" in html


def test_widget_draws_its_icons_instead_of_emoji(client, chat_workstream):
    """CH-1: the launcher's icon is an inline SVG; an emoji shows as an empty box on a machine
    without an emoji font, so the widget's page has none."""
    html = client.get(f"/chat/{chat_workstream.widget_key}/").content.decode()
    launcher = html[html.index('class="widget-launcher"') : html.index("</button>")]
    assert "<svg" in launcher
    assert not re.search("[\u2600-\u27bf\U0001f000-\U0001faff]", html)


def test_demo_page_embeds_the_snippet(client, chat_workstream):
    """CH-1: the demo customer page carries the one-line snippet with the workstream's key."""
    html = client.get("/demo/").content.decode()
    assert f'data-workstream="{chat_workstream.widget_key}"' in html and "widget.js" in html


def test_unanswered_required_question_is_refused_and_nothing_is_created(client, questions):
    """CH-2: bad pre-chat answers get a clear error per question and create nothing."""
    status, body = start(client, questions, answers={"topic": "Something else"})
    assert status == 400 and body["errors"] == {"topic": "Please choose one of the listed answers."}
    status, body = start(client, questions, answers={})
    assert status == 400 and "Please answer “What is it about?”." in body["errors"]["topic"]
    assert not Conversation.objects.exists()


def test_anonymous_visitor_gets_a_numbered_chat_routed_with_the_answers(client, questions):
    """CH-2, RT-1: an anonymous visitor's chat is titled "Visitor N" and carries the answers
    and the browser's language for routing."""
    status, body = start(client, questions, answers={"topic": "Billing", "order": " 10452 "}, language="da-DK")
    assert status == 200
    conversation = Conversation.objects.get(pk=body["conversation"])
    assert conversation.title == f"Visitor {conversation.visitor_id}"
    assert conversation.state == "open"
    assert conversation.context["prechat"] == {"topic": "Billing", "order": "10452"}
    assert conversation.context["language"] == "da-DK"
    assert read_chat_token(body["token"]).conversation_id == conversation.pk


def test_signed_identity_makes_an_authenticated_chat_for_the_sites_customer(client, questions):
    """CH-2: a token the host site signed with the workstream's secret names the contact."""
    token = identity_token(questions, attributes={"tier": "gold"})
    status, body = start(client, questions, answers={"topic": "Orders"}, identity=token)
    assert status == 200
    conversation = Conversation.objects.get(pk=body["conversation"])
    assert conversation.contact == Contact.objects.get(external_id="cust-42")
    assert conversation.title == "Mette Larsen" and conversation.visitor is None
    assert conversation.context["customer"] == {"tier": "gold"}


@pytest.mark.parametrize(
    ("claims", "secret", "error"),
    [
        ({}, "not-the-secret", "not valid"),
        ({"exp": int(time.time()) - 3600}, None, "expired"),
        ({"sub": None}, None, "not valid"),
    ],
)
def test_identity_token_that_fails_a_check_is_refused(client, questions, claims, secret, error):
    """CH-2: a token with the wrong signature, expired or without a subject starts nothing."""
    claims = {"sub": "cust-42", "exp": int(time.time()) + 300, **claims}
    claims = {k: v for k, v in claims.items() if v is not None}
    token = jwt.encode(claims, secret or questions.widget_secret, algorithm="HS256")
    status, body = start(client, questions, answers={"topic": "Orders"}, identity=token)
    assert status == 400 and error in body["error"]
    assert not Conversation.objects.exists()


def test_malformed_request_is_refused(client, chat_workstream):
    """Bad input gets a clear error and changes nothing."""
    response = client.post(f"/chat/{chat_workstream.widget_key}/start/", "[1, 2", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    assert client.post("/chat/no-such-key/start/", "{}", content_type="application/json").status_code == 404


def test_a_customer_with_a_chat_going_continues_it(client, questions):
    """CH-2: starting again (another tab, a reload) while the chat is going continues it."""
    _, first = start(client, questions, answers={"topic": "Orders"})
    _, again = start(client, questions, answers={}, token=first["token"])
    assert again["conversation"] == first["conversation"]
    assert Conversation.objects.count() == 1


def test_after_the_chat_ended_the_same_visitor_starts_a_new_one(client, questions, agent):
    """ST-24, CH-2: once ended, a returning visitor starts a new chat (same "Visitor N")."""
    _, first = start(client, questions, answers={"topic": "Orders"})
    conversation = Conversation.objects.get(pk=first["conversation"])
    conversation_pick(conversation=conversation, agent=agent)
    conversation_end(conversation=conversation, agent=agent)
    _, second = start(client, questions, answers={"topic": "Orders"}, token=first["token"])
    assert second["conversation"] != first["conversation"]
    assert Conversation.objects.get(pk=second["conversation"]).visitor_id == conversation.visitor_id


def test_returning_customer_continues_a_waiting_persistent_chat(client, make_workstream, agent):
    """ST-24: the agent closed a persistent chat's session; the customer, signed in again on
    another device, is back in the same conversation, history and all."""
    workstream = make_workstream(persistent_chat=True)
    token = identity_token(workstream)
    _, first = start(client, workstream, identity=token)
    conversation = Conversation.objects.get(pk=first["conversation"])
    conversation_pick(conversation=conversation, agent=agent)
    conversation_close_session(conversation=conversation, agent=agent)
    conversation.refresh_from_db()
    assert conversation.state == "waiting"
    _, again = start(client, workstream, identity=token)
    assert again["conversation"] == conversation.pk


def test_the_protocol_document_states_the_limits_the_code_enforces():
    """API-1: docs/chat-protocol.md, the integrators' reference, gives the limits as they are."""
    doc = (settings.BASE_DIR / "docs" / "chat-protocol.md").read_text()
    assert f"{MAX_FRAME_BYTES:,} characters" in doc and f"1 to {MAX_MESSAGE_LENGTH:,}" in doc
    assert f"1–{MAX_KEY_LENGTH} characters" in doc and f"at most {MAX_START_BYTES // 1024} KiB" in doc
    rate = f"{ChatConsumer.burst} messages at once, then {ChatConsumer.per_second:g} a second"
    assert rate in doc and f"valid for {CHAT_TOKEN_MAX_AGE_DAYS} days" in doc
