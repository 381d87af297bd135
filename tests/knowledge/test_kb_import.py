"""`flowdesk kb import FILE`: YAML or JSON, all or nothing, problems named by item and field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from kb_helpers import anonymous

from api_helpers import Desk

KB = """\
categories:
  - {slug: account, name: Account access, position: 1}
  - {slug: passwords, name: Passwords, parent: account}
articles:
  - slug: reset-password
    category: passwords
    visibility: public
    translations:
      en: {title: Reset your password, body: "Click **Forgot password**."}
      fil: {title: Paano i-reset ang password, body: "Pindutin ang **Forgot password**."}
  - slug: agent-notes
    category: account
    visibility: internal
    translations:
      en: {title: Notes for agents}
"""


def _import(path: Path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("kb", "import", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_then_update(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(KB, encoding="utf-8")
    out, _ = _import(path)
    assert "2 categories created" in out
    assert "2 articles created" in out
    assert "3 translations written" in out
    r = anonymous().get("/kb/search", q="paano", lang="fil")
    assert [h["slug"] for h in r.data["items"]] == ["reset-password"]
    assert anonymous().get("/kb/articles/agent-notes").status == 404
    assert desk.agent.get("/kb/articles/agent-notes").status == 200
    # The same file again updates; JSON works too.
    data = {
        "articles": [
            {
                "slug": "agent-notes",
                "category": "account",
                "visibility": "public",
                "translations": {"en": {"title": "Notes for everyone", "body": ""}},
            }
        ]
    }
    path.with_suffix(".json").write_text(json.dumps(data), encoding="utf-8")
    out, _ = _import(path.with_suffix(".json"))
    assert "0 articles created, 1 updated" in out
    assert anonymous().get("/kb/articles/agent-notes").data["translations"][0]["title"] == (
        "Notes for everyone"
    )


def test_bad_file_changes_nothing_and_names_item_and_field(desk: Desk, tmp_path: Path) -> None:
    bad = (
        KB.replace("parent: account", "parent: acount")
        .replace("title: Paano i-reset ang password", "title: ''")
        .replace("visibility: internal", "visibility: secret\n    colour: red")
        .replace("      en: {title: Notes for agents}", "      de: {title: Notizen}")
    )
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match=r"5 problem\(s\); nothing was changed"):
        call_command("kb", "import", str(path), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    # Categories named in the file count as known to its articles, even an invalid one.
    assert set(lines) == {
        "categories[1] (passwords).parent: no category 'acount' above this one",
        "articles[0] (reset-password).translations.fil.title: must not be blank",
        "articles[1] (agent-notes).colour: unknown field",
        "articles[1] (agent-notes).visibility: must be one of draft, internal, public",
        "articles[1] (agent-notes).translations.de: unknown language; one of en, fil",
    }
    assert desk.admin.get("/kb/categories").data == []
    assert desk.admin.get("/kb/articles").data["count"] == 0
    path.write_text("articles: [1, {slug: x}]\nextra: 1\n", encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("kb", "import", str(path), stdout=StringIO(), stderr=err)
    assert set(err.getvalue().splitlines()) == {
        f"{path}.extra: unknown field",
        "articles[0]: must be a mapping",
        "articles[1] (x).category: required text",
        "articles[1] (x).translations: needs at least one language",
    }
    path.write_text("articles: [\n", encoding="utf-8")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("kb", "validate", str(path), stdout=StringIO(), stderr=StringIO())


def test_validate_stores_nothing(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(KB, encoding="utf-8")
    out = StringIO()
    call_command("kb", "validate", str(path), stdout=out)
    assert "valid; would write 2 categories created" in out.getvalue()
    assert desk.admin.get("/kb/categories").data == []


@pytest.mark.slow
def test_the_flowdesk_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "flowdesk.config.settings",
    }
    exe = str(Path(sys.executable).with_name("flowdesk"))
    (tmp_path / "kb.yaml").write_text(KB, encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], env=env, cwd=tmp_path, text=True, capture_output=True, check=False
        )

    assert run("migrate").returncode == 0
    r = run("kb", "import", "kb.yaml")
    assert r.returncode == 0, r.stderr
    assert "imported kb.yaml" in r.stdout
    r = run("kb", "list")
    assert r.stdout.splitlines() == [
        "agent-notes\tinternal\taccount\ten",
        "reset-password\tpublic\tpasswords\ten,fil",
    ]
    (tmp_path / "bad.yaml").write_text("articles: [{slug: Bad}]\n", encoding="utf-8")
    r = run("kb", "import", "bad.yaml")
    assert r.returncode == 1
    assert "articles[0] (Bad).slug: must be lowercase letters" in r.stderr
