"""Knowledge articles in a conversation (KB-1)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from omnichannel.knowledge.models import Article

from ..errors import InvalidInput
from ..models import Conversation, Message, SenderRole
from .messages import message_post


def conversation_article_send(
    *, conversation: Conversation, agent: AbstractBaseUser, article: Article, url: str
) -> Message:
    """KB-1: the agent sends a published article's title and link (`url`, absolute) into the
    conversation's transcript, as their own message through `message_post`."""
    if not conversation.traits.transcript:
        raise InvalidInput(_("Articles can be sent only in chat and messaging conversations."))
    if not Article.objects.filter(pk=article.pk, published=True).exists():
        raise InvalidInput(_("The article “%(title)s” is not published.") % {"title": article.title})
    return message_post(
        conversation=conversation, sender_role=SenderRole.AGENT, sender=agent, body=f"{article.title}\n{url}"
    )

