"""Escalation paths through the REST API: CRUD, YAML import/export (all or nothing, errors with
path and line), the ``escalate_along`` action, levels applied by the escalation timer (fired by
calling ``do_timer_update``), and a solved ticket stopping its path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api_helpers import Desk

PATH = {
    "name": "vip",
    "description": "VIP tickets that nobody picks up",
    "levels": [
        {"name": "notice", "notify": {"team": "Tier 1"}},
        {"name": "tier 2", "after": "30m", "team": "Tier 2", "priority": "raise"},
        {
            "name": "urgent",
            "after": "1h",
            "priority": "urgent",
            "notify": {"agents": ["erin@desk.test"]},
        },
    ],
}

RULES = """
version: 1
rules:
  - name: vip-path
    triggers: [created]
    conditions: {field: tags, op: has_any, value: [vip]}
    actions: [{type: escalate_along, path: vip}]
"""


def _create(desk: Desk, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = desk.admin.post("/escalation-paths", body or PATH)
    assert r.status == 201, r
    return dict(r.data)


def _ticket(desk: Desk, **fields: Any) -> dict[str, Any]:
    body = {"subject": "VIP down", "body": "Help!", "requester_email": "v@example.org"}
    body.update(fields)
    r = desk.admin.post("/tickets", body)
    assert r.status == 201, r
    return dict(r.data)


def _fire(ticket_id: int, after: timedelta) -> bool:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import do_timer_update

    return do_timer_update(ticket_id, purpose="escalation", now=utcnow() + after)


def _escalated(desk: Desk, ticket_id: int) -> list[dict[str, Any]]:
    events = desk.admin.get(f"/tickets/{ticket_id}/events").data
    return [e for e in events if e["kind"] == "escalated"]


def _notify_items(desk: Desk, ticket_id: int) -> list[dict[str, Any]]:
    items = desk.admin.get("/outbox", ticket=ticket_id).data["items"]
    return [i for i in items if i["kind"] == "notify"]


def test_crud(desk: Desk) -> None:
    made = _create(desk)
    assert [lv["after"] for lv in made["levels"]] == ["0s", "30m", "1h"]
    assert made["levels"][1]["team"] == "Tier 2"
    assert desk.agent.get("/escalation-paths").data[0]["name"] == "vip"
    assert desk.agent.get(f"/escalation-paths/{made['id']}").data["description"]
    assert desk.agent.post("/escalation-paths", {**PATH, "name": "x"}).status == 403
    dup = desk.admin.post("/escalation-paths", PATH)
    assert dup.status == 422, dup
    changed = {**PATH, "levels": PATH["levels"][:2]}
    r = desk.admin.call("PUT", f"/escalation-paths/{made['id']}", changed)
    assert r.status == 200, r
    assert len(r.data["levels"]) == 2
    assert desk.admin.call("DELETE", f"/escalation-paths/{made['id']}").status == 204
    assert desk.agent.get(f"/escalation-paths/{made['id']}").status == 404


def test_validation_names_the_level_fields(desk: Desk) -> None:
    bad = {
        "name": "bad",
        "levels": [
            {"after": "5m", "team": "Tier 9"},
            {"after": "soon", "priority": "whenever"},
            {"after": "1h", "notify": {"agents": ["nobody@desk.test"]}},
            {"after": "1h"},
        ],
    }
    r = desk.admin.post("/escalation-paths", bad)
    assert r.status == 422, r
    fields = {e["field"] for e in r.data["errors"]}
    assert fields == {"levels[1].after"}, r  # the shape first, then the names it uses
    bad["levels"][1]["after"] = "10m"
    fields = {e["field"] for e in desk.admin.post("/escalation-paths", bad).data["errors"]}
    assert fields == {
        "levels[0].after",
        "levels[0].team",
        "levels[1].priority",
        "levels[2].notify.agents[0]",
        "levels[3]",
    }


IMPORT = """paths:
  - name: vip
    levels:
      - notify: {team: Tier 1}
      - after: 30m
        team: Tier 2
  - name: billing
    levels:
      - team: Billing
      - after: 2h
        priority: raise
