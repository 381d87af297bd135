"""The studio's tests reuse the workspace's desk (tests/web/web_helpers.py) and its fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
if str(WEB) not in sys.path:
    sys.path.insert(0, str(WEB))

_spec = importlib.util.spec_from_file_location("web_conftest", WEB / "conftest.py")
assert _spec is not None
assert _spec.loader is not None
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

_fast_passwords = _web._fast_passwords
_clear_login_failures = _web._clear_login_failures
web = _web.web
