"""Engine tests are DB-free: nothing here touches Django."""

from __future__ import annotations

import pytest
from engine_helpers import CATALOG

from flowdesk.engine import Catalog


@pytest.fixture
def catalog() -> Catalog:
    return CATALOG
