"""Running actions truly at once, for race tests (RT-6): each job on its own thread and
database connection, all released by one barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def run_together(jobs: list[Callable], *, refusals: tuple[type[Exception], ...] = ()) -> list:
    """Each job's result, in order; a job that raised one of `refusals` gives the exception."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait()
            return job()
        except refusals as refused:
            return refused
        finally:
            connection.close()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))
