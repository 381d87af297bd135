"""Tickets through the REST API: create/read/update/list, permissions, versions, bad input."""

from __future__ import annotations

from typing import Any

from api_helpers import Desk


def _create(api: Any, **fields: Any) -> Any:
    body = {"subject": "Printer on fire", "body": "It is on fire.", "channel": "email"}
    body.update(fields)
    return api.post("/tickets", body)


def test_customer_creates_and_reads_own_ticket(desk: Desk) -> None:
    r = _create(desk.customer)
    assert r.status == 201, r
    t = r.data
    assert t["requester"]["email"] == desk.customer_email
    assert t["organization"] == "Acme"
    assert t["status"] == "new"
    assert t["priority"] == "normal"
    assert t["version"] == 1
    assert t["message_count"] == 1
    assert desk.customer.get(f"/tickets/{t['id']}").status == 200
    # Another customer cannot see it, not even that it exists.
    assert desk.other_customer.get(f"/tickets/{t['id']}").status == 404
    mine = desk.other_customer.get("/tickets")
    assert mine.status == 200
    assert mine.data["count"] == 0


def test_agent_creates_for_new_requester_and_updates(desk: Desk) -> None:
    r = _create(
        desk.agent,
        requester_email="new.person@example.org",
        requester_name="New Person",
        priority="high",
        tags=["VIP", " printer "],
        custom_fields={"plan": "pro"},
        team="Tier 1",
        assignee="alice@desk.test",
    )
    assert r.status == 201, r
    t = r.data
    assert t["requester"]["email"] == "new.person@example.org"
    assert t["tags"] == ["printer", "vip"]
    assert t["custom_fields"] == {"plan": "pro"}
    assert t["team"] == "Tier 1"
    assert t["assignee"] == "alice@desk.test"

    u = desk.agent.patch(
        f"/tickets/{t['id']}",
        {
            "version": t["version"],
            "status": "pending",
            "add_tags": ["waiting"],
            "remove_tags": ["vip"],
            "assignee": None,
            "message": {"body": "Could you send a photo?", "public": True},
        },
    )
    assert u.status == 200, u
    assert u.data["status"] == "pending"
    assert u.data["assignee"] is None
    assert u.data["tags"] == ["printer", "waiting"]
    assert u.data["version"] == 2
    msgs = desk.agent.get(f"/tickets/{t['id']}/messages").data
    # The first message is the requester's request, whoever typed it in.
    assert [m["author_kind"] for m in msgs] == ["customer", "agent"]

    events = desk.agent.get(f"/tickets/{t['id']}/events").data
    changed = {(e["kind"], e["field"], str(e["old"]), str(e["new"])) for e in events}
    assert ("field_changed", "status", "new", "pending") in changed
    assert ("tag_added", "tags", "None", "waiting") in changed
    assert ("tag_removed", "tags", "vip", "None") in changed
    assert ("assigned", "assignee", "alice@desk.test", "None") in changed
    assert all(e["cause"] == "token" and e["actor"] == "alice@desk.test" for e in events)


def test_stale_version_gets_409_and_changes_nothing(desk: Desk) -> None:
    t = _create(desk.customer).data
    first = desk.agent.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "high"})
    assert first.status == 200
    assert first.data["version"] == 2
    stale = desk.agent.patch(f"/tickets/{t['id']}", {"version": 1, "priority": "low"})
    assert stale.status == 409, stale
    assert stale.data["current_version"] == 2
    now = desk.agent.get(f"/tickets/{t['id']}").data
    assert now["priority"] == "high"
    assert now["version"] == 2


def test_update_that_changes_nothing_is_200_and_records_nothing(desk: Desk) -> None:
    t = desk.agent.patch(f"/tickets/{_create(desk.customer).data['id']}", {"priority": "high"}).data
    events = len(desk.agent.get(f"/tickets/{t['id']}/events").data)
    for body in ({}, {"priority": "high"}, {"version": t["version"], "priority": "high"}):
        same = desk.agent.patch(f"/tickets/{t['id']}", body)
        assert same.status == 200, same
        assert same.data["version"] == t["version"]
        assert same.data["priority"] == "high"
    assert len(desk.agent.get(f"/tickets/{t['id']}/events").data) == events


