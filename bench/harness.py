"""Shared set-up for benchmarks: a throwaway database per backend, Django configured for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/omnichannel_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SQLITE_URL = "sqlite:////tmp/omnichannel-bench.sqlite3"
ROOT = Path(__file__).resolve().parent.parent


def configure(database_url: str, redis_url: str = "") -> None:
    """Point Django at `database_url` (created and migrated afresh) and set it up."""
    os.environ.update(DEBUG="1", DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="omnichannel.settings")
    os.environ.pop("REDIS_URL", None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        name = database_url.rsplit("/", 1)[1]
        base = database_url.rsplit("/", 1)[0]
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env={**os.environ},
        check=True,
    )
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
