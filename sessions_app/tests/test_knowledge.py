"""The Knowledge base search application tab and Send link (KB-1, SES-3)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omnichannel.conversations.actions.assignment import conversation_pick
from omnichannel.conversations.models import Message, SenderRole

HTMX = {"HX-Request": "true"}


def search(client, **params):
    return client.get(reverse("sessions_app:knowledge_search"), params, headers=HTMX)


def send(client, conversation, article, query=""):
    url = reverse("sessions_app:knowledge_send", args=[conversation.pk, article.pk])
    return client.post(url, {"q": query}, headers=HTMX)


def test_search_tab_ranks_published_articles(client, agent, active_chat, make_article):
    """KB-1: results best first, with an excerpt and a Send link button in a conversation's session."""
    make_article("Delivery times", "A refund is possible when delivery is late.")
    make_article("Refunds", "How refunds work.")
    make_article("Refund drafts", "Unpublished.", published=False)
    client.force_login(agent)
    html = search(client, q="refund", conversation=active_chat.pk).content.decode()
    assert html.index("Refunds") < html.index("Delivery times")
    assert "Refund drafts" not in html
    assert "2 articles found" in html and "Send link" in html


def test_search_box_refreshes_only_the_results(client, agent, active_chat, make_article):
    """KB-1: as the agent types, htmx asks for the results region only."""
    make_article("Refunds", "How refunds work.")
    client.force_login(agent)
    target = {"HX-Target": f"kb-results-{active_chat.pk}"}
    html = client.get(
        reverse("sessions_app:knowledge_search"),
        {"q": "refu", "conversation": active_chat.pk},
        headers={**HTMX, **target},
    ).content.decode()
    assert html.lstrip().startswith(f'<div class="kb-results stack" id="kb-results-{active_chat.pk}"')


def test_empty_search_lists_the_latest_articles(client, agent, make_article):
    """KB-1, SES-3: the tab opens with the latest articles; from Home nothing can be sent."""
    make_article("Opening hours", "We are open 9 to 17.")
    client.force_login(agent)
    html = search(client).content.decode()
    assert "Latest articles" in html and "Opening hours" in html
    assert "Send link" not in html


def test_too_long_search_is_refused_clearly(client, agent):
    """KB-1: bad input gets a clear error."""
    client.force_login(agent)
    assert "A search can be at most 200 characters." in search(client, q="x" * 201).content.decode()


def test_search_query_count_is_fixed(client, agent, active_chat, make_article):
    """KB-1: the tab's queries do not grow with the number of results."""
    client.force_login(agent)
    make_article("Printer 0", "printer")

    def count():
        with CaptureQueriesContext(connection) as queries:
            search(client, q="printer", conversation=active_chat.pk)
        return len(queries)

    one = count()
    for number in range(1, 10):
        make_article(f"Printer {number}", "printer")
    assert count() == one


def test_send_link_posts_the_articles_address_into_the_chat(client, agent, active_chat, make_article):
    """KB-1: Send link stores the agent's message with the title and the public address."""
    article = make_article("Refunds", "How refunds work.")
    client.force_login(agent)
    html = send(client, active_chat, article, query="refund").content.decode()
    assert "Link sent" in html
    message = Message.objects.get(conversation=active_chat, sender_role=SenderRole.AGENT)
    assert message.sender == agent
    assert message.body == f"Refunds\nhttp://testserver/kb/{article.slug}/"
    assert client.get(f"/kb/{article.slug}/").status_code == 200


def test_send_link_is_refused_for_drafts_other_agents_and_records(
    client, agent, other_agent, active_chat, make_article, make_workstream, make_conversation, make_case
):
    """KB-1, SEC-1: an unpublished article, someone else's chat, a record: refused, nothing sent."""
    draft = make_article("Draft", "Not yet.", published=False)
    article = make_article("Refunds", "How refunds work.")
    client.force_login(agent)
    assert "is not published" in send(client, active_chat, draft).content.decode()
    record = make_conversation(make_workstream("case"), case=make_case())
    conversation_pick(conversation=record, agent=agent)
    assert "only in chat and messaging" in send(client, record, article).content.decode()
    client.force_login(other_agent)
    assert send(client, active_chat, article).status_code == 404
    assert not Message.objects.filter(sender_role=SenderRole.AGENT).exists()


def test_public_article_page_shows_only_published_articles(client, make_article):
    """KB-1: the customer's link opens the article without signing in; drafts are not found."""
    article = make_article("Refunds", "First paragraph.\n\nSecond <b>paragraph</b>.")
    draft = make_article("Draft", "Secret", published=False)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<p>First paragraph.</p>" in html and "Second &lt;b&gt;paragraph&lt;/b&gt;." in html
    assert client.get(draft.get_absolute_url()).status_code == 404
