"""Fixtures of the workspace tests: a desk whose people can sign in, fast password hashing."""

from __future__ import annotations

from typing import Any

import pytest

from web_helpers import WebDesk, browser, make_desk  # noqa: F401 (browser: a fixture)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # The default hasher is slow on purpose; these tests sign in dozens of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_login_failures() -> None:
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def web(db: Any) -> WebDesk:
    return make_desk()