"""


def test_yaml_import_export_round_trip(desk: Desk) -> None:
    _create(desk, {**PATH, "name": "old"})
    r = desk.admin.post("/escalation-paths/import", {"yaml": IMPORT})
    assert r.status == 200, r
    assert [p["name"] for p in r.data] == ["vip", "billing"]  # "old" was replaced
    text = desk.agent.client.get("/api/escalation-paths/export").content.decode()
    again = desk.admin.post("/escalation-paths/import", {"yaml": text})
    assert again.status == 200, again
    assert again.data == [{**p, "id": again.data[i]["id"]} for i, p in enumerate(r.data)]


def test_yaml_import_is_all_or_nothing_with_path_and_line(desk: Desk) -> None:
    _create(desk)
    broken = IMPORT.replace("team: Tier 2", "team: Tier 9").replace(
        "priority: raise", "priority: up"
    )
    r = desk.admin.post("/escalation-paths/import", {"yaml": broken, "source": "paths.yaml"})
    assert r.status == 422, r
    assert r.data["detail"] == "invalid escalation paths; nothing was changed"
    got = [(e["path"], e["field"], e["line"]) for e in r.data["errors"]]
    assert got == [("vip", "levels[1].team", 6), ("billing", "levels[1].priority", 11)], r
    assert r.data["errors"][0]["text"] == (
        "paths.yaml:6: path 'vip': levels[1].team: unknown team 'Tier 9'"
    )
    assert [p["name"] for p in desk.agent.get("/escalation-paths").data] == ["vip"]
    syntax = desk.admin.post("/escalation-paths/import", {"yaml": "paths: [\n  {name: x"})
    assert syntax.status == 422, syntax
    assert syntax.data["errors"][0]["line"] is not None


def test_escalate_along_applies_levels_on_the_timer(desk: Desk) -> None:
    _create(desk)
    assert desk.admin.post("/rules", {"yaml": RULES}).status == 201
    t = _ticket(desk, tags=["vip"], team="Tier 1")
    tid = t["id"]
    (level0,) = _escalated(desk, tid)
    assert level0["rule"] == "vip-path"
    assert level0["data"]["path"] == "vip"
    assert level0["data"]["level"] == 0
    assert level0["data"]["notified"] == ["alice@desk.test"]
    assert len(_notify_items(desk, tid)) == 1
    esc = desk.agent.get(f"/tickets/{tid}/escalation")
    assert esc.status == 200, esc
    assert esc.data["path"] == "vip"
    assert esc.data["active"] is True
    assert esc.data["level"] == 0
    assert esc.data["next_level"] == 1
    assert esc.data["next"]["team"] == "Tier 2"
    assert esc.data["next_at"] is not None
    assert desk.customer.get(f"/tickets/{tid}/escalation").status in (403, 404)

    assert _fire(tid, timedelta(minutes=5)) is False  # not due yet
    assert _fire(tid, timedelta(minutes=31)) is True
    after = desk.admin.get(f"/tickets/{tid}").data
    assert after["team"] == "Tier 2"
    assert after["priority"] == "high"
    level1 = _escalated(desk, tid)[-1]
    assert level1["cause"] == "timer"
    assert level1["data"]["level"] == 1
    assert level1["data"]["from_team"] == "Tier 1"
    assert level1["data"]["to_team"] == "Tier 2"
    events = desk.admin.get(f"/tickets/{tid}/events").data
    team_change = [e for e in events if e["field"] == "team"][-1]
    assert team_change["cause"] == "timer"
    assert team_change["cause_detail"] == "escalation"

    assert _fire(tid, timedelta(minutes=31) + timedelta(hours=1, minutes=1)) is True
    assert desk.admin.get(f"/tickets/{tid}").data["priority"] == "urgent"
    assert sorted(i["payload"]["to"][0] for i in _notify_items(desk, tid)) == [
        "alice@desk.test",
        "erin@desk.test",
    ]
    esc = desk.admin.get(f"/tickets/{tid}/escalation").data
    assert esc["active"] is False
    assert esc["level"] == 2
    assert esc["finished"] == "last level reached"
    assert _fire(tid, timedelta(hours=5)) is False


def test_solving_stops_the_path(desk: Desk) -> None:
    _create(desk)
    assert desk.admin.post("/rules", {"yaml": RULES}).status == 201
    tid = _ticket(desk, tags=["vip"])["id"]
    r = desk.admin.patch(f"/tickets/{tid}", {"status": "solved"})
    assert r.status == 200, r
    esc = desk.agent.get(f"/tickets/{tid}/escalation").data
    assert esc["active"] is False
    assert esc["finished"] == "ticket solved"
    assert _fire(tid, timedelta(hours=1)) is False
    assert len(_escalated(desk, tid)) == 1


def test_a_rule_naming_an_unknown_path_is_refused_when_saved(desk: Desk) -> None:
    r = desk.admin.post("/rules", {"yaml": RULES})
    assert r.status == 422, r
    assert "unknown escalation path 'vip'" in str(r.data), r
    assert "actions[0].path" in str(r.data), r
    _create(desk, {**PATH, "name": "vipp"})
    r = desk.admin.post("/rules", {"yaml": RULES})
    assert r.status == 422, r
    assert "did you mean 'vipp'" in str(r.data), r


def test_a_path_deleted_after_the_rule_was_saved_is_an_automation_error(desk: Desk) -> None:
    made = _create(desk)
    assert desk.admin.post("/rules", {"yaml": RULES}).status == 201
    assert desk.admin.call("DELETE", f"/escalation-paths/{made['id']}").status == 204
    tid = _ticket(desk, tags=["vip"])["id"]
    events = desk.admin.get(f"/tickets/{tid}/events").data
    errors = [e["data"]["message"] for e in events if e["kind"] == "automation_error"]
    assert errors == ["escalate_along: no escalation path 'vip'"]
    assert desk.agent.get(f"/tickets/{tid}/escalation").data == {
        "path": None,
        "active": False,
        "started_at": None,
        "level": None,
        "current": None,
        "level_at": None,
        "next_level": None,
        "next": None,
        "next_at": None,
        "finished": None,
    }
