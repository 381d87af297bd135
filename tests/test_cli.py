"""The `flowdesk` console command, run as a real subprocess against its own SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowdesk.demo.seed import demo_rules_yaml

pytestmark = pytest.mark.slow


def _flowdesk(tmp: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": f"sqlite:///{tmp / 'cli.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "flowdesk.config.settings",
    }
    exe = Path(sys.executable).with_name("flowdesk")
    return subprocess.run(
        [str(exe), *args],
        env=env,
        cwd=tmp,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    assert _flowdesk(tmp, "migrate", "-v0").returncode == 0
    r = _flowdesk(tmp, "demo", "--tickets", "12")
    assert r.returncode == 0, r.stderr
    assert "seeded 12 tickets" in r.stdout
    assert "fd_" in r.stdout
    return tmp


def test_validate_import_export_roundtrip(seeded: Path) -> None:
    rules = seeded / "rules.yaml"
    rules.write_text(demo_rules_yaml())
    r = _flowdesk(seeded, "rules", "validate", str(rules))
    assert r.returncode == 0, r.stderr
    assert "valid, 8 rules" in r.stdout, r.stderr
    r = _flowdesk(seeded, "rules", "import", str(rules), "--comment", "again")
    assert r.returncode == 0, r.stderr
    assert "as v2" in r.stdout, r.stderr
    out = seeded / "export.yaml"
    assert _flowdesk(seeded, "rules", "export", "-o", str(out)).returncode == 0
    r = _flowdesk(seeded, "rules", "validate", str(out))
    assert r.returncode == 0
    assert "valid, 8 rules" in r.stdout
    r = _flowdesk(seeded, "rules", "versions")
    assert r.stdout.splitlines()[0].startswith("v2")


def test_invalid_rules_name_file_rule_line_and_change_nothing(seeded: Path) -> None:
    bad = seeded / "bad.yaml"
    bad.write_text(
        "version: 1\nrules:\n  - name: r1\n    triggers: [created]\n"
        "    condtions: {all: []}\n    actions: [{type: set_priority, value: urgnet}]\n"
    )
    before = _flowdesk(seeded, "rules", "versions").stdout
    r = _flowdesk(seeded, "rules", "import", str(bad))
    assert r.returncode != 0
    assert f"{bad}:5" in r.stderr
    assert "condtions" in r.stderr
    assert "conditions" in r.stderr
    assert "urgnet" in r.stderr
    assert "urgent" in r.stderr
    assert "rule 'r1'" in r.stderr
    assert "nothing was changed" in r.stderr
    assert _flowdesk(seeded, "rules", "versions").stdout == before
    r = _flowdesk(seeded, "rules", "validate", str(seeded / "missing.yaml"))
    assert r.returncode != 0
    assert "no such file" in r.stderr


def test_explain_and_dry_run(seeded: Path) -> None:
    r = _flowdesk(seeded, "rules", "explain", "1")
    assert r.returncode == 0, r.stderr
    assert "ticket #1" in r.stdout
    assert "fired" in r.stdout
    r = _flowdesk(seeded, "rules", "explain", "1", "--json")
    data = json.loads(r.stdout)
    assert data["ticket_id"] == 1
    assert data["rules"]
    r = _flowdesk(seeded, "rules", "dry-run", "--ticket", "1", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["ruleset"].startswith("v")
    snap = seeded / "snap.json"
    snap.write_text(
        json.dumps(
            {
                "subject": "refund now",
                "status": "new",
                "priority": "normal",
                "channel": "email",
                "tags": [],
                "organization.tier": "free",
            }
        )
    )
    r = _flowdesk(seeded, "rules", "dry-run", "--snapshot", str(snap))
    assert r.returncode == 0, r.stderr
    assert "tag-billing" in r.stdout, r.stderr
    r = _flowdesk(seeded, "rules", "dry-run", "--ticket", "1", "--event", "{nope")
    assert r.returncode != 0
    assert "--event: invalid JSON" in r.stderr
    r = _flowdesk(seeded, "rules", "explain", "9999")
    assert r.returncode != 0
    assert "no update" in r.stderr


def test_token_and_worker(seeded: Path) -> None:
    r = _flowdesk(seeded, "token", "create", "admin@flowdesk.localhost")
    assert r.returncode == 0
    assert r.stdout.startswith("fd_")
    assert _flowdesk(seeded, "token", "create", "nobody@x").returncode != 0
    r = _flowdesk(seeded, "worker", "--batch")
    assert r.returncode == 0, r.stderr
