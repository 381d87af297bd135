"""The committed JSON schema never goes stale; the engine never imports Django."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine_helpers import rule, rules, snapshot

from flowdesk.engine import ACTIONS, CONDITION_OPERATORS, TRIGGERS, next_due, rule_schema
from flowdesk.engine.schema import schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_generated() -> None:
    committed = (ROOT / "docs" / "rule-schema.json").read_text()
    assert committed == schema_text(), (
        "run: python -m flowdesk.engine.schema > docs/rule-schema.json"
    )


def test_schema_covers_every_handler() -> None:
    defs = rule_schema()["$defs"]
    for name in TRIGGERS.names():
        assert f"trigger.{name}" in defs
    for name in CONDITION_OPERATORS.names():
        assert defs[f"condition.{name}"]["properties"]["op"] == {"const": name}
    for name in ACTIONS.names():
        assert defs[f"action.{name}"]["properties"]["type"] == {"const": name}
    assert "from" in defs["trigger.field_changed"]["properties"]  # aliases, not python names
    json.dumps(rule_schema())


def test_importing_the_engine_loads_no_django() -> None:
    code = (
        "import sys, flowdesk.engine; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_next_due_seam_returns_none_without_time_triggers() -> None:
    import datetime as dt

    rs = rules(rule("a"))
    assert next_due(rs, snapshot(), dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) is None
