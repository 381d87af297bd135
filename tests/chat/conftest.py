"""Fixtures of the chat tests: the workspace tests' browser (tests/web/web_helpers.py), fast
password hashing and a fresh cache (rate limits)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))

from web_helpers import browser  # noqa: F401 (browser: a fixture)


@pytest.fixture(autouse=True)
def _chat_settings(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
