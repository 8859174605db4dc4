"""Loaded by pytest before Django is configured (`-p` in pyproject.toml): tests run the
settings' debug mode, which needs no SECRET_KEY, whoever starts pytest."""

import os

os.environ.setdefault("DEBUG", "1")
# Parallel workers (pytest-xdist) each have their own test database, whose conversation ids
# overlap: on a shared Redis their groups must not, or one worker's pushes reach another's.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"asgi-{worker}")
