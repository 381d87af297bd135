"""The rule studio through the REST API and the CLI: flowcharts, version diffs and backtests."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from api_helpers import ADMIN, Desk
from flowdesk.core.clock import travel, utcnow
from flowdesk.demo.seed import demo_rules_yaml
from flowdesk.timers.services import fire_due

DEMO_CASCADES = {
    ("enterprise-first", "route-billing"): ["team", "tags: enterprise"],
    ("enterprise-first", "default-queue"): ["team"],
    ("enterprise-first", "urgent-unassigned-alert"): ["priority"],
    ("tag-billing", "route-billing"): ["tags: billing"],
    ("bigcorp-mail-to-tier-2", "route-billing"): ["team"],
    ("bigcorp-mail-to-tier-2", "default-queue"): ["team"],
    ("bigcorp-mail-to-tier-2", "urgent-unassigned-alert"): ["priority"],
    ("urgent-by-mail-header", "urgent-unassigned-alert"): ["priority"],
    ("route-billing", "default-queue"): ["team"],
    ("route-billing", "escalate-repeated-follow-ups"): ["team"],
    ("default-queue", "route-billing"): ["team"],
    ("reopen-on-customer-reply", "escalate-repeated-follow-ups"): ["status"],
    ("escalate-repeated-follow-ups", "route-billing"): ["team"],
    ("escalate-repeated-follow-ups", "urgent-unassigned-alert"): ["priority"],
    ("warn-before-first-reply-breach", "route-billing"): ["tags: sla-warning"],
    ("escalate-first-reply-breach", "route-billing"): ["team"],
    ("escalate-first-reply-breach", "urgent-unassigned-alert"): ["priority"],
    ("close-abandoned-pending", "route-billing"): ["tags: auto-closed"],
    ("close-abandoned-pending", "warn-before-first-reply-breach"): ["status"],
    ("close-abandoned-pending", "escalate-first-reply-breach"): ["status"],
    ("close-abandoned-pending", "remind-pending-customer"): ["status"],
    ("close-abandoned-pending", "satisfaction-survey"): ["status"],
}
TIME_RULES = {
    "warn-before-first-reply-breach",
    "escalate-first-reply-breach",
    "remind-pending-customer",
    "close-abandoned-pending",
    "satisfaction-survey",
}


def _demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(demo_rules_yaml())
    return data


def _import(desk: Desk, data: dict[str, Any] | str, source: str = "rules.yaml") -> int:
    body = {"yaml": data} if isinstance(data, str) else {"definition": data}
    r = desk.admin.post("/rules", {**body, "source": source})
    assert r.status == 201, r
    number: int = r.data["number"]
    return number


def _create(api: Any, subject: str = "Cannot log in") -> dict[str, Any]:
    r = api.post("/tickets", {"subject": subject, "body": "It spins.", "channel": "web"})
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data


def _updates(desk: Desk, ticket_id: int) -> list[int]:
    """The ids of the ticket's updates the rules evaluated (those store the engine input)."""
    rows = desk.admin.get(f"/tickets/{ticket_id}/updates").data
    return [u["id"] for u in rows if u["ruleset_version"] is not None]


# -- flowchart ----------------------------------------------------------------------------


def test_demo_flowchart_has_the_cascade_edges(demo_rules: Desk) -> None:
    r = demo_rules.agent.get("/rules/flowchart")
    assert r.status == 200, r
    chart = r.data
    assert chart["version"] == 1
    assert chart["rule"] is None
    names = [n["rule"] for n in chart["nodes"]]
    assert names == [rule["name"] for rule in _demo()["rules"]]
    assert {n["rule"] for n in chart["nodes"] if n["time"]} == TIME_RULES
    edges = {(e["from_rule"], e["to_rule"]): e["keys"] for e in chart["edges"]}
    assert edges == DEMO_CASCADES
    # A customer reply never comes with a timer event: no edge into a time rule from it.
    assert ("reopen-on-customer-reply", "warn-before-first-reply-breach") not in edges
    # tag-billing reads the subject and the message: nothing any rule writes.
    assert not [e for e in edges if e[1] == "tag-billing"]
    text = chart["mermaid"]
    assert text.startswith("flowchart TD\n")
    ids = {n["rule"]: n["id"] for n in chart["nodes"]}
    line = f'  {ids["tag-billing"]} -.->|"tags: billing"| {ids["route-billing"]}'
    assert line in text.splitlines()
    assert re.search(r"class (r\d+,?)+ time", text)


