"""Ranked full-text search over published articles (KB-1), one function for both databases.

Embedded default (SQLite): a contentless FTS5 table over the title, keywords and body of
published articles, kept in sync by triggers (migration 0002), ranked by bm25 with title
above keywords above body. Scale-out (PostgreSQL): the same three fields as one weighted tsvector in a
stored generated column with a GIN index (migration 0002), ranked by ts_rank. Stored, not
computed per query: ranking a common word recomputed to_tsvector for every matching row
(p99 about 2 s over 5,000 articles in `python -m bench knowledge`).

Both read the query the same way: its words, every one required, the last also matching as
a prefix (so results appear while the agent is still typing), stemmed as English.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import F
from django.db.models.expressions import RawSQL

from .models import Article

MAX_TERMS = 12
FTS_TABLE = "knowledge_article_fts"
# bm25 weights per FTS column (title, keywords, body), the FTS table's rank; PostgreSQL's A, B,
# C weights say the same.
FTS_WEIGHTS = "10.0, 5.0, 1.0"
SEARCH_CONFIG = "english"
SEARCH_INDEX = "knowledge_article_search"
DOCUMENT_COLUMN = "search_document"
# The PostgreSQL column's expression: A, B and C weights say what FTS_WEIGHTS say for bm25.
DOCUMENT_SQL = " || ".join(
    f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce({field}, '')), '{weight}')"
    for field, weight in (("title", "A"), ("keywords", "B"), ("body", "C"))
)
_WORD = re.compile(r"\w+")


def search_terms(query: str) -> list[str]:
    """The query's words, lower-cased, once each: anything else (quotes, operators, column
    filters) is dropped, so no input can be read as search syntax by either database."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(query)))[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """FTS5 MATCH text: every term required, quoted; the last also as a prefix (still being typed)."""
    return " ".join([*(f'"{term}"' for term in terms[:-1]), f'"{terms[-1]}"*'])


def tsquery(terms: list[str]) -> str:
    """to_tsquery text: every term required; the last also as a prefix. Words are \\w+ only, so
    they cannot carry tsquery operators."""
    return " & ".join([*terms[:-1], f"{terms[-1]}:*"])


def article_search(*, query: str, limit: int = 10) -> list[Article]:
    """Published articles matching every word of `query`, best first; one query."""
    terms = search_terms(query)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _postgresql_search(terms, limit)
    return _sqlite_search(terms, limit)


def _sqlite_search(terms: list[str], limit: int) -> list[Article]:
    table = connection.ops.quote_name(Article._meta.db_table)
    return list(
        Article.objects.raw(
            f"SELECT a.*, hits.rank FROM (SELECT rowid, rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "
            f"ORDER BY rank LIMIT %s) hits JOIN {table} a ON a.id = hits.rowid ORDER BY hits.rank, a.id",
            [fts5_match(terms), limit],
        )
    )


def _postgresql_search(terms: list[str], limit: int) -> list[Article]:
    # Not a model field: the generated column exists on PostgreSQL only, and never needs writing.
    document = RawSQL(f"{Article._meta.db_table}.{DOCUMENT_COLUMN}", [], output_field=SearchVectorField())
    query = SearchQuery(tsquery(terms), search_type="raw", config=SEARCH_CONFIG)
    return list(
        Article.objects.filter(published=True)
        .alias(document=document)
        .filter(document=query)
        .annotate(rank=SearchRank(F("document"), query))
        .order_by("-rank", "id")[:limit]
    )


def excerpt(body: str, terms: list[str], *, words: int = 30) -> str:
    """About `words` words of the body around the first word a term starts, for a result list."""
    tokens = body.split()
    if not tokens:
        return ""
    first = next(
        (i for i, token in enumerate(tokens) if any(token.lower().lstrip("\"'(").startswith(t) for t in terms)),
        0,
    )
    start = max(0, first - words // 3)
    text = " ".join(tokens[start : start + words])
    return f"{'… ' if start else ''}{text}{' …' if start + words < len(tokens) else ''}"


def articles_recent(*, limit: int = 10) -> list[Article]:
    """What the search tab lists before anything is typed: the latest published articles."""
    return list(Article.objects.filter(published=True).order_by("-updated_at", "-id")[:limit])
