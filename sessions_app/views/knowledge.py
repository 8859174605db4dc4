"""The Knowledge base search application tab (KB-1, SES-3): ranked search over published
articles and "Send link", which posts an article's link into the session's conversation."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from omnichannel.conversations.actions.knowledge import conversation_article_send
from omnichannel.conversations.errors import ConversationError
from omnichannel.conversations.models import Conversation
from omnichannel.conversations.roles import agent_required
from omnichannel.conversations.selectors import can_write, conversations_visible_to
from omnichannel.knowledge.models import Article
from omnichannel.knowledge.search import article_search, articles_recent, excerpt, search_terms

from .records import render_tab

SEARCH = "sessions_app/_knowledge_search.html#knowledge-search"
RESULTS = "sessions_app/_knowledge_search.html#knowledge-results"
MAX_QUERY_LENGTH = 200


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=MAX_QUERY_LENGTH,
        error_messages={"max_length": gettext_lazy("A search can be at most %(limit_value)d characters.")},
    )


def _conversation(user, value: str | None) -> Conversation | None:
    """The session's conversation named in the request, if any; 404 when the user may not see it."""
    if not value:
        return None
    if not value.isdigit():
        raise Http404
    conversation = conversations_visible_to(user).select_related("workstream").filter(pk=value).first()
    if conversation is None:
        raise Http404
    return conversation


def search_context(*, user, conversation: Conversation | None, query: str, sent: int | None = None, error=""):
    form = SearchForm({"q": query})
    if not form.is_valid():
        error, articles = form.errors["q"][0], []
    elif query.strip():
        articles = article_search(query=query)
    else:
        articles = articles_recent()
    terms = search_terms(query)
    for article in articles:
        article.excerpt = excerpt(article.body, terms)
    may_send = (
        conversation is not None
        and conversation.traits.transcript
        and can_write(user, conversation)
    )
    return {
        "conversation": conversation,
        "query": query,
        "articles": articles,
        "may_send": may_send,
        "sent_article_id": sent,
        "error": error,
        "scope": conversation.pk if conversation else "home",
    }


@login_required
@agent_required
def knowledge_search(request: HttpRequest) -> HttpResponse:
    """KB-1: the tab, or only its results when the search box asks as the agent types."""
    conversation = _conversation(request.user, request.GET.get("conversation"))
    context = search_context(user=request.user, conversation=conversation, query=request.GET.get("q", ""))
    if request.htmx and (request.htmx.target or "").startswith("kb-results"):
        return render(request, RESULTS, context)
    return render_tab(request, SEARCH, context, title=_("Knowledge base search"))


@require_POST
@login_required
@agent_required
def knowledge_send(request: HttpRequest, pk: int, article_pk: int) -> HttpResponse:
    """KB-1: post the article's public link into the conversation as the agent's message."""
    conversation = _conversation(request.user, str(pk))
    article = get_object_or_404(Article, pk=article_pk)
    query = request.POST.get("q", "")
    error, sent = "", None
    try:
        conversation_article_send(
            conversation=conversation,
            agent=request.user,
            article=article,
            url=request.build_absolute_uri(article.get_absolute_url()),
        )
        sent = article.pk
    except ConversationError as refused:
        error = str(refused)
    if request.htmx:
        context = search_context(user=request.user, conversation=conversation, query=query, sent=sent, error=error)
        return render(request, RESULTS, context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Link to “%(title)s” sent.") % {"title": article.title})
    return redirect(f"{reverse('sessions_app:knowledge_search')}?{urlencode({'conversation': pk, 'q': query})}")