def test_one_rule_flowchart(demo_rules: Desk) -> None:
    r = demo_rules.agent.get("/rules/flowchart", rule="route-billing")
    assert r.status == 200, r
    chart = r.data
    kinds = [n["kind"] for n in chart["nodes"]]
    assert kinds.count("trigger") == 2
    assert kinds.count("group") == 1
    assert kinds.count("condition") == 3
    assert kinds.count("action") == 2
    labels = {n["label"] for n in chart["nodes"]}
    assert "tags has_any ['billing']" in labels
    assert "assign_team: team='Billing'" in labels
    match = [e for e in chart["edges"] if e["kind"] == "match"]
    assert len(match) == 1
    assert match[0]["source"] == "c0"
    assert match[0]["target"] == "a0"
    assert chart["cascades_to"] == ["default-queue", "escalate-repeated-follow-ups"]
    assert "tag-billing" in chart["cascades_from"]
    assert chart["mermaid"].startswith("flowchart LR\n")

    missing = demo_rules.agent.get("/rules/flowchart", rule="route-biling")
    assert missing.status == 404
    assert "route-billing" in missing.data["detail"]
    assert demo_rules.agent.get("/rules/flowchart", version=9).status == 404


def test_no_rule_set_yet(desk: Desk) -> None:
    assert desk.agent.get("/rules/flowchart").status == 404


HOSTILE = 'evil"] --> x["<img src=x onerror=alert(1)>" #quot; %% `md` | {b} ;\nclick r0 call'


def test_hostile_names_and_values_cannot_break_the_diagram(desk: Desk) -> None:
    data = {
        "version": 1,
        "rules": [
            {
                "name": HOSTILE,
                "triggers": ["created"],
                "conditions": {"all": [{"field": "subject", "op": "contains", "value": HOSTILE}]},
                "actions": [{"type": "add_tags", "tags": ['a"]-->b', "c<d>"]}],
            },
            {
                "name": "reader",
                "triggers": ["created"],
                "conditions": {"all": [{"field": "tags", "op": "has_any", "value": ['a"]-->b']}]},
                "actions": [{"type": "set_priority", "value": "high"}],
            },
        ],
    }
    _import(desk, data)
    for query in ({}, {"rule": HOSTILE}):
        chart = desk.agent.get("/rules/flowchart", **query).data
        text = chart["mermaid"]
        lines = text.splitlines()
        # One line per node, edge and class statement: no label spilled onto a line of its own.
        classes = sum(1 for x in lines if x.lstrip().startswith("class"))
        assert len(lines) == 1 + len(chart["nodes"]) + len(chart["edges"]) + classes
        # Inside the quotes: safe characters and entity codes only (no raw #, ; or quote).
        label = re.compile(r'"(?:[^"<>\[\]{}|`%;#\n]|#\d+;)*"')
        node = re.compile(r"^  \w+(\[|\(\[|\{|\[/|\()" + label.pattern + r"(\]|\]\)|\}|/\]|\))$")
        edge = re.compile(r"^  \w+ (-->|---|-\.->)(\|" + label.pattern + r"\|)? \w+$")
        for x in lines[1:]:
            if x.lstrip().startswith("class"):
                continue
            assert node.match(x) or edge.match(x), x
        assert "<" not in text
        assert "#quot;" not in text.replace("#35;quot;", "")
        assert "#34;" in text  # the quote, as an entity code
    chart = desk.agent.get("/rules/flowchart").data
    # JSON keeps the data as it is; only the mermaid text is escaped.
    assert chart["nodes"][0]["rule"] == HOSTILE
    assert [(e["from_rule"], e["to_rule"], e["keys"]) for e in chart["edges"]] == [
        (HOSTILE, "reader", ['tags: a"]-->b'])
    ]


# -- version diff -------------------------------------------------------------------------


