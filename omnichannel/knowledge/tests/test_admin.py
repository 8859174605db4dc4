"""Administrators manage knowledge articles in Django admin (KB-1)."""

from django.urls import reverse

from omnichannel.knowledge.models import Article
from omnichannel.knowledge.search import article_search


def test_administrator_writes_and_publishes_an_article_agents_then_find(client, administrator):
    """KB-1: the Administrator group may add articles; a published one is found at once."""
    client.force_login(administrator)
    url = reverse("admin:knowledge_article_add")
    assert client.get(url).status_code == 200
    data = {
        "title": "Warranty claims",
        "slug": "warranty-claims",
        "keywords": "broken, guarantee",
        "body": "Send us a photo.",
        "published": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    assert [a.title for a in article_search(query="guarantee")] == ["Warranty claims"]


def test_an_article_needs_a_title_body_and_unique_slug(client, administrator, make_article):
    """KB-1: bad input is refused with the field's message and nothing is saved."""
    make_article("Existing")
    taken = Article.objects.get().slug
    client.force_login(administrator)
    response = client.post(reverse("admin:knowledge_article_add"), {"title": "", "slug": taken, "body": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html and "Article with this Slug already exists." in html
    assert Article.objects.count() == 1


def test_agents_cannot_edit_articles(client, agent):
    """KB-1, SEC-1: agents search articles in the workspace; only administrators change them."""
    client.force_login(agent)
    assert client.get(reverse("admin:knowledge_article_add")).status_code == 302
