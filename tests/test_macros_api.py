"""Macros through the REST API: CRUD and who sees what, preview (renders, writes nothing), apply
(one update through the ticket services: events, delivery, 409 on a stale version), and the
save-time checks that name the field."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import call_command

from api_helpers import Api, Desk

ASK = {
    "name": "Ask for order number",
    "description": "The customer did not say which order",
    "reply": {
        "body": 'Hi {{ requester.name | default("there") }}, about "{{ ticket.subject }}": '
        "which order number is it?",
    },
    "changes": {"status": "pending", "add_tags": ["awaiting-order-number"]},
    "position": 10,
}
ESCALATE = {
    "name": "Escalate to Tier 2",
    "visibility": "team",
    "team": "Tier 1",
    "reply": {"body": "Passed to {{ team }} at {{ priority }} priority.", "public": False},
    "changes": {"team": "Tier 2", "priority": "high", "remove_tags": ["tier1"]},
}


def _agent(email: str) -> Api:
    from flowdesk.accounts.models import User
    from flowdesk.accounts.services import do_create_token

    return Api(do_create_token(User.objects.get(email=email), "t")[1])


def _ticket(desk: Desk, **fields: Any) -> dict[str, Any]:
    """A customer's request; ``fields`` then set by the admin."""
    r = desk.customer.post("/tickets", {"subject": "Refund please", "body": "I was charged twice."})
    assert r.status == 201, r
    if fields:
        r = desk.admin.patch(f"/tickets/{r.data['id']}", fields)
        assert r.status == 200, r
    data: dict[str, Any] = r.data
    return data


def _create(desk: Desk, body: dict[str, Any]) -> dict[str, Any]:
    r = desk.admin.post("/macros", body)
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data


def _fields(r: Any) -> dict[str, str]:
    assert r.status == 422, r
    return {e["field"]: e["message"] for e in r.data["errors"]}


# --- CRUD and permissions ----------------------------------------------------------------------


def test_admin_creates_reads_replaces_and_deletes(desk: Desk) -> None:
    m = _create(desk, ASK)
    assert m["name"] == ASK["name"]
    assert m["visibility"] == "everyone"
    assert m["active"] is True
    assert m["reply"] == {"body": ASK["reply"]["body"], "public": True}
    assert m["changes"]["status"] == "pending"
    assert m["changes"]["add_tags"] == ["awaiting-order-number"]
    assert m["usage_count"] == 0
    assert m["created_by"] == "admin@desk.test"
    by_name = desk.admin.get(f"/macros/{quote('ask FOR order number')}")
    assert by_name.status == 200
    assert by_name.data["id"] == m["id"]
    # PUT replaces the definition; the answer is a definition that PUTs back to the same.
    new = {**ASK, "description": "Which order?", "changes": {"status": "pending"}}
    r = desk.admin.call("PUT", f"/macros/{m['id']}", new)
    assert r.status == 200, r
    assert r.data["description"] == "Which order?"
    assert "add_tags" not in r.data["changes"]
    assert desk.admin.post("/macros", {**ASK, "name": "ASK FOR ORDER NUMBER"}).status == 422
    for ref in ("9" * 30, "\u00b2", "0"):  # too large for an id, not ASCII, no such id
        assert desk.admin.get(f"/macros/{quote(ref)}").status == 404
    assert desk.admin.call("DELETE", f"/macros/{m['id']}").status == 204
    assert desk.admin.get(f"/macros/{m['id']}").status == 404


def test_agents_read_only_what_they_can_see_and_customers_nothing(desk: Desk) -> None:
    _create(desk, ASK)
    _create(desk, ESCALATE)  # Tier 1: alice
    _create(
        desk, {"name": "Carol's sign-off", "visibility": "personal", "owner": "carol@desk.test"}
    )
    _create(desk, {"name": "Retired", "active": False})
    carol = _agent("carol@desk.test")  # Tier 2
    names = [m["name"] for m in desk.agent.get("/macros").data["items"]]
    assert names == ["Escalate to Tier 2", "Ask for order number"]  # by position, then name
    assert [m["name"] for m in carol.get("/macros").data["items"]] == [
        "Carol's sign-off",
        "Ask for order number",
    ]
    assert desk.admin.get("/macros").data["count"] == 4
    assert desk.agent.get(f"/macros/{quote(ESCALATE['name'])}").status == 200
    assert carol.get(f"/macros/{quote(ESCALATE['name'])}").status == 404
    assert desk.agent.get("/macros/Retired").status == 404
    # Agents do not write; customers see nothing at all.
    assert desk.agent.post("/macros", {"name": "Mine"}).status == 403
    assert desk.agent.call("DELETE", f"/macros/{quote(ASK['name'])}").status == 403
    assert desk.customer.get("/macros").status == 403
    assert desk.customer.get(f"/macros/{quote(ASK['name'])}").status == 403
    t = _ticket(desk)
    path = f"/tickets/{t['id']}/macros/{quote(ASK['name'])}"
    assert desk.customer.post(f"{path}/preview").status == 403
    assert desk.customer.post(f"{path}/apply", {"expected_version": t["version"]}).status == 403


