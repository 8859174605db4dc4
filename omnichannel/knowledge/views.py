"""The public article page a customer reaches from a link an agent sent into the chat (KB-1)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Article


def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Published articles only: a draft is not found, whoever asks."""
    article = get_object_or_404(Article, slug=slug, published=True)
    return render(request, "knowledge/article.html", {"article": article})