def test_bad_input_is_422_with_field_errors_and_writes_nothing(desk: Desk) -> None:
    r = _create(
        desk.agent,
        requester_email="x@example.org",
        priority="urgnet",
        custom_fields={"plan": "gold", "seats": "many", "colour": "red"},
    )
    assert r.status == 422, r
    fields = {e["field"] for e in r.data["errors"]}
    assert "priority" in fields
    r = _create(
        desk.agent,
        requester_email="x@example.org",
        custom_fields={"plan": "gold", "seats": "many", "colour": "red"},
        team="Tier 9",
    )
    assert r.status == 422, r
    by_field = {e["field"]: e["message"] for e in r.data["errors"]}
    assert "custom_fields.plan" in by_field
    assert "starter" in by_field["custom_fields.plan"]
    assert "custom_fields.seats" in by_field
    assert "custom_fields.colour" in by_field
    assert "Tier 1" in by_field["team"]
    assert desk.agent.get("/tickets").data["count"] == 0
    # Missing required field, wrong JSON type.
    r = desk.agent.post("/tickets", {"subject": "no body"})
    assert r.status == 422
    assert {e["field"] for e in r.data["errors"]} == {"body"}
    r = desk.agent.post("/tickets", {"subject": 5, "body": "x", "tags": "notalist"})
    assert r.status == 422


def test_customer_limits(desk: Desk) -> None:
    t = _create(desk.customer).data
    # A field the role may not change is a 403 naming it (docs/api.md), not a 422.
    r = desk.customer.patch(f"/tickets/{t['id']}", {"priority": "urgent"})
    assert r.status == 403
    assert r.data["detail"].startswith("customers cannot change priority ")
    r = desk.customer.post(f"/tickets/{t['id']}/messages", {"body": "secret", "public": False})
    assert r.status == 403
    r = desk.customer.post(f"/tickets/{t['id']}/messages", {"body": "any news?"})
    assert r.status == 201
    assert r.data["message_count"] == 2
    assert desk.customer.get(f"/tickets/{t['id']}/events").status == 403
    assert _create(desk.customer, priority="urgent").status == 403


def test_list_filters_and_pagination(desk: Desk) -> None:
    for i in range(7):
        _create(
            desk.agent,
            requester_email=f"p{i}@example.org",
            subject=f"Case {i} printer",
            priority="high" if i % 2 else "low",
            tags=["odd"] if i % 2 else [],
        )
    r = desk.agent.get("/tickets", priority="high")
    assert r.data["count"] == 3
    r = desk.agent.get("/tickets", tag="odd", limit=2, offset=0, ordering="id")
    assert r.data["count"] == 3
    assert len(r.data["items"]) == 2
    page2 = desk.agent.get("/tickets", tag="odd", limit=2, offset=2, ordering="id")
    assert len(page2.data["items"]) == 1
    ids = [t["id"] for t in r.data["items"] + page2.data["items"]]
    assert ids == sorted(ids)
    assert desk.agent.get("/tickets", q="Case 3").data["count"] == 1
    assert desk.agent.get("/tickets", limit=0).status == 422
    assert desk.agent.get("/tickets", ordering="password").status == 422


def test_authentication_required(desk: Desk, client: Any) -> None:
    assert client.get("/api/tickets").status_code == 401
    bad = client.get("/api/tickets", HTTP_AUTHORIZATION="Bearer fd_nope")
    assert bad.status_code == 401
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/tickets" in schema["paths"]
    assert "/api/rules/dry-run" in schema["paths"]


def test_rejected_ticket_leaves_no_new_requester_behind(desk: Desk) -> None:
    from flowdesk.accounts.models import User

    users = User.objects.count()
    r = _create(desk.agent, requester_email="orphan@example.org", custom_fields={"plan": "gold"})
    assert r.status == 422
    assert User.objects.count() == users
    assert not User.objects.filter(email="orphan@example.org").exists()
