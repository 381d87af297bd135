"""`flowdesk macros ...`, run as real subprocesses against their own SQLite database: the demo's
macros, import, export (which loads back to the same), --prune, and bad files that change
nothing and name file, line, path and suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_calendars_cli import _flowdesk as flowdesk

pytestmark = pytest.mark.slow

MACROS = """\
macros:
  - name: Ask for order number
    reply:
      body: |
        Hi {{ requester.name | default("there") }},
        which order is it?
    changes: {status: pending, add_tags: [awaiting-order-number]}
  - name: Billing sign-off
    visibility: team
    team: Billing
    position: 5
    reply: {body: "Billing, {{ assignee | default(\\"the team\\") }}", public: false}
    changes: {custom_fields: {plan: pro}}
"""
DEMO = ["Ask for order number", "Refund approved — solve", "Escalate to Tier 2"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("macros-cli")
    r = flowdesk(tmp, "demo", "--tickets", "2")
    assert r.returncode == 0, r.stderr
    return tmp


def _names(tmp: Path) -> list[str]:
    r = flowdesk(tmp, "macros", "list")
    assert r.returncode == 0, r.stderr
    return [line.split("\t")[1] for line in r.stdout.splitlines()]


def test_demo_macros_export_and_import_back_unchanged(seeded: Path) -> None:
    assert _names(seeded)[:3] == DEMO
    exported = flowdesk(seeded, "macros", "export").stdout
    assert "visibility: team\n  team: Billing" in exported
    assert "body: |" in exported  # a reply is a literal block, as written
    r = flowdesk(seeded, "macros", "import", "-", stdin=exported)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "imported <stdin>: 4 unchanged"
    assert flowdesk(seeded, "macros", "export").stdout == exported


def test_import_creates_replaces_and_prunes(seeded: Path) -> None:
    before = flowdesk(seeded, "macros", "export").stdout
    path = seeded / "macros.yaml"
    path.write_text(MACROS)
    r = flowdesk(seeded, "macros", "validate", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{path}: valid, 2 macro(s)"
    assert flowdesk(seeded, "macros", "export").stdout == before  # validate stores nothing
    r = flowdesk(seeded, "macros", "import", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"imported {path}: 1 created, 1 updated"
    assert _names(seeded)[:2] == ["Ask for order number", "Billing sign-off"]  # by position
    r = flowdesk(seeded, "macros", "import", "--prune", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"imported {path}: 2 unchanged, 3 deleted"
    assert sorted(_names(seeded)) == ["Ask for order number", "Billing sign-off"]
    exported = flowdesk(seeded, "macros", "export").stdout
    assert "which order is it?" in exported
    r = flowdesk(seeded, "macros", "import", "--prune", "-", stdin=before)  # the demo again
    assert r.returncode == 0, r.stderr
    assert flowdesk(seeded, "macros", "export").stdout == before


def test_bad_file_names_line_path_and_suggestion_and_changes_nothing(seeded: Path) -> None:
    before = flowdesk(seeded, "macros", "export").stdout
    bad = (
        MACROS.replace("status: pending", "status: pendng")
        .replace("team: Billing", "team: Biling")
        .replace("{{ assignee", "{{ asignee")
        .replace("    position: 5\n", "    positon: 5\n")
        .replace("plan: pro", "plan: gold")
    )
    bad += "  - name: ask for ORDER number\n"
    path = seeded / "bad.yaml"
    path.write_text(bad)
    r = flowdesk(seeded, "macros", "import", "--prune", str(path))
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert (
        f"{path}:7: macros[0].changes.status: 'pendng' is not a valid status (allowed: new, "
        "open, pending, on-hold, solved, closed) (did you mean 'pending'?)"
    ) in lines
    assert f"{path}:11: macros[1].positon: unknown key (did you mean 'position'?)" in lines
    assert f"{path}:14: macros[2].name: 'ask for ORDER number' is already macros[0]" in lines
    assert lines[-1] == "CommandError: invalid macros: 3 problem(s); nothing changed"
    # What depends on the desk is checked once an entry's shape is right: fix line 11.
    r = flowdesk(seeded, "macros", "validate", "-", stdin=bad.replace("positon", "position"))
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert "<stdin>:10: macros[1].team: no team named 'Biling' (did you mean 'Billing'?)" in lines
    assert (
        "<stdin>:12: macros[1].reply.body: unknown placeholder {{ asignee }} "
        "(did you mean 'assignee'?)"
    ) in lines
    assert any(
        line.startswith("<stdin>:13: macros[1].changes.custom_fields.plan: ") for line in lines
    )
    assert flowdesk(seeded, "macros", "export").stdout == before


def test_yaml_syntax_error_and_missing_list(seeded: Path) -> None:
    r = flowdesk(seeded, "macros", "import", "-", stdin="macros:\n  - name: [unclosed\n")
    assert r.returncode == 1
    assert r.stderr.startswith("<stdin>:")
    assert "YAML syntax error" in r.stderr
    r = flowdesk(seeded, "macros", "validate", "-", stdin="macro: []\n")
    assert r.returncode == 1
    assert "<stdin>:1: macro: unknown key; expected 'macros' (did you mean 'macros'?)" in r.stderr
