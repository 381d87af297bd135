"""The rule studio's pages through the Django test client: who may do what, and that every
page answers what the API's services answer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape
from studio_helpers import MORE, RULES, TYPO, TYPO_LINE, editor_post, store

from web_helpers import WebDesk, ticket

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _counts() -> tuple[int, ...]:
    from flowdesk.automation.models import RuleSetVersion
    from flowdesk.tickets.models import Ticket, TicketEvent, TicketUpdate

    models = (RuleSetVersion, Ticket, TicketUpdate, TicketEvent)
    return tuple(m.objects.count() for m in models)


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- who ---------------------------------------------------------------------------------------


def test_anonymous_users_go_to_sign_in_and_customers_are_refused(web: WebDesk) -> None:
    store(RULES)
    for url in ("/studio/", "/studio/edit", "/studio/diff", "/studio/flowchart"):
        r = Client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login?next="), url
        assert _client(web.cora).get(url).status_code == 403, url
    assert Client().post("/studio/versions/1/restore").status_code == 302
    assert _client(web.cora).post("/studio/versions/1/restore").status_code == 403


def test_agents_read_validate_and_dry_run_but_never_write(web: WebDesk) -> None:
    store(RULES)
    agent = _client(web.alice)
    page = agent.get("/studio/")
    assert page.status_code == 200
    assert "enterprise-first" in page.content.decode()
    assert "restore…" not in page.content.decode()
    editor = agent.get("/studio/edit").content.decode()
    assert 'value="save"' not in editor
    assert 'value="validate"' in editor
    assert editor_post(agent, "validate", MORE).status_code == 200
    before = _counts()
    assert editor_post(agent, "save", MORE).status_code == 403
    assert editor_post(agent, "backtest", MORE).status_code == 403
    assert agent.post("/studio/versions/1/restore").status_code == 403
    assert agent.get("/studio/versions/1/restore").status_code == 403
    assert _counts() == before


def test_the_nav_links_admins_to_the_studio(web: WebDesk) -> None:
    assert 'href="/studio/"' in _client(web.admin).get("/agent/").content.decode()
    assert 'href="/studio/"' not in _client(web.alice).get("/agent/").content.decode()


# --- the editor --------------------------------------------------------------------------------


def test_validate_shows_the_import_errors_next_to_their_lines(web: WebDesk) -> None:
    from flowdesk.automation import services
    from flowdesk.engine import RuleSetError

    with pytest.raises(RuleSetError) as raised:
        services.validate_yaml(TYPO, "rules.yaml")
    issue = raised.value.issues[0]
    assert issue.line == TYPO_LINE
    r = editor_post(_client(web.admin), "validate", TYPO)
    assert r.status_code == 422
    page = r.content.decode()
    text = _text(r)
    # the same message as the API and the CLI (file:line, rule, path, suggestion) ...
    assert str(issue).replace("'", "&#x27;") in page
    assert f"rules.yaml:{TYPO_LINE}" in page
    assert "did you mean" in page
    # ... and in the numbered listing, on its line
    row = re.search(rf'<div class="ln-row has-issue" id="L{TYPO_LINE}">(.*?)</div>', page, re.S)
    assert row is not None
    assert "organisation.tier" in row.group(1)
    assert f"error on line {TYPO_LINE}" in row.group(1)
    assert f'href="#L{TYPO_LINE}"' in text


def _alert(r: Any) -> str:
    found = re.search(
        r'<div class="alert alert-error" role="alert"><p>(.*?)</p>', r.content.decode()
    )
    return found.group(1) if found else ""


def test_the_editor_in_filipino_keeps_the_engines_messages_in_their_frame(web: WebDesk) -> None:
    """The frame is translated; what the engine says (rule, path, suggestion) stays as it is."""
    from flowdesk.accounts.services import do_set_language

    do_set_language(web.admin, "fil")
    client = _client(web.admin)
    r = editor_post(client, "save", TYPO, comment="oops")
    assert r.status_code == 422
    page = r.content.decode()
    assert '<html lang="fil"' in page
    assert "1 problema; walang na-save." in page
    row = re.search(rf'<div class="ln-row has-issue" id="L{TYPO_LINE}">(.*?)</div>', page, re.S)
    assert row is not None
    assert f"error sa linya {TYPO_LINE}:" in row.group(1)
    assert "“organization.tier” ba ang ibig mong sabihin?" in row.group(1)
    assert "rule na “enterprise-first”" in row.group(1)
    r = editor_post(client, "save", RULES, comment="ok")
    assert r.status_code == 302
    assert "Na-save bilang bersyon 1." in client.get("/studio/").content.decode()
    r = editor_post(_client(web.alice), "save", RULES)  # an English agent
    assert (r.status_code, "Only admins may save a rule set.") == (403, _alert(r))


def test_a_broken_save_stores_nothing_and_keeps_the_text(web: WebDesk) -> None:
    store(RULES)
    before = _counts()
    r = editor_post(_client(web.admin), "save", TYPO, comment="oops")
    assert r.status_code == 422
    assert _counts() == before
    assert "organisation.tier" in r.content.decode().split("</textarea>")[0]
    assert "nothing was saved" in r.content.decode()


def test_save_creates_a_version_with_author_and_comment(web: WebDesk) -> None:
    from flowdesk.automation import services

    store(RULES)
    admin = _client(web.admin)
    r = editor_post(admin, "save", MORE, comment="tag invoices")
    assert r.status_code == 302
    assert r["Location"] == "/studio/"
    v = services.active_version()
    assert v is not None
    assert v.number == 2
    assert (v.author, v.comment, v.source_text) == (web.admin, "tag invoices", MORE)
    page = admin.get("/studio/").content.decode()
    assert "Saved as version 2." in page
    assert "tag-invoices" in page
    assert "tag invoices" in page


def test_the_editor_starts_from_the_active_or_a_chosen_version(web: WebDesk) -> None:
    store(RULES)
    store(MORE)
    admin = _client(web.admin)
    assert "tag-invoices" in admin.get("/studio/edit").content.decode()
    assert "tag-invoices" not in admin.get("/studio/edit?from=1").content.decode()


# --- versions, restore, diff -------------------------------------------------------------------


def test_history_lists_versions_and_restore_asks_then_stores_a_new_version(web: WebDesk) -> None:
    from flowdesk.automation import services

    store(RULES, author=web.admin, comment="first")
    store(MORE, author=web.admin, comment="second")
    admin = _client(web.admin)
    page = _text(admin.get("/studio/"))
    assert "v2" in page
    assert "second" in page
    assert "first" in page
    assert "admin@desk.test" in page
    assert 'href="/studio/versions/1/restore"' in page
    confirm = admin.get("/studio/versions/1/restore")
    assert confirm.status_code == 200
    assert "Restore version 1" in confirm.content.decode()
    assert services.active_version().number == 2  # type: ignore[union-attr]
    r = admin.post("/studio/versions/1/restore")
    assert r.status_code == 302
    v = services.active_version()
    assert v is not None
    assert (v.number, v.restored_from, v.author) == (3, 1, web.admin)
    assert "Version 1 restored as version 3." in admin.get("/studio/").content.decode()
    assert admin.post("/studio/versions/99/restore").status_code == 404


def test_restore_needs_the_csrf_token(web: WebDesk) -> None:
    store(RULES)
    store(MORE)
    c = Client(enforce_csrf_checks=True)
    c.force_login(web.admin)
    assert c.post("/studio/versions/1/restore").status_code == 403


def test_diff_colours_lines_and_summarises_rules(web: WebDesk) -> None:
    store(RULES)
    store(MORE.replace("value: urgent}\n  - name: urgent", "value: high}\n  - name: urgent"))
    admin = _client(web.admin)
    r = admin.get("/studio/diff?a=1&b=2")
    assert r.status_code == 200
    page = r.content.decode()
    assert '<span class="d-add">' in page
    assert '<span class="d-del">' in page
    assert "+- name: tag-invoices" in page
    summary = _text(r).split("Unified diff")[0]
    assert re.search(r"added</span> tag-invoices", summary)
    assert re.search(r"changed</span> enterprise-first", summary)
    assert admin.get("/studio/diff?a=1&b=9").status_code == 404
    assert admin.get("/studio/diff?a=1").status_code == 422


def test_version_page_shows_the_yaml(web: WebDesk) -> None:
    store(RULES)
    r = _client(web.alice).get("/studio/versions/1")
    assert r.status_code == 200
    assert "urgent-to-tier2" in r.content.decode()


# --- flowcharts --------------------------------------------------------------------------------


def test_flowcharts_carry_the_text_definition_and_the_vendored_mermaid(web: WebDesk) -> None:
    from flowdesk.automation.studio import flowchart

    store(RULES)
    agent = _client(web.alice)
    page = agent.get("/studio/flowchart").content.decode()
    chart = flowchart(None, None)
    assert chart["edges"], "enterprise-first -> urgent-to-tier2 is a cascade"
    assert escape(chart["mermaid"]) in page
    assert "/static/vendor/mermaid/mermaid.min.js" in page
    assert "cdn" not in page.lower()
    one = agent.get("/studio/flowchart?rule=urgent-to-tier2")
    assert one.status_code == 200
    assert escape(flowchart(None, "urgent-to-tier2")["mermaid"]) in one.content.decode()
    assert "enterprise-first" in _text(one).split("Cascades")[1]
    assert agent.get("/studio/flowchart?rule=nope").status_code == 404


def test_flowchart_script_uses_strict_security_and_no_html_labels() -> None:
    from pathlib import Path

    import flowdesk.studio

    js = (Path(flowdesk.studio.__file__).parent / "static/studio/flowchart.js").read_text()
    assert 'securityLevel: "strict"' in js
    assert js.count("htmlLabels: false") == 2


# --- dry run and backtest ----------------------------------------------------------------------


def test_dry_run_of_unsaved_yaml_on_a_ticket_writes_nothing(web: WebDesk) -> None:
    store(RULES)
    t = ticket(web, "Invoice is wrong")
    before = _counts()
    r = editor_post(_client(web.carol), "dryrun", MORE, ticket_id=str(t.pk))  # Tier 2's
    assert r.status_code == 200, _text(r)[-2000:]
    assert _counts() == before
    fired = _text(r).split("Would fire, in this order")[1].split("</ol>")[0]
    names = re.findall(r'<strong class="rule-name">([^<]+)</strong>', fired)
    assert names == ["enterprise-first", "urgent-to-tier2", "tag-invoices"]
    assert "Dry run of candidate" in _text(r)
    # the unsaved text stays in the editor
    assert "tag-invoices" in r.content.decode().split("</textarea>")[0]


def test_dry_run_on_a_pasted_snapshot_and_of_the_active_set(web: WebDesk) -> None:
    store(RULES)
    snapshot = json.dumps({"subject": "invoice", "priority": "urgent"})
    r = editor_post(_client(web.alice), "dryrun", MORE, snapshot=snapshot, candidate="active")
    assert r.status_code == 200, _text(r)[-2000:]
    text = _text(r)
    assert "Dry run of v1 on the snapshot" in text
    fired = text.split("Would fire, in this order")[1].split("</ol>")[0]
    assert "urgent-to-tier2" in fired
    assert "tag-invoices" not in fired
    chained = {"subject": "invoice", "organization.tier": "enterprise", "priority": "normal"}
    r = editor_post(_client(web.alice), "dryrun", MORE, snapshot=json.dumps(chained))
    assert r.status_code == 200, _text(r)[-2000:]
    fired = _text(r).split("Would fire, in this order")[1].split("</ol>")[0]
    assert "chain: because of enterprise-first" in fired


def test_dry_run_errors_keep_the_text(web: WebDesk) -> None:
    store(RULES)
    agent = _client(web.alice)
    r = editor_post(agent, "dryrun", MORE)
    assert r.status_code == 422
    assert "Give a ticket id or a snapshot" in r.content.decode()
    r = editor_post(agent, "dryrun", MORE, snapshot="{nope")
    assert r.status_code == 422
    assert "not JSON" in r.content.decode()
    r = editor_post(agent, "dryrun", TYPO, snapshot="{}")  # named like the API's dry run
    assert r.status_code == 422
    assert f"dry-run:{TYPO_LINE}" in r.content.decode()
    assert f'id="L{TYPO_LINE}"' in r.content.decode()
    r = editor_post(agent, "dryrun", MORE, ticket_id="999999")
    assert r.status_code == 404
    assert "tag-invoices" in r.content.decode().split("</textarea>")[0]


def test_dry_runs_from_the_editor_count_against_the_rate_limit(
    web: WebDesk, settings: Any, monkeypatch: Any
) -> None:
    from flowdesk.core.clock import utcnow

    now = utcnow()  # one instant: the two runs fall in the same one-minute window
    monkeypatch.setattr("flowdesk.studio.editor.utcnow", lambda: now)
    settings.FLOWDESK = {**settings.FLOWDESK, "DRY_RUN_PER_MINUTE": 1}
    store(RULES)
    agent = _client(web.alice)
    assert editor_post(agent, "dryrun", MORE, snapshot="{}").status_code == 200
    r = editor_post(agent, "dryrun", MORE, snapshot="{}")
    assert r.status_code == 429
    assert "dry runs per minute" in r.content.decode()


def test_backtest_counts_per_rule_with_sample_ticket_links(web: WebDesk) -> None:
    store(RULES)
    tickets = [ticket(web, f"Invoice {i}") for i in range(3)]
    before = _counts()
    r = editor_post(_client(web.admin), "backtest", MORE, days="7")
    assert r.status_code == 200, _text(r)[-2000:]
    assert _counts() == before
    text = _text(r)
    assert "Backtest of candidate" in text
    row = re.search(r"tag-invoices</span>(.*?)</tr>", text)
    assert row is not None
    cells = re.findall(r"<td>(\d+)</td>", row.group(1))
    assert cells[:4] == ["3", "0", "3", "0"]  # would fire, fired, new, no longer
    for t in tickets:
        assert f'href="/agent/tickets/{t.pk}"' in row.group(1)
    one = editor_post(_client(web.admin), "backtest", MORE, rule="tag-invoices")
    assert one.status_code == 200
    assert "enterprise-first</span>" not in one.content.decode()


def test_with_no_rule_set_the_editor_offers_a_valid_start(web: WebDesk) -> None:
    from flowdesk.studio.editor import STARTER

    admin = _client(web.admin)
    assert "No rule set has been saved yet" in admin.get("/studio/").content.decode()
    assert escape(STARTER) in admin.get("/studio/edit").content.decode()
    assert editor_post(admin, "validate", STARTER).status_code == 200
    assert admin.get("/studio/flowchart").status_code == 404
