"""The demo ships a small knowledge base (KB-1)."""

from io import StringIO

from django.core.management import call_command

from omnichannel.knowledge.models import Article
from omnichannel.knowledge.search import article_search


def test_demo_articles_are_published_and_found(db, presences):
    """KB-1: `load_demo` publishes articles agents can find; running it again adds none."""
    call_command("load_demo", stdout=StringIO())
    count = Article.objects.filter(published=True).count()
    assert count >= 5
    assert article_search(query="charged twice")[0].title == "Refund a double charge"
    call_command("load_demo", stdout=StringIO())
    assert Article.objects.count() == count
