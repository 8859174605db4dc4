"""Message bodies in the transcript: escaped, with web addresses as links (KB-1, SEC-1)."""

import pytest
from django.template.loader import get_template

from omnichannel.conversations.models import Conversation, Message, SenderRole


def rendered(body: str) -> str:
    conversation = Conversation(pk=1, visitor_id=1)  # unsaved: rendering needs no database
    message = Message(sequence=1, sender_role=SenderRole.CUSTOMER, body=body, conversation=conversation)
    return get_template("conversations/_message.html").render({"message": message})


def test_an_article_link_opens_in_a_new_tab():
    """KB-1: a sent article's address is a link that leaves the chat's frame alone."""
    html = rendered("Refunds\nhttps://help.example.com/kb/refunds/")
    assert (
        'Refunds<br><a href="https://help.example.com/kb/refunds/" target="_blank" rel="noopener noreferrer">'
        "https://help.example.com/kb/refunds/</a>"
    ) in html


@pytest.mark.parametrize(
    "body",
    [
        '<img src=x onerror=alert(1)> https://example.com/"onmouseover="alert(1)',
        "javascript:alert(1) www.example.com/<script>alert(1)</script>",
        "<script>alert(1)</script>",
    ],
)
def test_bodies_stay_escaped_with_or_without_links(body):
    """SEC-1: nothing a sender writes becomes markup, links included."""
    html = rendered(body)
    assert "<script" not in html and "<img" not in html and 'onmouseover="' not in html
    assert 'href="javascript' not in html
