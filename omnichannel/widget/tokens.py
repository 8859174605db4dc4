"""The widget's two tokens.

The identity token is the host web site's: a JWT (HS256) it signs with the workstream's
widget secret, naming its customer (CH-2). The chat token is ours: it names one
conversation and its visitor, and is all a customer's browser holds, so a token reaches
only its own conversation (SEC-1).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from django.core import signing
from django.utils.translation import gettext as _

from omnichannel.conversations.actions.live_chat import Identity
from omnichannel.conversations.errors import InvalidInput
from omnichannel.conversations.models import Workstream

CHAT_SALT = "omnichannel.widget.chat"
# As long as a persistent chat can wait for its customer (ST-24), with a day to spare.
CHAT_TOKEN_MAX_AGE_DAYS = 366


def identity_from(token: str, workstream: Workstream) -> Identity:
    """The customer the host site signed for; a clear error for a token that fails any check."""
    try:
        claims = jwt.decode(
            token,
            workstream.widget_secret,
            algorithms=["HS256"],
            options={"require": ["sub", "exp"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidInput(_("The sign-in token has expired; reload the page.")) from None
    except jwt.InvalidTokenError:
        raise InvalidInput(_("The sign-in token is not valid for this chat.")) from None
    attributes = claims.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidInput(_("The sign-in token's attributes must be an object."))
    return Identity(
        external_id=str(claims["sub"])[:100],
        name=str(claims.get("name", ""))[:200],
        email=str(claims.get("email", ""))[:254],
        attributes={str(k)[:50]: str(v)[:200] for k, v in attributes.items()},
    )


@dataclass(frozen=True)
class ChatToken:
    conversation_id: int
    visitor_id: int | None


def chat_token(*, conversation_id: int, visitor_id: int | None) -> str:
    return signing.dumps({"c": conversation_id, "v": visitor_id}, salt=CHAT_SALT, compress=True)


def read_chat_token(token: object) -> ChatToken | None:
    if not isinstance(token, str) or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=CHAT_SALT, max_age=CHAT_TOKEN_MAX_AGE_DAYS * 24 * 3600)
        return ChatToken(conversation_id=int(data["c"]), visitor_id=int(data["v"]) if data.get("v") else None)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