def test_diff_shows_added_changed_removed_and_who(demo_rules: Desk) -> None:
    desk = demo_rules
    data = _demo()
    rules = data["rules"]
    removed = rules.pop(next(i for i, r in enumerate(rules) if r["name"] == "default-queue"))
    rules[0]["actions"][0]["value"] = "high"  # enterprise-first changed
    rules.append(
        {
            "name": "tag-login",
            "triggers": ["created"],
            "conditions": {"all": [{"field": "subject", "op": "contains", "value": "log in"}]},
            "actions": [{"type": "add_tags", "tags": ["login"]}],
        }
    )
    rules[1], rules[2] = rules[2], rules[1]  # route-billing before tag-billing
    assert _import(desk, data, source="edited.yaml") == 2
    r = desk.agent.get("/rules/versions/1/diff/2")
    assert r.status == 200, r
    d = r.data
    assert d["rules"]["added"] == ["tag-login"]
    assert d["rules"]["removed"] == [removed["name"]]
    assert d["rules"]["changed"] == ["enterprise-first"]
    assert d["rules"]["moved"] in (["route-billing"], ["tag-billing"])
    assert d["templates"] == {"added": [], "removed": [], "changed": []}
    assert d["from"]["number"] == 1
    assert d["to"]["number"] == 2
    assert d["from"]["author"] == ADMIN
    assert d["to"]["author"] == ADMIN
    assert d["to"]["source_name"] == "edited.yaml"
    assert datetime.fromisoformat(d["from"]["created_at"]) <= datetime.fromisoformat(
        d["to"]["created_at"]
    )
    diff = d["diff"].splitlines()
    assert diff[0] == "--- v1"
    assert diff[1] == "+++ v2"
    assert "-- name: default-queue" in diff
    assert "+- name: tag-login" in diff
    assert "-    value: urgent" in diff
    assert "+    value: high" in diff
    assert d["identical"] is False
    assert d["diff_truncated"] is False

    # The other way round, the same changes mirrored.
    back = desk.agent.get("/rules/versions/2/diff/1").data
    assert back["rules"]["added"] == [removed["name"]]
    assert back["rules"]["removed"] == ["tag-login"]

    # A restore is a new version with the old content: no difference, and its author.
    assert desk.admin.post("/rules/versions/1/restore").status == 201
    same = desk.agent.get("/rules/versions/1/diff/3").data
    assert same["identical"] is True
    assert same["diff"] == ""
    assert same["rules"] == {"added": [], "removed": [], "changed": [], "moved": []}
    assert same["to"]["restored_from"] == 1
    assert same["to"]["author"] == ADMIN

    assert desk.agent.get("/rules/versions/1/diff/9").status == 404
    assert desk.agent.get("/rules/versions/1/diff/2", context=1000).status == 422


# -- backtest -----------------------------------------------------------------------------

CANDIDATE = """\
version: 1
rules:
  - name: tag-login
    triggers: [created]
    conditions:
      all:
        - {field: subject, op: contains, value: log in}
    actions:
      - {type: add_tags, tags: [login]}
  - name: default-queue
    triggers: [created]
    conditions:
      all:
        - {field: team, op: blank}
    actions:
      - {type: assign_team, team: Tier 1}
"""


@pytest.fixture
def history(demo_rules: Desk) -> dict[str, Any]:
    """Three tickets created through the API under the demo rules: enterprise (log in), free
    (refund), free (log in)."""
    desk = demo_rules
    enterprise = _create(desk.customer)
    refund = _create(desk.other_customer, "Please refund my order")
    login = _create(desk.other_customer)
    return {
        "desk": desk,
        "enterprise": enterprise,
        "refund": refund,
        "login": login,
        "updates": {
            k: _updates(desk, t["id"])
            for k, t in (("enterprise", enterprise), ("refund", refund), ("login", login))
        },
    }


def _refs(entry: dict[str, Any], which: str) -> set[tuple[int, int]]:
    return {(s["ticket_id"], s["update_id"]) for s in entry["samples"][which]}


def test_backtest_finds_the_updates_and_the_differences(history: dict[str, Any]) -> None:
    desk: Desk = history["desk"]
    ups = history["updates"]
    assert all(len(u) == 1 for u in ups.values())  # one evaluated update per created ticket
    ref = {k: (history[k]["id"], ups[k][0]) for k in ("enterprise", "refund", "login")}
    r = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "days": 1})
    assert r.status == 200, r
    bt = r.data
    assert bt["scanned"] == 3
    assert bt["stopped_by"] == "window"
    assert bt["ruleset"] == "candidate"
    rules = {x["rule"]: x for x in bt["rules"]}
    login = rules["tag-login"]
    assert login["in_candidate"]
    assert not login["time_rule"]
    assert (login["would_fire"], login["actually_fired"], login["both"]) == (2, 0, 0)
    assert _refs(login, "would_fire") == {ref["enterprise"], ref["login"]}
    assert _refs(login, "only_backtest") == {ref["enterprise"], ref["login"]}
    queue = rules["default-queue"]
    # Without enterprise-first and route-billing no team is set first: it fires on all three.
    assert (queue["would_fire"], queue["actually_fired"], queue["both"]) == (3, 1, 1)
    assert _refs(queue, "only_backtest") == {ref["enterprise"], ref["refund"]}
    assert queue["only_actual"] == 0
    # Rules that fired then and are not in the candidate: what would no longer happen.
    gone = {k: v for k, v in rules.items() if not v["in_candidate"]}
    assert {k: v["only_actual"] for k, v in gone.items()} == {
        "enterprise-first": 1,
        "urgent-unassigned-alert": 1,
        "tag-billing": 1,
        "route-billing": 1,
    }
    assert _refs(gone["route-billing"], "only_actual") == {ref["refund"]}
    assert bt["differing_updates"] == 3
    # Samples are newest first.
    assert [s["ticket_id"] for s in queue["samples"]["would_fire"]] == [
        history["login"]["id"],
        history["refund"]["id"],
        history["enterprise"]["id"],
    ]