def test_invalid_macros_are_refused_naming_the_field(desk: Desk) -> None:
    bad = {
        "name": "Broken",
        "reply": {"body": "Hi {{ requester.nmae }}"},
        "changes": {
            "status": "solvd",
            "assignee": "nobody@desk.test",
            "team": "Tier 9",
            "custom_fields": {"plan": "gold", "colour": "red"},
        },
    }
    errors = _fields(desk.admin.post("/macros", bad))
    assert "unknown placeholder {{ requester.nmae }}" in errors["reply.body"]
    assert "requester.name" in errors["reply.body"]  # the suggestion
    assert "solvd" in errors["changes.status"]
    assert "'solved'" in errors["changes.status"]
    assert "nobody@desk.test" in errors["changes.assignee"]
    assert "Tier 9" in errors["changes.team"]
    assert "gold" in errors["changes.custom_fields.plan"]
    assert "unknown custom field" in errors["changes.custom_fields.colour"]
    # The shape: unknown keys, wrong types, visibility without its team.
    errors = _fields(desk.admin.post("/macros", {"name": "X", "changes": {"priorty": "high"}}))
    assert "changes.priorty" in errors
    errors = _fields(desk.admin.post("/macros", {"name": "X", "visibility": "team"}))
    assert errors["team"].startswith("is required")
    errors = _fields(desk.admin.post("/macros", {"name": "X", "team": "Tier 1"}))
    assert "only for visibility 'team'" in errors["team"]
    errors = _fields(desk.admin.post("/macros", {"name": "X", "changes": {"status": None}}))
    assert "cannot be cleared" in errors["changes.status"]
    assert desk.admin.get("/macros").data["count"] == 0


# --- preview and apply -------------------------------------------------------------------------


def test_preview_renders_placeholders_and_writes_nothing(desk: Desk) -> None:
    _create(desk, ASK)
    _create(desk, ESCALATE)
    t = _ticket(desk, tags=["tier1"])
    events = desk.agent.get(f"/tickets/{t['id']}/events").data
    r = desk.agent.post(f"/tickets/{t['id']}/macros/{quote(ASK['name'])}/preview")
    assert r.status == 200, r
    assert r.data["body"] == 'Hi Cora, about "Refund please": which order number is it?'
    assert r.data["version"] == t["version"]
    assert r.data["public"] is True
    assert r.data["changes"] == [
        {"field": "status", "from": "new", "to": "pending"},
        {"field": "tags", "from": ["tier1"], "to": ["awaiting-order-number", "tier1"]},
    ]
    # The body is filled from the ticket as the macro leaves it.
    r = desk.agent.post(f"/tickets/{t['id']}/macros/{quote(ESCALATE['name'])}/preview")
    assert r.data["body"] == "Passed to Tier 2 at high priority."
    assert r.data["public"] is False
    assert [c["field"] for c in r.data["changes"]] == ["priority", "team", "tags"]
    after = desk.agent.get(f"/tickets/{t['id']}").data
    assert after["version"] == t["version"]
    assert after["status"] == "new"
    assert desk.agent.get(f"/tickets/{t['id']}/events").data == events
    assert desk.admin.get(f"/macros/{quote(ASK['name'])}").data["usage_count"] == 0


