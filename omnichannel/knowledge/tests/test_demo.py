"""The demo ships a small knowledge base (KB-1) and a case routed as a work item (MSG-2)."""

from io import StringIO

from django.core.management import call_command

from omnichannel.conversations.models import Conversation
from omnichannel.conversations.states import Channel
from omnichannel.knowledge.models import Article
from omnichannel.knowledge.search import article_search


def test_demo_has_findable_articles_and_a_routed_case(db, presences):
    """KB-1, MSG-2: `load_demo` publishes articles agents can find and routes a case as a
    record work item; running it again adds nothing."""
    call_command("load_demo", stdout=StringIO())
    count = Article.objects.filter(published=True).count()
    assert count >= 5
    assert article_search(query="charged twice")[0].title == "Refund a double charge"
    call_command("load_demo", stdout=StringIO())
    assert Article.objects.count() == count
    assert Conversation.objects.filter(workstream__channel=Channel.CASE, case__title__startswith="Invoice").exists()
