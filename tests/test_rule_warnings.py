"""Static checks reach the admin: `flowdesk rules validate` and the API report warnings with
their line, and never block an import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api_helpers import Desk

RULES = """version: 1
rules:
  - name: contradiction
    triggers: [created]
    conditions:
      all:
        - {field: priority, op: is, value: high}
        - {field: priority, op: is, value: low}
    actions: [{type: add_tags, tags: [never]}]
  - name: first
    triggers: [created]
    actions: [{type: set_priority, value: high}]
  - name: second
    triggers: [created]
    actions: [{type: set_priority, value: low}]
"""


def test_api_reports_warnings_with_lines_and_imports_anyway(desk: Desk) -> None:
    r = desk.agent.post("/rules/validate", {"yaml": RULES, "source": "rules.yaml"})
    assert r.status == 200, r
    assert r.data["valid"] is True, r
    by_code = {w["code"]: w for w in r.data["warnings"]}
    assert set(by_code) == {"never-matches", "always-overwritten"}
    never = by_code["never-matches"]
    assert never["rule"] == "contradiction"
    assert never["line"] == 6
    assert "cannot both hold" in never["message"]
    assert never["text"].startswith("rules.yaml:6: warning: rule 'contradiction'")
    assert by_code["always-overwritten"]["rule"] == "first"
    imported = desk.admin.post("/rules", {"yaml": RULES, "source": "rules.yaml"})
    assert imported.status == 201
    assert len(imported.data["warnings"]) == 2
    clean = desk.agent.post("/rules/validate", {"yaml": "rules: []"})
    assert clean.data["warnings"] == []


def test_cli_prints_warnings_and_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "flowdesk.config.settings",
    }
    exe = str(Path(sys.executable).with_name("flowdesk"))
    subprocess.run([exe, "migrate", "-v0"], env=env, cwd=tmp_path, check=True, timeout=120)
    run = subprocess.run(
        [exe, "rules", "validate", str(path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert f"{path}:6: warning: rule 'contradiction'" in run.stdout
    assert "valid, 3 rules, 2 warning(s)" in run.stdout