def test_apply_is_one_update_caused_by_the_agent(desk: Desk) -> None:
    _create(desk, ESCALATE)
    t = _ticket(desk, tags=["tier1"])
    updates = len(desk.admin.get(f"/tickets/{t['id']}/updates").data)
    r = desk.agent.post(
        f"/tickets/{t['id']}/macros/{quote(ESCALATE['name'])}/apply",
        {"expected_version": t["version"]},
    )
    assert r.status == 200, r
    assert r.data["ticket"]["version"] == t["version"] + 1
    assert r.data["ticket"]["team"] == "Tier 2"
    assert r.data["ticket"]["priority"] == "high"
    assert r.data["ticket"]["tags"] == []
    assert r.data["usage_count"] == 1
    # Alice handed the ticket to Tier 2 (out of her scope): the admin reads what happened.
    assert len(desk.admin.get(f"/tickets/{t['id']}/updates").data) == updates + 1
    events = desk.admin.get(f"/tickets/{t['id']}/events").data
    last = [e for e in events if e["update_id"] == events[-1]["update_id"]]
    mine = [e for e in last if e["cause_detail"] == "macro Escalate to Tier 2"]
    assert {e["cause"] for e in mine} == {"token"}
    assert {e["actor"] for e in mine} == {"alice@desk.test"}
    assert {(e["kind"], e["field"]) for e in mine} >= {
        ("field_changed", "priority"),
        ("field_changed", "team"),
        ("note_added", ""),
    }
    notes = [m for m in desk.admin.get(f"/tickets/{t['id']}/messages").data if not m["public"]]
    assert [n["body"] for n in notes] == ["Passed to Tier 2 at high priority."]
    assert notes[0]["author"] == "alice@desk.test"
    assert desk.admin.get("/outbox", ticket=t["id"]).data["items"] == []  # a note is not sent
    # So a second apply by her cannot find it.
    r = desk.agent.post(
        f"/tickets/{t['id']}/macros/{quote(ESCALATE['name'])}/apply",
        {"expected_version": t["version"] + 1},
    )
    assert r.status == 404


def test_stale_version_is_409_and_changes_nothing(desk: Desk) -> None:
    _create(desk, ASK)
    t = _ticket(desk)
    desk.agent.patch(f"/tickets/{t['id']}", {"priority": "low", "version": t["version"]})
    r = desk.agent.post(
        f"/tickets/{t['id']}/macros/{quote(ASK['name'])}/apply",
        {"expected_version": t["version"]},
    )
    assert r.status == 409, r
    assert r.data["current_version"] == t["version"] + 1
    after = desk.agent.get(f"/tickets/{t['id']}").data
    assert after["status"] == "new"
    assert after["tags"] == []
    assert after["message_count"] == 1
    assert desk.admin.get(f"/macros/{quote(ASK['name'])}").data["usage_count"] == 0
    assert desk.agent.post(f"/tickets/{t['id']}/macros/{quote(ASK['name'])}/apply", {}).status == (
        422
    )


def test_apply_needs_a_visible_macro_and_an_accessible_ticket(desk: Desk) -> None:
    _create(desk, {**ESCALATE, "team": "Tier 2"})  # Tier 2 only
    _create(desk, {"name": "Retired", "active": False, "changes": {"priority": "low"}})
    t = _ticket(desk)
    v = {"expected_version": t["version"]}
    esc = quote(ESCALATE["name"])
    assert desk.agent.post(f"/tickets/{t['id']}/macros/{esc}/apply", v).status == 404
    assert desk.agent.post(f"/tickets/{t['id']}/macros/{esc}/preview").status == 404
    assert desk.admin.post(f"/tickets/{t['id']}/macros/Retired/apply", v).status == 409
    billing = _ticket(desk)
    desk.admin.patch(f"/tickets/{billing['id']}", {"team": "Billing"})
    _create(desk, ASK)
    r = desk.agent.post(f"/tickets/{billing['id']}/macros/{quote(ASK['name'])}/preview")
    assert r.status == 404  # Billing's ticket is outside alice's scope
    assert desk.agent.post(f"/tickets/999999/macros/{quote(ASK['name'])}/preview").status == 404


@pytest.mark.django_db(transaction=True)
def test_public_reply_is_delivered_like_any_agent_reply(desk: Desk, smtp: Any) -> None:
    _create(desk, ASK)
    t = _ticket(desk)
    r = desk.agent.post(
        f"/tickets/{t['id']}/macros/{quote(ASK['name'])}/apply",
        {"expected_version": t["version"]},
    )
    assert r.status == 200, r
    assert r.data["ticket"]["status"] == "pending"
    outbox = desk.agent.get("/outbox", ticket=t["id"]).data["items"]
    assert [i["kind"] for i in outbox] == ["reply"]
    call_command("worker", batch=True, verbosity=0)
    assert len(smtp.received) == 1
    assert smtp.envelopes[0][1] == [desk.customer_email]
    assert smtp.received[0]["Subject"] == f"Re: Refund please [#{t['id']}]"
    content = smtp.received[0].get_body(("plain",)).get_content().replace("\r\n", "\n")
    body = content.partition("\n-- \n")[0].strip()  # above the footer
    assert body == 'Hi Cora, about "Refund please": which order number is it?'
    kinds = [e["kind"] for e in desk.agent.get(f"/tickets/{t['id']}/events").data]
    assert kinds.count("outbox_queued") == 1
    assert "delivered" in kinds
