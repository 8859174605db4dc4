"""The widget's pages: the chat that runs in the iframe (CH-1), its start (CH-2, CH-4) and
the demo customer page that embeds it.

The chat endpoints take no cookies: the iframe sits on other sites, where browsers drop
our cookies, so the customer holds a chat token instead. With no ambient authority there is
nothing for CSRF to forge, hence the exemption on the start endpoint.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from omnichannel.conversations.actions.live_chat import PreChatInvalid, customer_chat_start
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Workstream
from omnichannel.conversations.states import Channel

from .tokens import chat_token, identity_from, read_chat_token

MAX_START_BYTES = 16 * 1024


def _workstream(key: str) -> Workstream:
    return get_object_or_404(
        Workstream.objects.prefetch_related("pre_chat_questions"), widget_key=key, channel=Channel.LIVE_CHAT
    )


@require_GET
@xframe_options_exempt
def chat(request: HttpRequest, key: str) -> HttpResponse:
    """The chat itself, inside the iframe the snippet adds to the host page."""
    workstream = _workstream(key)
    return render(
        request, "widget/chat.html", {"workstream": workstream, "questions": workstream.pre_chat_questions.all()}
    )


@csrf_exempt
@require_POST
def start(request: HttpRequest, key: str) -> JsonResponse:
    """Start (or continue) the customer's chat; answer with the chat token, or the errors."""
    workstream = _workstream(key)
    if len(request.body) > MAX_START_BYTES:
        return JsonResponse({"error": _("The request is too large.")}, status=400)
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return JsonResponse({"error": _("The request is not valid JSON.")}, status=400)
    previous = read_chat_token(data.get("token"))
    try:
        identity = identity_from(data["identity"], workstream) if data.get("identity") else None
        conversation = customer_chat_start(
            workstream=workstream,
            answers=data.get("answers") or {},
            language=str(data.get("language") or ""),
            identity=identity,
            visitor_id=previous.visitor_id if previous else None,
        )
    except PreChatInvalid as refused:
        return JsonResponse({"error": str(refused), "errors": refused.errors}, status=400)
    except ConversationError as refused:
        return JsonResponse({"error": str(refused)}, status=400)
    return JsonResponse(
        {
            "token": chat_token(conversation_id=conversation.pk, visitor_id=conversation.visitor_id),
            "conversation": conversation.pk,
        }
    )


@require_GET
def demo(request: HttpRequest) -> HttpResponse:
    """A customer's web page with the snippet, as a company would embed it."""
    workstream = Workstream.objects.filter(channel=Channel.LIVE_CHAT).order_by("pk").first()
    return render(request, "widget/demo.html", {"workstream": workstream})
