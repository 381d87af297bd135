"""`flowdesk calendars ...` and `flowdesk sla policies ...`, run as real subprocesses against
their own SQLite database: import, export (which loads back to the same), and a bad file that
changes nothing and names file, line, path and suggestion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CALENDARS = """\
calendars:
  - name: Manila
    default: true
    time_zone: Asia/Manila
    weekly:
      mon: [{start: "08:00", end: "12:00"}, {start: "13:00", end: "17:00"}]
      tue: [{start: "08:00", end: "17:00"}]
    holidays: {country: PH}
  - name: Berlin
    teams: [Tier 2]
    time_zone: Europe/Berlin
    weekly:
      mon: [{start: "09:00", end: "17:00"}]
    holidays: {country: DE, subdivision: BE}
    closed_dates: ["2025-12-24"]
"""

POLICIES = """\
policies:
  - name: Enterprise
    calendar: Berlin
    conditions: {all: [{field: organization.tier, op: is, value: enterprise}]}
    targets: {first_reply: {urgent: 1h}}
  - name: Default
    targets: {resolution: 3d}
"""


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
    tmp = tmp_path_factory.mktemp("calendars-cli")
    r = _flowdesk(tmp, "demo", "--tickets", "2")
    assert r.returncode == 0, r.stderr
    return tmp


def test_calendars_import_export_roundtrip(seeded: Path) -> None:
    path = seeded / "calendars.yaml"
    path.write_text(CALENDARS)
    r = _flowdesk(seeded, "calendars", "validate", str(path))
    assert r.returncode == 0, r.stderr
    assert "valid, 2 calendar(s)" in r.stdout
    r = _flowdesk(seeded, "calendars", "import", str(path))
    assert r.returncode == 0, r.stderr
    assert f"imported {path}:" in r.stdout
    r = _flowdesk(seeded, "calendars", "list")
    assert "Berlin\tEurope/Berlin\t\tTier 2" in r.stdout
    assert "Manila\tAsia/Manila\tdefault\t" in r.stdout
    out = seeded / "export.yaml"
    assert _flowdesk(seeded, "calendars", "export", str(out)).returncode == 0
    first = out.read_text()
    assert "subdivision: BE" in first
    r = _flowdesk(seeded, "calendars", "import", str(out))
    assert r.returncode == 0, r.stderr
    assert "2 unchanged" in r.stdout
    r = _flowdesk(seeded, "calendars", "export")
    assert r.stdout == first


def test_bad_calendars_file_changes_nothing(seeded: Path) -> None:
    before = _flowdesk(seeded, "calendars", "export").stdout
    bad = CALENDARS.replace('tue: [{start: "08:00"', 'tue: [{start: "8h"').replace(
        "teams: [Tier 2]", "teams: [Tier 3]"
    )
    bad = bad.replace("  - name: Berlin\n", "  - name: Berlin\n    wekly: {}\n")
    path = seeded / "bad.yaml"
    path.write_text(bad)
    r = _flowdesk(seeded, "calendars", "import", str(path))
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert f'{path}:7: calendars[0].weekly.tue[0].start: "8h" is not a time (HH:MM)' in lines
    assert f"{path}:10: calendars[1].wekly: unknown key (did you mean 'weekly'?)" in lines
    assert (
        f"{path}:11: calendars[1].teams[0]: \"Tier 3\" is not a team (did you mean 'Tier 2'?)"
        in lines
    )
    assert "invalid calendars: 3 problem(s); nothing was changed" in r.stderr
    assert _flowdesk(seeded, "calendars", "export").stdout == before


def test_policies_import_export_and_bad_file(seeded: Path) -> None:
    path = seeded / "policies.yaml"
    path.write_text(POLICIES)
    r = _flowdesk(seeded, "sla", "policies", "import", str(path))
    assert r.returncode == 0, r.stderr
    assert "2 SLA policies" in r.stdout
    r = _flowdesk(seeded, "sla", "policies", "list")
    assert r.stdout.splitlines() == ["0\tEnterprise\tBerlin", "1\tDefault\t(ticket's calendar)"]
    exported = _flowdesk(seeded, "sla", "policies", "export").stdout
    r = _flowdesk(seeded, "sla", "policies", "import", "-", stdin=exported)
    assert r.returncode == 0, r.stderr
    assert _flowdesk(seeded, "sla", "policies", "export").stdout == exported
    bad = seeded / "bad-policies.yaml"
    bad.write_text(POLICIES.replace("calendar: Berlin", "calendar: Berln"))
    r = _flowdesk(seeded, "sla", "policies", "import", str(bad))
    assert r.returncode == 1
    assert (
        f'{bad}:3: policies[0].calendar: "Berln" is not a stored calendar '
        "(did you mean 'Berlin'?)"
    ) in r.stderr.splitlines()
    assert _flowdesk(seeded, "sla", "policies", "export").stdout == exported
    # A calendar a policy names cannot be left out of a calendars import.
    only_manila = seeded / "only-manila.yaml"
    only_manila.write_text(CALENDARS.split("  - name: Berlin")[0])
    r = _flowdesk(seeded, "calendars", "import", str(only_manila))
    assert r.returncode == 1
    assert "calendar 'Berlin' is left out but SLA policies 'Enterprise' use it" in r.stderr
