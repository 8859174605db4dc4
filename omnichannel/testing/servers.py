"""Real servers for tests: daphne processes serving the test database, as in production."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

from django.conf import settings


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL for the database Django is connected to (the test database, in tests)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def daphne_server(
    *,
    database: str,
    env: dict[str, str] | None = None,
    worker: bool = True,
    timeout: float = 30,
    started: Callable[[subprocess.Popen], None] | None = None,
) -> Iterator[str]:
    """Start `manage.py serve` (daphne, with the in-process worker unless told not to) on a
    free port; yield its base URL. `started` receives the process, for tests that kill it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), *([] if worker else ["--no-worker"])],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database, **(env or {})},
    )
    base_url = f"http://127.0.0.1:{port}"
    if started is not None:
        started(process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited with {process.returncode} before serving")
            try:
                urllib.request.urlopen(f"{base_url}/login/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
