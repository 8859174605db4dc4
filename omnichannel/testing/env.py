"""Loaded by pytest before Django is configured (`-p` in pyproject.toml): tests run the
settings' debug mode, which needs no SECRET_KEY, whoever starts pytest."""

import os

os.environ.setdefault("DEBUG", "1")
