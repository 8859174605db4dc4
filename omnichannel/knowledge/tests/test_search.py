"""Ranked full-text search (KB-1). The CI runs these on SQLite (FTS5, bm25) and again on
PostgreSQL (tsvector, GIN index, ts_rank): the same expectations hold on both."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnichannel.knowledge.models import Article
from omnichannel.knowledge.search import (
    FTS_TABLE,
    SEARCH_INDEX,
    article_search,
    excerpt,
    fts5_match,
    search_terms,
    tsquery,
)


def titles(query: str) -> list[str]:
    return [article.title for article in article_search(query=query)]


@pytest.fixture
def library(make_article):
    return {
        "title": make_article("Refund a double charge", "Open the invoice and choose Credit."),
        "keywords": make_article("Billing questions", "Invoices are sent monthly.", keywords="refund money back"),
        "body": make_article("Orders and delivery", "Delivery takes three days. A refund is possible on request."),
        "unrelated": make_article("Reset your password", "Choose Forgot password on the sign-in page."),
    }


def test_title_ranks_above_keywords_above_body(library):
    """KB-1: a word in the title outranks the same word in keywords, which outranks the body."""
    assert titles("refund") == ["Refund a double charge", "Billing questions", "Orders and delivery"]


def test_every_word_is_required_and_the_last_matches_as_a_prefix(library):
    """KB-1: all words must match; a partial last word already finds (results while typing)."""
    assert titles("refund deliv") == ["Orders and delivery"]
    assert titles("passw") == ["Reset your password"]
    assert titles("refund password") == []


def test_words_match_their_english_stems(library):
    """KB-1: "charges" finds "charge", "invoice" finds "Invoices"."""
    assert titles("charges") == ["Refund a double charge"]
    assert set(titles("invoice")) == {"Refund a double charge", "Billing questions"}


def test_unpublished_articles_are_not_found(make_article):
    """KB-1: drafts stay out of the agents' search until published."""
    draft = make_article("Draft about refunds", "refund", published=False)
    assert titles("refund") == []
    draft.published = True
    draft.save()
    assert titles("refund") == ["Draft about refunds"]


def test_the_index_follows_edits_and_deletions(make_article):
    """KB-1: changing or deleting an article changes what search finds at once."""
    article = make_article("Shipping times", "Parcels arrive in two days.")
    assert titles("parcels") == ["Shipping times"]
    article.body = "Letters arrive in two days."
    article.save()
    assert titles("parcels") == []
    assert titles("letters") == ["Shipping times"]
    article.delete()
    assert titles("letters") == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "refund*",
        "title:refund",
        "NEAR(refund delivery)",
        "refund & | ! :*",
        "(refund",
        "' OR 1=1 --",
        "  ",
        "___",
        "refund_",
        "ø",
        "日本語",
        "the",
    ],
)
def test_search_syntax_in_the_query_is_plain_text(library, query):
    """KB-1: quotes, operators and column filters cannot break the search; words still match."""
    found = titles(query)
    if search_terms(query) == ["refund"]:
        assert found[0] == "Refund a double charge"
    assert Article.objects.count() == 4


def test_search_is_one_query_and_limited(make_article):
    """KB-1: one query however many articles match; at most `limit` returned."""
    for number in range(15):
        make_article(f"Printer guide {number}", "printer setup")
    with CaptureQueriesContext(connection) as queries:
        found = article_search(query="printer", limit=10)
    assert len(found) == 10
    assert len(queries) == 1


def test_terms_and_database_queries_are_built_from_words_only():
    """KB-1: the pure query builders."""
    assert search_terms('Refund "double" charge, refund!') == ["refund", "double", "charge"]
    assert fts5_match(["refund", "dou"]) == '"refund" "dou"*'
    assert fts5_match(["dou"]) == '"dou"*'
    assert tsquery(["refund", "dou"]) == "refund & dou:*"
    assert tsquery(["dou"]) == "dou:*"


def test_excerpt_starts_near_the_first_match():
    """KB-1: results show the part of the body that matched."""
    body = " ".join(f"w{i}" for i in range(100)) + " refund policy explained here"
    text = excerpt(body, ["refund"], words=12)
    assert "refund policy" in text
    assert text.startswith("… ")
    assert excerpt("Short body", ["x"]) == "Short body"


def test_search_reads_the_full_text_index(make_article):
    """KB-1: the search reads its index, not every row: the FTS5 table on SQLite, the GIN
    index on the weighted tsvector on PostgreSQL (sequential scans off, so a small table
    cannot hide a query the index does not serve)."""
    make_article("Refund a double charge", "Open the invoice.")
    with CaptureQueriesContext(connection) as queries:
        article_search(query="refund")
    sql = queries[0]["sql"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert SEARCH_INDEX in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert f"{FTS_TABLE} VIRTUAL TABLE INDEX" in plan, plan
