"""Large rule sets: answers stay small by default (summaries and pages), the whole set on request,
and an import compiles its rule set once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from api_helpers import Desk
from flowdesk.automation import services
from flowdesk.automation.models import RuleSetVersion
from flowdesk.engine.explain import SUMMARY_MISSES

RULES = 2_000
#: what a default answer may weigh with RULES rules (the full answers are megabytes)
SMALL = 64 * 1024


def _rules(n: int) -> dict[str, Any]:
    """n rules that every created ticket triggers; the first two fire, every other rule misses
    on one condition (rule i needs the word "w{i}" in the subject), the last 10 on two."""
    rules: list[dict[str, Any]] = [
        {
            "name": "tag-all",
            "triggers": ["created"],
            "actions": [{"type": "add_tags", "tags": ["seen"]}],
        },
        {
            "name": "tag-refunds",
            "triggers": ["created"],
            "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}]},
            "actions": [{"type": "add_tags", "tags": ["refund"]}],
        },
    ]
    for i in range(n - 2):
        leaves = [{"field": "subject", "op": "contains", "value": f"w{i}"}]
        if i >= n - 12:
            leaves.append({"field": "priority", "op": "is", "value": "urgent"})
        rules.append(
            {
                "name": f"rule-{i:05d}",
                "triggers": ["created", "priority_changed"] if i % 2 else ["created"],
                "conditions": {"all": leaves},
                "actions": [{"type": "add_tags", "tags": [f"t{i % 7}"]}],
            }
        )
    rules.append(
        {
            "name": "on-reply",
            "triggers": ["customer_replied"],
            "actions": [{"type": "add_tags", "tags": ["replied"]}],
        }
    )
    return {"version": 1, "rules": rules}


def _load(text: str | bytes) -> Any:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _size(data: Any) -> int:
    return len(json.dumps(data, default=str))


@pytest.fixture
def large(desk: Desk) -> Desk:
    r = desk.admin.post("/rules", {"definition": _rules(RULES), "source": "large"})
    assert r.status == 201, r
    assert _size(r.data) < SMALL
    assert r.data["rule_count"] == RULES + 1
    assert [w["code"] for w in r.data["warnings"]] == [services.PAIRS_SKIPPED]
    assert r.data["warning_count"] == 1
    return desk


@pytest.mark.slow
def test_rule_set_answers_are_pages_unless_full_is_asked(large: Desk) -> None:
    desk = large
    page = desk.agent.get("/rules").data
    assert _size(page) < SMALL
    assert page["rule_count"] == RULES + 1
    assert page["enabled_count"] == RULES + 1
    assert page["trigger_counts"]["created"] == RULES
    assert page["trigger_counts"]["customer_replied"] == 1
    assert (page["limit"], page["offset"], len(page["rules"])) == (50, 0, 50)
    assert page["rules"][0] == {
        "name": "tag-all",
        "enabled": True,
        "triggers": [{"type": "created"}],
    }
    assert page["definition"] is None
    assert page["yaml"] is None

    last = desk.agent.get("/rules", limit=200, offset=RULES - 100).data
    assert [r["name"] for r in last["rules"]][-1] == "on-reply"
    assert len(last["rules"]) == 101
    assert desk.agent.get("/rules", limit=201).status == 422

    number = page["number"]
    one = desk.agent.get(f"/rules/versions/{number}", offset=2, limit=3).data
    assert [r["name"] for r in one["rules"]] == ["rule-00000", "rule-00001", "rule-00002"]
    versions = desk.agent.get("/rules/versions").data
    assert versions[0]["rule_count"] == RULES + 1
    assert "rules" not in versions[0]

    full = desk.agent.get("/rules", full="true").data
    assert _size(full) > 10 * SMALL
    assert len(full["definition"]["rules"]) == RULES + 1
    assert _load(full["yaml"]) == full["definition"]

    valid = desk.agent.post("/rules/validate", {"definition": full["definition"]}).data
    assert _size(valid) < SMALL
    assert (valid["rule_count"], len(valid["rules"]), valid["warning_count"]) == (RULES + 1, 50, 1)

    exported = desk.agent.client.get("/api/rules/export")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/yaml")
    assert _load(exported.content) == full["definition"]
    assert desk.agent.client.get("/api/rules/export", {"version": 999}).status_code == 404


@pytest.mark.slow
def test_explanation_lists_fired_rules_and_the_closest_misses(large: Desk) -> None:
    desk = large
    body = {"subject": "refund please", "body": "x", "channel": "web", "priority": "high"}
    t = desk.agent.post("/tickets", {**body, "requester_email": "big@example.org"}).data
    assert {"seen", "refund"} <= set(t["tags"])

    ex = desk.agent.get(f"/tickets/{t['id']}/explanation").data
    assert _size(ex) < SMALL
    assert ex["full"] is False
    assert ex["fired"] == ["tag-all", "tag-refunds"]
    counts = ex["counts"]
    assert counts == {
        "fired": 2,
        "missed": RULES - 2,
        "not_triggered": 1,
        "disabled": 0,
        "not_evaluated": 0,
        "total": RULES + 1,
        "listed_misses": SUMMARY_MISSES,
    }
    listed = [r["name"] for r in ex["rules"]]
    assert listed[:2] == ["tag-all", "tag-refunds"]
    misses = ex["rules"][2:]
    assert len(misses) == SUMMARY_MISSES
    # the closest misses: one failing condition each (the two-condition misses come last)
    assert all(m["deciding"]["field"] == "subject" for m in misses)
    assert listed[2] == "rule-00000"
    assert "on-reply" not in listed

    full = desk.agent.get(f"/tickets/{t['id']}/explanation", full="true").data
    assert full["full"] is True
    assert len(full["rules"]) == RULES + 1
    assert full["counts"]["missed"] == RULES - 2
    assert _size(full) > 10 * SMALL

    out = io.StringIO()
    call_command("rules", "explain", str(t["id"]), "--json", stdout=out)
    assert len(json.loads(out.getvalue())["rules"]) == 2 + SUMMARY_MISSES
    out = io.StringIO()
    call_command("rules", "explain", str(t["id"]), "--full", "--json", stdout=out)
    assert len(json.loads(out.getvalue())["rules"]) == RULES + 1
    out = io.StringIO()
    call_command("rules", "dry-run", "--ticket", str(t["id"]), stdout=out)
    assert f"rules: {RULES + 1}: 2 fired, {RULES - 2} triggered" in out.getvalue()
    assert "closest misses are listed; --full lists every rule" in out.getvalue()

    dry = desk.agent.post("/rules/dry-run", {"ticket_id": t["id"]}).data
    assert _size(dry) < SMALL
    assert dry["counts"]["total"] == RULES + 1
    assert len(dry["rules"]) == 2 + SUMMARY_MISSES
    dry_full = desk.agent.client.post(
        "/api/rules/dry-run?full=true",
        data=json.dumps({"ticket_id": t["id"]}),
        content_type="application/json",
    )
    assert len(dry_full.json()["rules"]) == RULES + 1


def test_an_import_compiles_once_and_stores_no_yaml_it_was_not_sent(desk: Desk) -> None:
    services._cache.clear()
    definition = _rules(30)
    r = desk.admin.post("/rules", {"definition": definition})
    assert r.status == 201, r
    version = RuleSetVersion.objects.get(number=r.data["number"])
    assert version.source_text == ""
    cached = [rs for rs, _ in services._cache.values()]
    assert len(cached) == 1
    active = services.active_ruleset()
    assert active is not None
    assert active.ruleset is cached[0]  # the object validation compiled, not a second compile
    assert active.ruleset.source == f"v{version.number}"
    assert _load(services.export_yaml()) == version.definition

    text = (
        "version: 1\nrules:\n"
        "  - name: a\n    triggers: [created]\n    actions: [{type: add_tags, tags: [x]}]\n"
    )
    r = desk.admin.post("/rules", {"yaml": text})
    assert RuleSetVersion.objects.get(number=r.data["number"]).source_text == text


def test_import_and_restore_answer_from_the_compiled_set_as_from_the_stored_one(
    desk: Desk,
) -> None:
    # The import and restore answers are built from the compiled set (the stored definition is
    # not read back); a version's page is built from the stored definition: they must agree.
    definition = _rules(60)
    definition["templates"] = {"thanks": {"body": "Thanks!"}}
    definition["rules"][5]["enabled"] = False
    definition["rules"][7]["triggers"] = [{"type": "priority_changed", "to": "urgent"}]
    r = desk.admin.post("/rules", {"definition": definition})
    assert r.status == 201, r
    answer = {k: v for k, v in r.data.items() if k not in ("warnings", "warning_count")}
    stored = desk.agent.get(f"/rules/versions/{r.data['number']}").data
    assert answer == stored
    assert (answer["enabled_count"], answer["templates"]) == (60, ["thanks"])
    version = RuleSetVersion.objects.get(number=r.data["number"])
    assert len(version.definition["rules"]) == 61

    again = desk.admin.post(f"/rules/versions/{r.data['number']}/restore", {})
    assert again.status == 201, again
    assert again.data == desk.agent.get(f"/rules/versions/{again.data['number']}").data
    assert again.data["rules"] == stored["rules"]


def test_a_large_older_version_is_not_kept_beside_the_active_one(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "CACHE_RULES", 30)
    services._cache.clear()
    old = desk.admin.post("/rules", {"definition": _rules(30)}).data["number"]
    new = desk.admin.post("/rules", {"definition": _rules(31)}).data["number"]
    assert [len(rs) for rs, _ in services._cache.values()] == [32]  # the older one was evicted
    assert len(services.compiled_number(old)) == 31  # compiled for its caller...
    assert [len(rs) for rs, _ in services._cache.values()] == [32]  # ...and not kept
    assert len(services.compiled_number(new)) == 32


def test_above_the_pairwise_limit_the_per_rule_checks_still_run(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "LINT_PAIRS_MAX", 2)
    never = {"all": [{"field": "priority", "op": "is", "value": "high"}]}
    never["all"].append({"field": "priority", "op": "is", "value": "low"})
    rule = {"triggers": ["created"], "actions": [{"type": "add_tags", "tags": ["a"]}]}
    definition = {
        "rules": [
            {"name": "a", **rule},
            {"name": "never", **rule, "conditions": never},
            {"name": "b", **rule},  # the same as a
        ]
    }
    r = desk.agent.post("/rules/validate", {"definition": definition})
    assert r.status == 200, r
    found = [(w["rule"], w["code"]) for w in r.data["warnings"]]
    assert found == [
        ("", services.PAIRS_SKIPPED),
        ("never", "never-matches"),
        ("b", "duplicate-rule"),
    ]
    assert r.data["warnings"][0]["text"].startswith("note: 3 rules: the checks that compare")
    assert (r.data["rule_count"], r.data["rules"], r.data["warning_count"]) == (
        3,
        ["a", "never", "b"],
        3,
    )
