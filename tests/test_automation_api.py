"""The demo processes fire on real API calls, and history + explanation say why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api_helpers import Desk
from flowdesk.core.clock import travel
from flowdesk.engine.explain import OUTCOMES
from flowdesk.timers.services import fire_due


def _create(api: Any, **fields: Any) -> Any:
    body = {"subject": "Cannot log in", "body": "The login page spins forever.", "channel": "web"}
    body.update(fields)
    r = api.post("/tickets", body)
    assert r.status == 201, r
    return r.data


def _fired(desk: Desk, ticket_id: int) -> list[str]:
    # Admins see every team's tickets (agents only their teams': Tier 1 for desk.agent).
    events = desk.admin.get(f"/tickets/{ticket_id}/events").data
    return [e["rule"] for e in events if e["kind"] == "rule_fired"]


def test_enterprise_ticket_is_urgent_tier2_and_acknowledged(demo_rules: Desk) -> None:
    desk = demo_rules
    t = _create(desk.customer)
    assert t["priority"] == "urgent"
    assert t["team"] == "Tier 2"
    assert "enterprise" in t["tags"]
    assert _fired(desk, t["id"]) == ["enterprise-first", "urgent-unassigned-alert"]

    events = desk.admin.get(f"/tickets/{t['id']}/events").data
    prio = [e for e in events if e["field"] == "priority"]
    assert prio
    assert prio[0]["cause"] == "rule"
    assert prio[0]["rule"] == "enterprise-first"
    assert prio[0]["old"] == "normal"
    assert prio[0]["new"] == "urgent"
    # The alert fired because enterprise-first raised the priority: the chain says so.
    alert = next(
        e for e in events if e["rule"] == "urgent-unassigned-alert" and e["kind"] == "rule_fired"
    )
    assert alert["rule_chain"] == ["enterprise-first"]

    outbox = desk.agent.get("/outbox", ticket=t["id"]).data["items"]
    kinds = sorted(i["kind"] for i in outbox)
    assert kinds == ["notify", "reply"]
    reply = next(i for i in outbox if i["kind"] == "reply")
    assert reply["payload"]["to"] == [desk.customer_email]
    assert f"#{t['id']}" in reply["payload"]["body"]
    assert reply["status"] == "pending"
    notify = next(i for i in outbox if i["kind"] == "notify")
    assert notify["payload"]["to"] == ["carol@desk.test"]
    # The acknowledgement is part of the conversation the customer sees.
    msgs = desk.customer.get(f"/tickets/{t['id']}/messages").data
    assert [m["author_kind"] for m in msgs] == ["customer", "system"]


def test_explanation_names_deciding_conditions(demo_rules: Desk) -> None:
    desk = demo_rules
    t = _create(desk.other_customer, subject="Please refund my order")
    assert t["team"] == "Billing"
    assert t["tags"] == ["billing"]
    r = desk.admin.get(f"/tickets/{t['id']}/explanation")
    assert r.status == 200, r
    ex = r.data
    rules = {x["name"]: x for x in ex["rules"]}
    assert rules["tag-billing"]["fired"]
    assert rules["route-billing"]["fired"]
    assert rules["route-billing"]["caused_by"] == ["tag-billing"]
    assert not rules["enterprise-first"]["matched"]
    deciding = rules["enterprise-first"]["deciding"]
    assert deciding["field"] == "organization.tier"
    assert deciding["actual"] == "free"
    # default-queue did not match: the team was already set by route-billing.
    assert rules["default-queue"]["deciding"]["field"] == "team"
    # The default answer is a summary: rules whose trigger did not match are counted, not listed.
    assert "reopen-on-customer-reply" not in rules
    assert ex["full"] is False
    counts = ex["counts"]
    assert counts["fired"] == 2
    assert counts["total"] == sum(counts[k] for k in OUTCOMES)
    assert counts["listed_misses"] == counts["missed"] == len(ex["rules"]) - 2
    assert "conditions" not in rules["enterprise-first"]
    assert ex["stored"]["fired"] == ["tag-billing", "route-billing"]
    # ...and the full answer lists every rule: one whose trigger did not match says so.
    full = desk.admin.get(f"/tickets/{t['id']}/explanation", full="true").data
    assert full["full"] is True
    every = {x["name"]: x for x in full["rules"]}
    assert len(every) == counts["total"]
    assert every["reopen-on-customer-reply"]["trigger_matched"] is False
    assert every["enterprise-first"]["conditions"]["passed"] is False
    assert every["enterprise-first"]["deciding"] == deciding


def test_customer_reply_reopens_pending_and_solved_sends_survey(demo_rules: Desk) -> None:
    desk = demo_rules
    t = _create(desk.other_customer)
    assert t["team"] == "Tier 1"
    p = desk.agent.patch(
        f"/tickets/{t['id']}",
        {"version": t["version"], "status": "pending", "message": {"body": "Which browser?"}},
    )
    assert p.data["status"] == "pending"
    r = desk.other_customer.post(f"/tickets/{t['id']}/messages", {"body": "Firefox 131"})
    assert r.data["status"] == "open"
    assert _fired(desk, t["id"])[-1] == "reopen-on-customer-reply"
    s = desk.agent.patch(f"/tickets/{t['id']}", {"status": "solved"})
    assert s.data["status"] == "solved"
    assert s.data["solved_at"] is not None
    # The survey goes 24 hours after the solve (a time rule), not at once.
    assert desk.agent.get("/outbox", ticket=t["id"], kind="survey").data["items"] == []
    solved_at = datetime.fromisoformat(s.data["solved_at"])
    with travel(solved_at + timedelta(hours=24, seconds=1)):  # the API gives milliseconds
        fire_due("test")
    surveys = desk.agent.get("/outbox", ticket=t["id"], kind="survey").data["items"]
    assert len(surveys) == 1
    assert surveys[0]["payload"]["survey"] == "csat"


def test_escalation_after_repeated_follow_ups(demo_rules: Desk) -> None:
    desk = demo_rules
    t = _create(desk.other_customer)
    for i in range(4):
        r = desk.other_customer.post(f"/tickets/{t['id']}/messages", {"body": f"hello? ({i})"})
    assert r.data["team"] == "Tier 2"
    assert r.data["priority"] == "high"
    events = desk.admin.get(f"/tickets/{t['id']}/events").data
    esc = [e for e in events if e["kind"] == "escalated"]
    assert len(esc) == 1
    assert "followed up" in esc[0]["data"]["reason"]


PINGPONG = """
version: 1
rules:
  - name: high-to-low
    triggers: [created, priority_changed]
    conditions: {all: [{field: priority, op: is, value: high}]}
    actions: [{type: set_priority, value: low}]
  - name: low-to-high
    triggers: [created, priority_changed]
    conditions: {all: [{field: priority, op: is, value: low}]}
    actions: [{type: set_priority, value: high}]
