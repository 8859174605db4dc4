"""`python -m bench knowledge`: knowledge base search (KB-1) over N published articles.

Per backend (SQLite FTS5 with bm25, PostgreSQL tsvector with its GIN index and ts_rank), in
one run against the same articles and queries:
1. bare: the index's own match in plain SQL, unranked, ten ids (the database's limit for a lookup);
2. ranked: the same, ranked (bm25, ts_rank): the database's limit for a ranked lookup;
3. search: `article_search`, the product's ranked query, ten articles;
4. tab: the Knowledge base search tab as an agent's htmx request gets it (view, template);
5. scan: a LIKE scan over title, keywords and body, what search would cost without an index.
The last line is JSON; `ratio` = search p99 ÷ bare p99 and `ratio_to_ranked` = search p99 ÷
ranked p99, on each backend (`pg_` for PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

from bench.harness import PG_URL, configure, percentile

# Databases of its own: other benchmarks may run at the same time on the shared ones.
SQLITE_URL = "sqlite:////tmp/omnichannel-bench-knowledge.sqlite3"
PG_KNOWLEDGE_URL = f"{PG_URL}_knowledge"

SYLLABLES = "ba ce di fo gu ka le mi no pu ra se ti vo wu xa ye zi lo ne".split()
# 4,000 words in a fixed random order, so frequent words do not all share their first letters.
VOCABULARY = random.Random(3).sample([a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:10]], 4000)
# Word frequencies fall off as in natural text (Zipf): a few words are everywhere, most are rare.
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCABULARY, WEIGHTS, k=words))


def seed(count: int) -> None:
    from omnichannel.knowledge.models import Article

    rng = random.Random(7)
    Article.objects.bulk_create(
        [
            Article(
                title=text(rng, rng.randint(3, 7)).capitalize(),
                slug=f"article-{i}",
                keywords=text(rng, 4),
                body=text(rng, rng.randint(80, 250)),
                published=rng.random() < 0.95,
            )
            for i in range(count)
        ],
        batch_size=500,
    )


def queries(count: int) -> list[str]:
    """What agents type: one to three words, common ones more often, some still being typed."""
    rng = random.Random(11)
    made = []
    for _ in range(count):
        words = rng.choices(VOCABULARY[:1000], WEIGHTS[:1000], k=rng.choice([1, 1, 2, 2, 3]))
        if rng.random() < 0.3:
            words[-1] = words[-1][:4]
        made.append(" ".join(words))
    return made


def timed(phases: dict, items: list[str], *, every: dict[str, int]) -> dict[str, list[float]]:
    """Time every phase on each item in turn, so a load spike from elsewhere on the machine
    falls on all phases alike rather than on whichever ran then. `every` thins slow phases."""
    times: dict[str, list[float]] = {name: [] for name in phases}
    for i, item in enumerate(items):
        for name, run in phases.items():
            if i % every.get(name, 1):
                continue
            start = time.perf_counter()
            run(item)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def raw_lookups():
    """The index's own lookups in plain SQL: unranked (`bare`) and ranked (`ranked`), ten ids."""
    from django.db import connection

    from omnichannel.knowledge.search import (
        DOCUMENT_COLUMN,
        FTS_TABLE,
        SEARCH_CONFIG,
        fts5_match,
        search_terms,
        tsquery,
    )

    if connection.vendor == "postgresql":
        where = f"FROM knowledge_article, to_tsquery('{SEARCH_CONFIG}', %s) q WHERE {DOCUMENT_COLUMN} @@ q"
        bare = f"SELECT id {where} LIMIT 10"
        ranked = f"SELECT id, ts_rank({DOCUMENT_COLUMN}, q) AS r {where} ORDER BY r DESC LIMIT 10"
        match = tsquery
    else:
        where = f"FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
        bare = f"SELECT rowid {where} LIMIT 10"
        ranked = f"SELECT rowid, rank {where} ORDER BY rank LIMIT 10"
        match = fts5_match

    def runner(sql: str):
        def run(query: str) -> list:
            with connection.cursor() as cursor:
                cursor.execute(sql, [match(search_terms(query))])
                return cursor.fetchall()

        return run

    return runner(bare), runner(ranked)


