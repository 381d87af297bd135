"""The knowledge-base fixtures (their helpers: kb_helpers)."""

from __future__ import annotations

import pytest

from api_helpers import Desk


@pytest.fixture
def kb(desk: Desk) -> Desk:
    assert desk.admin.post("/kb/categories", {"slug": "account", "name": "Account"}).status == 201
    assert desk.admin.post("/kb/categories", {"slug": "orders", "name": "Orders"}).status == 201
    return desk