"""


def test_ping_pong_terminates_and_explanation_says_so(desk: Desk) -> None:
    assert desk.admin.post("/rules", {"yaml": PINGPONG}).status == 201
    t = _create(desk.agent, requester_email="p@example.org", priority="high")
    assert t["priority"] == "high"  # low, then back to high; each rule fired once
    ex = desk.agent.get(f"/tickets/{t['id']}/explanation").data
    assert [r["name"] for r in ex["rules"] if r["fired"]] == ["high-to-low", "low-to-high"]
    conflicts = ex["conflicts"]
    assert conflicts
    assert conflicts[0]["field"] == "priority"
    suppressed = {s["rule"]: s["sentence"] for s in ex["suppressed"]}
    assert "at most once" in suppressed["high-to-low"]
    assert "nothing left to change" in ex["termination"]


def test_invalid_rule_set_rejected_whole_old_rules_stay(demo_rules: Desk) -> None:
    desk = demo_rules
    before = desk.agent.get("/rules").data["number"]
    bad = (
        "version: 1\nrules:\n"
        "  - name: ok-rule\n    triggers: [created]\n    actions: [{type: add_tags, tags: [x]}]\n"
        "  - name: typo\n    triggers: [created]\n"
        "    conditions:\n      all:\n        - {field: priorty, op: is, value: high}\n"
        "    actions: [{type: assign_team, team: Tier2}]\n"
    )
    r = desk.admin.post("/rules", {"yaml": bad, "source": "rules.yaml"})
    assert r.status == 422, r
    errors = r.data["errors"]
    field_err = next(e for e in errors if "priorty" in e["message"])
    assert field_err["rule"] == "typo"
    assert field_err["suggestion"] == "priority"
    assert field_err["line"] == 10
    assert field_err["path"].endswith("field")
    team_err = next(e for e in errors if "Tier2" in e["message"])
    assert team_err["suggestion"] == "Tier 2"
    assert desk.agent.get("/rules").data["number"] == before
    t = _create(desk.customer)
    assert t["priority"] == "urgent"  # still the demo rules
    assert desk.agent.post("/rules", {"yaml": PINGPONG}).status == 403


def test_versions_restore_and_dry_run(demo_rules: Desk) -> None:
    desk = demo_rules
    assert desk.admin.post("/rules", {"yaml": PINGPONG, "comment": "experiment"}).status == 201
    versions = desk.agent.get("/rules/versions").data
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["comment"] == "experiment"
    r = desk.admin.post("/rules/versions/1/restore")
    assert r.status == 201
    assert r.data["number"] == 3
    assert r.data["restored_from"] == 1
    assert desk.agent.get("/rules").data["rules"][0]["name"] == "enterprise-first"
    assert desk.admin.post("/rules/versions/99/restore").status == 404

    t = _create(desk.other_customer)
    dry = desk.agent.post("/rules/dry-run", {"ticket_id": t["id"], "yaml": PINGPONG})
    assert dry.status == 200, dry
    assert dry.data["ruleset"] == "candidate"
    snapshot = {
        "subject": "Refund please",
        "status": "new",
        "priority": "normal",
        "channel": "email",
        "tags": [],
        "organization.tier": "business",
    }
    dry = desk.agent.post("/rules/dry-run", {"snapshot": snapshot})
    assert dry.status == 200, dry
    assert [r["name"] for r in dry.data["rules"] if r["fired"]][:2] == [
        "tag-billing",
        "route-billing",
    ]
    # Nothing was written by either dry run.
    assert desk.agent.get(f"/tickets/{t['id']}").data["version"] == t["version"]
    reply = {"kind": "updated", "messages": [{"author_kind": "customer"}]}  # public by default
    pending = dict(snapshot, status="pending")
    dry = desk.agent.post("/rules/dry-run", {"snapshot": pending, "event": reply})
    assert dry.status == 200, dry
    assert "reopen-on-customer-reply" in [r["name"] for r in dry.data["rules"] if r["fired"]]
    bad = desk.agent.post("/rules/dry-run", {"snapshot": {"priorty": "high"}})
    assert bad.status == 422
    assert "priority" in bad.data["errors"][0]["message"]
    assert desk.agent.post("/rules/dry-run", {}).status == 422


def test_schema_is_published(client: Any) -> None:
    schema = client.get("/api/rules/schema").json()
    text = str(schema)
    for name in ("set_priority", "assign_team", "webhook", "has_any", "customer_replied"):
        assert name in text
