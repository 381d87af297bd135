"""Calendars through the REST API: create, read, change, delete, the default, team calendars,
the open/close check, the whole-set YAML import and export, and the ``calendar`` snapshot key."""

from __future__ import annotations

from typing import Any

from api_helpers import Api, ApiResponse, Desk

WEEKDAY = [{"start": "09:00", "end": "17:00"}]
BERLIN = {
    "time_zone": "Europe/Berlin",
    "weekly": {d: WEEKDAY for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdivision": "BE"},
}
MANILA = {
    "time_zone": "Asia/Manila",
    "weekly": {
        d: [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
        for d in ("mon", "tue", "wed", "thu", "fri")
    },
    "holidays": {"country": "PH"},
}


def _put(api: Api, path: str, body: Any) -> ApiResponse:
    return api.call("PUT", path, body)


def _delete(api: Api, path: str) -> ApiResponse:
    return api.call("DELETE", path)


def _fields(r: ApiResponse) -> dict[str, str]:
    assert r.status == 422, r
    return {e["field"]: e["message"] for e in r.data["errors"]}


def _create(desk: Desk, name: str, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = desk.admin.post("/calendars", {"name": name, "definition": definition, **extra})
    assert r.status == 201, r
    return dict(r.data)


def _team_id(desk: Desk, name: str) -> int:
    r = desk.agent.get("/teams", q=name)
    return int(next(t["id"] for t in r.data["items"] if t["name"] == name))


def test_create_read_by_id_and_name(desk: Desk) -> None:
    cal = _create(desk, "Berlin", BERLIN)
    assert cal["is_default"] is False
    assert cal["teams"] == []
    assert cal["policies"] == []
    assert cal["definition"]["weekly"]["sat"] == []  # stored normalised: all seven days
    assert cal["definition"]["closed_dates"] == []
    by_id = desk.agent.get(f"/calendars/{cal['id']}")
    by_name = desk.agent.get("/calendars/berlin")
    assert by_id.status == by_name.status == 200
    assert by_id.data == by_name.data
    listing = desk.agent.get("/calendars")
    assert listing.data["count"] == 1
    assert listing.data["items"][0]["name"] == "Berlin"


def test_permissions_and_not_found(desk: Desk, client: Any) -> None:
    assert client.get("/api/calendars").status_code == 401
    assert desk.customer.get("/calendars").status == 403
    r = desk.agent.post("/calendars", {"name": "X", "definition": BERLIN})
    assert r.status == 403
    assert r.data["detail"] == "this needs an admin token"
    _create(desk, "Berlin", BERLIN)
    r = desk.agent.get("/calendars/Berlni")
    assert r.status == 404
    assert r.data["detail"] == "no calendar 'Berlni' (did you mean 'Berlin'?)"
    assert desk.agent.get("/calendars/999").status == 404
    assert desk.agent.patch("/calendars/Berlin", {"is_default": True}).status == 403
    assert _delete(desk.agent, "/calendars/Berlin").status == 403


def test_every_definition_problem_named_by_path_and_value(desk: Desk) -> None:
    bad = {
        "time_zone": "Europe/Berln",
        "weekly": {"mon": [{"start": "09:00", "end": "25:00"}], "mo": []},
        "holidays": {"country": "de"},
        "closed_dates": ["2025-13-01"],
    }
    r = desk.admin.post("/calendars", {"name": "Bad", "definition": bad})
    errors = _fields(r)
    assert errors["definition.time_zone"] == (
        '"Europe/Berln" is not an IANA time zone (such as Europe/Paris) '
        "(did you mean 'Europe/Berlin'?)"
    )
    assert errors["definition.weekly.mon[0].end"] == '"25:00" is not a time (HH:MM)'
    assert errors["definition.weekly.mo"].endswith("(did you mean 'mon'?)")
    assert '"de"' in errors["definition.holidays.country"]
    assert 'use "DE"' in errors["definition.holidays.country"]
    assert errors["definition.closed_dates[0]"] == '"2025-13-01" is not a date (YYYY-MM-DD)'
    assert desk.agent.get("/calendars").data["count"] == 0


def test_bad_names_and_duplicates(desk: Desk) -> None:
    _create(desk, "Berlin", BERLIN)
    r = desk.admin.post("/calendars", {"name": "BERLIN", "definition": BERLIN})
    assert r.status == 409, r
    assert "a calendar named 'Berlin' already exists" in r.data["detail"]
    assert (
        "all digits"
        in _fields(desk.admin.post("/calendars", {"name": "42", "definition": BERLIN}))["name"]
    )
    assert (
        "not a name"
        in _fields(desk.admin.post("/calendars", {"name": " ", "definition": BERLIN}))["name"]
    )
    r = desk.admin.post("/calendars", {"name": "X", "definition": BERLIN, "colour": "red"})
    assert "colour" in _fields(r)
    r = desk.admin.post("/calendars", {"name": "X", "definition": "09-17"})
    assert "definition" in _fields(r)


def test_update_replace_and_default(desk: Desk) -> None:
    berlin = _create(desk, "Berlin", BERLIN, is_default=True)
    manila = _create(desk, "Manila", MANILA)
    assert berlin["is_default"] is True
    r = desk.admin.patch("/calendars/Manila", {"is_default": True})
    assert r.status == 200, r
    assert r.data["is_default"] is True
    assert desk.agent.get(f"/calendars/{berlin['id']}").data["is_default"] is False
    r = desk.admin.patch("/calendars/Manila", {"name": "Manila PH"})
    assert r.data["name"] == "Manila PH"
    r = desk.admin.patch(f"/calendars/{manila['id']}", {"definition": {"weekly": {}}})
    assert _fields(r) == {"definition.time_zone": "is required"}
    r = _put(desk.admin, "/calendars/Berlin", {"name": "Berlin", "definition": MANILA})
    assert r.status == 200, r
    assert r.data["definition"]["time_zone"] == "Asia/Manila"
    assert r.data["is_default"] is False
    r = desk.admin.patch("/calendars/Manila PH", {"name": "berlin"})
    assert r.status == 409, r
    r = desk.admin.patch("/calendars/Manila PH", {"is_default": False})
    assert r.data["is_default"] is False
    assert all(not c["is_default"] for c in desk.agent.get("/calendars").data["items"])


def test_team_calendar_and_delete_in_use(desk: Desk) -> None:
    _create(desk, "Berlin", BERLIN)
    _create(desk, "Manila", MANILA, is_default=True)
    tier2 = _team_id(desk, "Tier 2")
    r = desk.agent.get(f"/teams/{tier2}/calendar")
    assert r.data == {
        "team": {"id": tier2, "name": "Tier 2"},
        "calendar": None,
        "effective": "Manila",
    }
    assert _put(desk.agent, f"/teams/{tier2}/calendar", {"calendar": "Berlin"}).status == 403
    r = _put(desk.admin, f"/teams/{tier2}/calendar", {"calendar": "Berlni"})
    assert _fields(r) == {"calendar": "no calendar 'Berlni' (did you mean 'Berlin'?)"}
    r = _put(desk.admin, f"/teams/{tier2}/calendar", {"calendar": "berlin"})
    assert r.status == 200, r
    assert r.data["calendar"] == r.data["effective"] == "Berlin"
    assert desk.agent.get("/calendars/Berlin").data["teams"] == [{"id": tier2, "name": "Tier 2"}]
    r = _delete(desk.admin, "/calendars/Berlin")
    assert r.status == 409, r
    assert r.data["detail"] == (
        "calendar 'Berlin' is used by team 'Tier 2'; attach another calendar or change them first"
    )
    assert _put(desk.admin, "/teams/99999/calendar", {"calendar": None}).status == 404
    r = _put(desk.admin, f"/teams/{tier2}/calendar", {"calendar": None})
    assert r.data["calendar"] is None
    assert r.data["effective"] == "Manila"
    assert _delete(desk.admin, "/calendars/Berlin").status == 204
    assert desk.agent.get("/calendars/Berlin").status == 404


def test_check_open_next_open_and_deadline(desk: Desk) -> None:
    _create(desk, "Manila", MANILA)
    # Friday 2025-06-13 11:30 Manila (03:30 UTC): open until the lunch break.
    r = desk.agent.get("/calendars/Manila/check", at="2025-06-13T03:30:00Z", business_minutes=60)
    assert r.status == 200, r
    assert r.data["open"] is True
    assert r.data["next_close"] == "2025-06-13T04:00:00Z"
    assert r.data["deadline"] == "2025-06-13T05:30:00Z"  # 30 min before lunch, 30 after
    assert r.data["local_time"] == "2025-06-13T11:30:00+08:00"
    assert len(r.data["today"]) == 2
    # Friday 18:00 Manila: closed; opens Monday 08:00.
    r = desk.agent.get("/calendars/Manila/check", at="2025-06-13T10:00:00Z")
    assert r.data["open"] is False
    assert r.data["next_open"] == "2025-06-16T00:00:00Z"
    assert r.data["deadline"] is None
    r = desk.agent.get("/calendars/Manila/check", at="2025-06-13T10:00:00")
    assert "has no time zone" in _fields(r)["at"]
    assert desk.agent.get("/calendars/Manila/check").status == 200


def test_calendar_snapshot_key(desk: Desk) -> None:
    r = desk.agent.post("/tickets", {"subject": "Hi", "body": "x", "requester_email": "r@x.org"})
    ticket = r.data["id"]

    def calendar_in_dry_run() -> Any:
        r = desk.admin.post("/rules/dry-run", {"ticket_id": ticket, "definition": {"rules": []}})
        assert r.status == 200, r
        return r.data["snapshot"]["calendar"]

    assert calendar_in_dry_run() is None
    _create(desk, "Manila", MANILA, is_default=True)
    assert calendar_in_dry_run() == "Manila"
    _create(desk, "Berlin", BERLIN)
    tier2 = _team_id(desk, "Tier 2")
    _put(desk.admin, f"/teams/{tier2}/calendar", {"calendar": "Berlin"})
    assert desk.agent.patch(f"/tickets/{ticket}", {"team": "Tier 2"}).status == 200
    assert calendar_in_dry_run() == "Berlin"


def test_calendar_key_seen_by_rules_in_a_write(desk: Desk) -> None:
    _create(desk, "Manila", MANILA, is_default=True)
    rules = {
        "rules": [
            {
                "name": "tag-manila",
                "triggers": ["created"],
                "conditions": {"all": [{"field": "calendar", "op": "is", "value": "Manila"}]},
                "actions": [{"type": "add_tags", "tags": ["manila-hours"]}],
            }
        ]
    }
    assert desk.admin.post("/rules", {"definition": rules}).status == 201
    r = desk.agent.post("/tickets", {"subject": "Hi", "body": "x", "requester_email": "r@x.org"})
    assert r.status == 201, r
    assert "manila-hours" in r.data["tags"]


CALENDARS_YAML = """\
calendars:
  - name: Manila
    default: true
    time_zone: Asia/Manila
    weekly:
      mon: [{start: "08:00", end: "12:00"}, {start: "13:00", end: "17:00"}]
    holidays: {country: PH}
  - name: Berlin
    teams: [Tier 2]
    time_zone: Europe/Berlin
    weekly:
      mon: [{start: "09:00", end: "17:00"}]
"""


def test_import_and_export_whole_set(desk: Desk) -> None:
    _create(desk, "Old", BERLIN)
    r = _put(desk.admin, "/calendars", {"yaml": CALENDARS_YAML, "source": "calendars.yaml"})
    assert r.status == 200, r
    assert r.data == {
        "created": ["Manila", "Berlin"],
        "updated": [],
        "unchanged": [],
        "deleted": ["Old"],
    }
    tier2 = _team_id(desk, "Tier 2")
    assert desk.agent.get(f"/teams/{tier2}/calendar").data["calendar"] == "Berlin"
    exported = desk.agent.client.get("/api/calendars", {"format": "yaml"})
    assert exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    r = _put(desk.admin, "/calendars", {"yaml": text})
    assert r.data["unchanged"] == ["Berlin", "Manila"], r
    bad = CALENDARS_YAML.replace('mon: [{start: "09:00"', 'mo: [{start: "09:00"')
    r = _put(desk.admin, "/calendars", {"yaml": bad, "source": "calendars.yaml"})
    assert r.status == 422, r
    assert r.data["detail"] == "invalid calendars; nothing was changed"
    (issue,) = r.data["errors"]
    assert issue["line"] == 12
    assert issue["path"] == "calendars[1].weekly.mo"
    assert issue["suggestion"] == "mon"
    assert issue["text"].startswith("calendars.yaml:12: calendars[1].weekly.mo: ")


def test_demo_seed_has_calendars(db: Any) -> None:
    from datetime import UTC, datetime

    from flowdesk.demo.seed import seed_demo

    seeded = seed_demo(tickets=0, now=datetime(2025, 6, 13, tzinfo=UTC))
    admin = Api(str(seeded["token"]))
    items = {c["name"]: c for c in admin.get("/calendars").data["items"]}
    assert set(items) == {"Manila", "Berlin"}
    assert items["Manila"]["is_default"] is True
    assert items["Manila"]["definition"]["holidays"] == {"country": "PH", "subdivision": None}
    assert items["Manila"]["definition"]["weekly"]["fri"] == MANILA["weekly"]["fri"]
    assert [t["name"] for t in items["Berlin"]["teams"]] == ["Tier 2"]
    assert items["Berlin"]["definition"]["holidays"] == {"country": "DE", "subdivision": "BE"}
    # 2025-10-03 (German Unity Day) is closed in Berlin; 2025-06-12 (Independence Day) in Manila.
    r = admin.get("/calendars/Berlin/check", at="2025-10-03T10:00:00Z")
    assert r.data["open"] is False
    r = admin.get("/calendars/Manila/check", at="2025-06-12T02:00:00Z")
    assert r.data["open"] is False


def test_cache_sees_writes_of_other_processes(desk: Desk) -> None:
    """Another process's write shows as a new token (or team links): the next read reloads."""
    from flowdesk.sla import store
    from flowdesk.sla.models import Calendar, SlaStoreVersion, TeamCalendar

    _create(desk, "Manila", MANILA, is_default=True)
    assert store.default_calendar_name() == "Manila"
    assert store.calendars()["Manila"].time_zone == "Asia/Manila"
    # Written as another process would, without this process's services:
    Calendar.objects.filter(name="Manila").update(definition=BERLIN)
    assert store.calendars()["Manila"].time_zone == "Asia/Manila"  # same token: still held
    SlaStoreVersion.objects.update(token="from-elsewhere")
    assert store.calendars()["Manila"].time_zone == "Europe/Berlin"
    berlin = _create(desk, "Berlin", BERLIN)
    tier2 = _team_id(desk, "Tier 2")
    _put(desk.admin, f"/teams/{tier2}/calendar", {"calendar": "Berlin"})
    assert store.calendar_name_for(tier2) == "Berlin"
    TeamCalendar.objects.filter(calendar_id=berlin["id"]).delete()  # a team's cascade
    assert store.calendar_name_for(tier2) == "Manila"
    assert store.team_calendar_name(None) is None
