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
    assert "/agent/chats/try" in r.stdout  # where to try the demo chat site
    assert "fd_" in r.stdout
    return tmp


def test_validate_import_export_roundtrip(seeded: Path) -> None:
    rules = seeded / "rules.yaml"
    rules.write_text(demo_rules_yaml())
    r = _flowdesk(seeded, "rules", "validate", str(rules))
    assert r.returncode == 0, r.stderr
    assert "valid, 14 rules" in r.stdout, r.stderr
    r = _flowdesk(seeded, "rules", "import", str(rules), "--comment", "again")
    assert r.returncode == 0, r.stderr
    assert "as v2" in r.stdout, r.stderr
    out = seeded / "export.yaml"
    assert _flowdesk(seeded, "rules", "export", "-o", str(out)).returncode == 0
    r = _flowdesk(seeded, "rules", "validate", str(out))
    assert r.returncode == 0
    assert "valid, 14 rules" in r.stdout
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


def _bare_flowdesk(
    cwd: Path, *args: str, data_dir: Path | None
) -> subprocess.CompletedProcess[str]:
    """flowdesk on its default database: FLOWDESK_DATA_DIR (a temporary one, never the checkout's
    var/) or, with None, the default resolution (then only commands that open nothing run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDESK_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if data_dir is not None:
        env["FLOWDESK_DATA_DIR"] = str(data_dir)
    exe = Path(sys.executable).with_name("flowdesk")
    return subprocess.run(
        [str(exe), *args], env=env, cwd=cwd, text=True, capture_output=True, timeout=120
    )


def _one_clear_line(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_a_missing_database_is_one_clear_line_and_creates_nothing(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["rules", "explain", "201"], ["rules", "versions"], ["token", "create", "a@b"]):
        r = _bare_flowdesk(elsewhere, *args, data_dir=data)
        _one_clear_line(r, str(data / "flowdesk.sqlite3"), "flowdesk migrate")
    assert not data.exists()
    assert list(elsewhere.iterdir()) == []
    # Help and checks need no database.
    assert _bare_flowdesk(elsewhere, "rules", "--help", data_dir=data).returncode == 0
    assert _bare_flowdesk(elsewhere, "check", data_dir=data).returncode == 0
    assert not data.exists()
    assert list(elsewhere.iterdir()) == []


def test_an_unmigrated_database_names_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "flowdesk.sqlite3").touch()
    r = _bare_flowdesk(tmp_path, "rules", "versions", data_dir=tmp_path)
    _one_clear_line(r, "is not migrated", "flowdesk migrate")


def test_every_directory_sees_the_same_database(tmp_path: Path) -> None:
    data, one, two = tmp_path / "data", tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    r = _bare_flowdesk(one, "demo", "--tickets", "3", data_dir=data)  # creates and migrates it
    assert r.returncode == 0, r.stderr
    assert "seeded 3 tickets" in r.stdout, r.stderr
    r = _bare_flowdesk(two, "rules", "explain", "1", data_dir=data)
    assert r.returncode == 0, r.stderr
    assert "ticket #1" in r.stdout, r.stderr
    assert list(one.iterdir()) == []
    assert list(two.iterdir()) == []


def test_the_default_data_dir_is_the_checkouts_var(tmp_path: Path) -> None:
    import flowdesk

    package = Path(flowdesk.__file__).resolve().parent
    if package.parent.name != "src":
        pytest.skip("flowdesk is not installed from a source checkout")
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.DATA_DIR)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDESK_")}
    env["DJANGO_SETTINGS_MODULE"] = "flowdesk.config.settings"
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, text=True, capture_output=True
    )
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == package.parent.parent / "var"
    assert list(tmp_path.iterdir()) == []  # importing the settings created nothing


def test_deep_nesting_is_one_clear_error(seeded: Path) -> None:
    deep = seeded / "deep.yaml"
    deep.write_text("version: 1\nrules:\n" + "".join("  " * i + "- \n" for i in range(1, 1000)))
    r = _flowdesk(seeded, "rules", "validate", str(deep))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert f"{deep}:66: nested deeper than 64 levels" in r.stderr
    snap = seeded / "deep.json"
    snap.write_text('{"subject": "x", "tags": ' + "[" * 100 + "]" * 100 + "}")
    r = _flowdesk(seeded, "rules", "dry-run", "--snapshot", str(snap))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "snapshot.tags" in r.stderr
    assert "nested deeper than 64 levels" in r.stderr
    snap.write_text('{"subject": "x", "tags": ' + "[" * 5000 + "]" * 5000 + "}")
    r = _flowdesk(seeded, "rules", "dry-run", "--snapshot", str(snap))
    _one_clear_line(r, "nested too deeply")