def test_backtest_of_the_active_set_matches_what_fired(history: dict[str, Any]) -> None:
    desk: Desk = history["desk"]
    bt = desk.admin.post("/rules/backtest", {"days": 7}).data
    assert bt["ruleset"] == "v1"
    assert bt["scanned"] == 3
    assert bt["differing_updates"] == 0
    for entry in bt["rules"]:
        assert entry["only_backtest"] == entry["only_actual"] == 0, entry
    fired = {x["rule"]: x["would_fire"] for x in bt["rules"] if x["would_fire"]}
    assert fired == {
        "enterprise-first": 1,
        "urgent-unassigned-alert": 1,
        "tag-billing": 1,
        "route-billing": 1,
        "default-queue": 1,
    }


def test_backtest_one_rule_limit_and_window(history: dict[str, Any]) -> None:
    desk: Desk = history["desk"]
    one = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "rule": "tag-login"}).data
    assert [x["rule"] for x in one["rules"]] == ["tag-login"]
    assert one["differing_updates"] == 2
    limited = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "limit": 2}).data
    assert limited["scanned"] == 2
    assert limited["stopped_by"] == "limit"
    queue = next(x for x in limited["rules"] if x["rule"] == "default-queue")
    assert {s["ticket_id"] for s in queue["samples"]["would_fire"]} == {
        history["login"]["id"],
        history["refund"]["id"],
    }
    none = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "sample": 0}).data
    assert all(not s for x in none["rules"] for s in x["samples"].values())
    with travel(utcnow() + timedelta(days=2)):
        later = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "days": 1}).data
    assert later["scanned"] == 0
    assert later["oldest_scanned"] is None


def test_backtest_time_rule_at_the_timer_update(demo_rules: Desk) -> None:
    desk = demo_rules
    t = _create(desk.other_customer)
    s = desk.agent.patch(f"/tickets/{t['id']}", {"status": "solved"})
    solved_at = datetime.fromisoformat(s.data["solved_at"])
    with travel(solved_at + timedelta(hours=24, seconds=1)):
        fire_due("test")
        bt = desk.admin.post("/rules/backtest", {"rule": "satisfaction-survey"}).data
    [entry] = bt["rules"]
    assert entry["time_rule"] is True
    assert (entry["would_fire"], entry["actually_fired"], entry["both"]) == (1, 1, 1)
    timer_update = _updates(desk, t["id"])[-1]
    assert _refs(entry, "would_fire") == {(t["id"], timer_update)}


def test_backtest_rejects_bad_input_like_an_import(history: dict[str, Any]) -> None:
    desk: Desk = history["desk"]
    bad = CANDIDATE.replace("op: contains", "op: contain")
    imported = desk.admin.post("/rules", {"yaml": bad, "source": "cand.yaml"})
    tested = desk.admin.post("/rules/backtest", {"yaml": bad, "source": "cand.yaml"})
    assert imported.status == tested.status == 422
    assert tested.data["errors"] == imported.data["errors"]
    [issue] = tested.data["errors"]
    assert issue["line"] == 7
    assert issue["path"] == "conditions.all[0].op"
    assert issue["rule"] == "tag-login"
    assert issue["text"].startswith("cand.yaml:7:")
    r = desk.admin.post("/rules/backtest", {"yaml": CANDIDATE, "rule": "tag-logn"})
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "rule"
    assert "tag-login" in r.data["errors"][0]["message"]
    for body in ({"days": 0}, {"limit": 0}, {"days": 400}, {"yaml": CANDIDATE, "definition": {}}):
        assert desk.admin.post("/rules/backtest", body).status == 422, body
    assert desk.agent.post("/rules/backtest", {"yaml": CANDIDATE}).status == 403


# -- CLI ----------------------------------------------------------------------------------


def _cli(*args: str) -> str:
    out = StringIO()
    call_command("rules", *args, stdout=out)
    return out.getvalue()


def test_cli_flowchart_and_backtest(history: dict[str, Any], tmp_path: Path) -> None:
    desk: Desk = history["desk"]
    api_chart = desk.agent.get("/rules/flowchart").data
    assert _cli("flowchart") == api_chart["mermaid"]
    one = _cli("flowchart", "--rule", "route-billing")
    assert one.startswith("flowchart LR\n")
    assert "billing-ack" in one
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE)
    text = _cli("backtest", str(candidate), "--days", "1")
    assert text.startswith("scanned 3 update(s) of the last 1 day(s)")
    assert "  tag-login: would fire 2, fired 0 (+2 new, -0 no longer)" in text
    assert "  enterprise-first (not in the candidate): would fire 0, fired 1" in text
    as_json = _cli("backtest", str(candidate), "--days", "1", "--json", "--rule", "tag-login")
    assert '"scanned": 3' in as_json