def scan(query: str) -> list:
    from django.db.models import Q

    from omnichannel.knowledge.models import Article

    condition = Q()
    for word in query.split():
        condition &= Q(title__icontains=word) | Q(keywords__icontains=word) | Q(body__icontains=word)
    return list(Article.objects.filter(condition, published=True).values_list("id", flat=True)[:10])


def tab_client():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from omnichannel.conversations.roles import AGENT, ensure_roles

    ensure_roles()
    user = get_user_model().objects.create_user(username="bench-agent", password="x")
    user.groups.add(Group.objects.get(name=AGENT))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def tab(client, url: str, query: str) -> None:
    response = client.get(url, {"q": query}, headers={"HX-Request": "true", "HX-Target": "kb-results-home"})
    assert response.status_code == 200, response.status_code


def run_backend(args) -> dict:
    configure(PG_KNOWLEDGE_URL if args.backend == "pg" else SQLITE_URL)
    from django.urls import reverse

    from omnichannel.knowledge.search import article_search

    seed(args.articles)
    asked = queries(args.queries)
    bare, ranked = raw_lookups()
    client = tab_client()
    url = reverse("sessions_app:knowledge_search")
    for query in asked[:20]:  # warm caches and connections alike for every phase
        bare(query), ranked(query), article_search(query=query), scan(query)
    phases = {
        "bare": bare,
        "ranked": ranked,
        "search": lambda q: article_search(query=q),
        "tab": lambda q: tab(client, url, q),
        "scan": scan,
    }
    results = timed(phases, asked, every={"scan": 5})
    found = sum(1 for q in asked if article_search(query=q))
    out = {"backend": args.backend, "articles": args.articles, "queries": len(asked), "queries_with_results": found}
    for name, times in results.items():
        out[f"{name}_p50_ms"] = round(percentile(times, 50), 3)
        out[f"{name}_p99_ms"] = round(percentile(times, 99), 3)
    out["ratio"] = round(out["search_p99_ms"] / out["bare_p99_ms"], 2)
    out["ratio_to_ranked"] = round(out["search_p99_ms"] / out["ranked_p99_ms"], 2)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench knowledge")
    parser.add_argument("--backend", choices=["pg", "sqlite"])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.backend:
        print(json.dumps(run_backend(args)))
        return
    results = {}
    for backend in ("sqlite", "pg"):
        out = subprocess.run(
            [sys.executable, "-m", "bench", "knowledge", "--backend", backend, "--articles", str(args.articles)]
            + ["--queries", str(args.queries)],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        if out.returncode:
            sys.exit(out.stderr)
        results[backend] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{backend}: {results[backend]}", flush=True)
    lite, pg = results["sqlite"], results["pg"]
    print(
        json.dumps(
            {
                "articles": args.articles,
                "search_p99_ms": lite["search_p99_ms"],
                "bare_p99_ms": lite["bare_p99_ms"],
                "ratio": lite["ratio"],
                "ranked_p99_ms": lite["ranked_p99_ms"],
                "ratio_to_ranked": lite["ratio_to_ranked"],
                "tab_p99_ms": lite["tab_p99_ms"],
                "scan_p99_ms": lite["scan_p99_ms"],
                "pg_search_p99_ms": pg["search_p99_ms"],
                "pg_bare_p99_ms": pg["bare_p99_ms"],
                "pg_ratio": pg["ratio"],
                "pg_ranked_p99_ms": pg["ranked_p99_ms"],
                "pg_ratio_to_ranked": pg["ratio_to_ranked"],
                "pg_tab_p99_ms": pg["tab_p99_ms"],
                "pg_scan_p99_ms": pg["scan_p99_ms"],
            }
        )
    )
