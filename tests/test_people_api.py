"""The directory through the REST API: /me, agents, customers, teams, organizations and
custom-field definitions; the permission matrix, 409s (duplicates, races, things in use) and the
guard that keeps renames and deactivations from breaking the active rule set."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from api_helpers import ADMIN, Api, ApiResponse, Desk


def _delete(api: Api, path: str) -> ApiResponse:
    return api.call("DELETE", path)


def _id(api: Api, path: str, **query: Any) -> int:
    r = api.get(path, **query)
    assert r.status == 200, r
    assert r.data["count"] == 1, r
    return int(r.data["items"][0]["id"])


def _fields(r: ApiResponse) -> dict[str, str]:
    assert r.status == 422, r
    return {e["field"]: e["message"] for e in r.data["errors"]}


def _ticket(desk: Desk, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Help", "body": "Please.", "requester_email": "req@example.org"}
    body.update(fields)
    r = desk.agent.post("/tickets", body)
    assert r.status == 201, r
    return dict(r.data)


# --- /me and the permission matrix --------------------------------------------------------------


def test_me_for_each_role(desk: Desk, client: Any) -> None:
    me = desk.admin.get("/me")
    assert me.status == 200
    assert me.data["email"] == ADMIN
    assert me.data["role"] == "admin"
    agent = desk.agent.get("/me").data
    assert agent["role"] == "agent"
    assert agent["teams"] == ["Tier 1"]
    assert agent["organization"] is None
    cust = desk.customer.get("/me").data
    assert cust["email"] == desk.customer_email
    assert cust["role"] == "customer"
    assert cust["organization"]["name"] == "Acme"
    assert cust["teams"] == []
    assert "attributes" not in cust
    assert client.get("/api/me").status_code == 401


def _bodies(role: str) -> dict[str, dict[str, Any]]:
    return {
        "/agents": {"email": f"new-{role}@desk.test", "name": "New"},
        "/customers": {"email": f"cust-{role}@example.org"},
        "/teams": {"name": f"Team {role}"},
        "/organizations": {"name": f"Org {role}"},
        "/custom-fields": {"key": f"f_{role}", "label": "F", "kind": "text"},
    }


# Who may do what: agents+ read everything, admins write; agents also write customers.
WRITE_ROLES = {
    "/agents": {"admin"},
    "/customers": {"admin", "agent"},
    "/teams": {"admin"},
    "/organizations": {"admin"},
    "/custom-fields": {"admin"},
}


@pytest.mark.parametrize("path", sorted(WRITE_ROLES))
def test_permission_matrix(desk: Desk, path: str) -> None:
    apis = {"admin": desk.admin, "agent": desk.agent, "customer": desk.customer}
    for role, api in apis.items():
        listed = api.get(path)
        assert listed.status == (403 if role == "customer" else 200), (role, listed)
        created = api.post(path, _bodies(role)[path])
        assert created.status == (201 if role in WRITE_ROLES[path] else 403), (role, created)
    some_id = desk.admin.get(path).data["items"][0]["id"]
    assert desk.customer.get(f"{path}/{some_id}").status == 403
    assert desk.agent.get(f"{path}/{some_id}").status == 200
    patched = desk.agent.patch(f"{path}/{some_id}", {})
    assert patched.status == (200 if "agent" in WRITE_ROLES[path] else 403), patched
    assert desk.customer.patch(f"{path}/{some_id}", {}).status == 403
    if path not in ("/agents", "/customers"):
        assert _delete(desk.agent, f"{path}/{some_id}").status == 403
    assert desk.admin.get(f"{path}/999999").status == 404
    assert desk.admin.get(f"{path}/99999999999999999999999").status == 404


def test_customer_cannot_read_itself_through_the_directory(desk: Desk) -> None:
    me = desk.customer.get("/me").data
    r = desk.customer.get(f"/customers/{me['id']}")
    assert r.status == 403
    assert "/api/me" in r.data["detail"]


ODD_BODIES: list[Any] = [
    [1],
    "x",
    7,
    {"name": "a\x00b"},
    {"name": None, "email": None, "label": None},
    {"email": 5, "teams": "Tier 1", "members": [None], "choices": [[]]},
    {"attributes": "x"},
    {"attributes": {"a": float("inf")}},
    {"role": ["admin"], "active": "maybe", "organization": 3, "kind": {}},
]


@pytest.mark.parametrize("path", sorted(WRITE_ROLES))
def test_malformed_input_is_4xx_never_500(desk: Desk, path: str) -> None:
    some_id = desk.admin.get(path).data["items"][0]["id"]
    for body in ODD_BODIES:
        created = desk.admin.call("POST", path, body)
        assert 400 <= created.status < 500, (body, created)
        patched = desk.admin.call("PATCH", f"{path}/{some_id}", body)
        assert 400 <= patched.status < 500, (body, patched)
    for query in ({"offset": 10**12}, {"limit": 0}, {"q": "a\x00"}, {"active": "maybe"}):
        r = desk.admin.get(path, **query)
        assert r.status == 422 or (r.status == 200 and "active" in query), (query, r)


# --- agents ---------------------------------------------------------------------------------


def test_agents_create_read_update_and_filters(desk: Desk) -> None:
    from flowdesk.accounts.models import User

    r = desk.admin.post(
        "/agents",
        {
            "email": "Dana@Desk.TEST",
            "name": "Dana",
            "role": "agent",
            "teams": ["Tier 1", "Billing"],
            "password": "correct horse battery",
        },
    )
    assert r.status == 201, r
    dana = r.data
    assert dana["email"] == "dana@desk.test"
    assert dana["teams"] == ["Billing", "Tier 1"]
    assert dana["active"] is True
    assert "password" not in dana
    assert User.objects.get(pk=dana["id"]).check_password("correct horse battery")
    assert desk.agent.get(f"/agents/{dana['id']}").data == dana

    assert desk.agent.get("/agents").data["count"] == 5
    tier1 = desk.agent.get("/agents", team="Tier 1").data["items"]
    assert [a["email"] for a in tier1] == ["alice@desk.test", "dana@desk.test"]
    assert [a["email"] for a in desk.agent.get("/agents", team="none").data["items"]] == [ADMIN]
    assert desk.agent.get("/agents", q="dan").data["count"] == 1
    assert desk.agent.get("/agents", role="admin").data["count"] == 1
    page = desk.agent.get("/agents", limit=2, offset=4).data
    assert page["count"] == 5
    assert len(page["items"]) == 1

    u = desk.admin.patch(
        f"/agents/{dana['id']}", {"name": "Dana S.", "role": "admin", "teams": ["Tier 2"]}
    )
    assert u.status == 200, u
    assert u.data["name"] == "Dana S."
    assert u.data["role"] == "admin"
    assert u.data["teams"] == ["Tier 2"]
    assert User.objects.get(pk=dana["id"]).is_staff
    customer_id = desk.customer.get("/me").data["id"]
    assert desk.admin.get(f"/agents/{customer_id}").status == 404


def test_agent_bad_input_and_duplicates(desk: Desk) -> None:
    by_field = _fields(
        desk.admin.post(
            "/agents", {"email": "x@desk.test", "teams": ["Tier 1", "Tier 9"], "password": "short"}
        )
    )
    assert "Tier 1" in by_field["teams[1]"]
    assert "password" in by_field
    assert "teams[0]" not in by_field
    assert set(_fields(desk.admin.post("/agents", {"email": "nope", "role": "boss"}))) == {
        "email",
        "role",
    }
    assert set(_fields(desk.admin.post("/agents", {"email": "customer"}))) == {"email"}
    r = desk.admin.post("/agents", {"email": "y@desk.test", "organization": "Acme"})
    assert _fields(r) == {"organization": "Extra inputs are not permitted"}
    assert set(_fields(desk.admin.post("/agents", {"email": "z@desk.test", "role": "customer"})))
    dup = desk.admin.post("/agents", {"email": "ALICE@desk.test"})
    assert dup.status == 409
    assert "agent" in dup.data["detail"]
    taken = desk.admin.post("/agents", {"email": desk.customer_email})
    assert taken.status == 409
    assert "customer" in taken.data["detail"]
    alice = _id(desk.admin, "/agents", q="alice")
    assert set(_fields(desk.admin.patch(f"/agents/{alice}", {"email": "a@b.c"}))) == {"email"}
    assert desk.admin.get("/agents").data["count"] == 4


def test_last_admin_is_never_demoted_or_deactivated(desk: Desk) -> None:
    admin_id = desk.admin.get("/me").data["id"]
    for body in ({"role": "agent"}, {"active": False}):
        r = desk.admin.patch(f"/agents/{admin_id}", body)
        assert r.status == 409, r
        assert "last active admin" in r.data["detail"], r
    assert desk.admin.post(f"/agents/{admin_id}/deactivate").status == 409
    carol = _id(desk.admin, "/agents", q="carol")
    assert desk.admin.patch(f"/agents/{carol}", {"role": "admin"}).status == 200
    # With a second admin the first may step down.
    r = desk.admin.patch(f"/agents/{admin_id}", {"role": "agent"})
    assert r.status == 200
    assert r.data["role"] == "agent"
    assert desk.admin.get("/agents").status == 200  # still an agent: reads
    assert desk.admin.post("/teams", {"name": "X"}).status == 403  # no longer writes


def test_deactivation_keeps_history_and_stops_the_token(desk: Desk) -> None:
    t = _ticket(desk, assignee="alice@desk.test")
    desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "On it."})
    alice = _id(desk.admin, "/agents", q="alice")
    r = desk.admin.post(f"/agents/{alice}/deactivate")
    assert r.status == 200, r
    assert r.data["active"] is False, r
    assert desk.agent.get("/me").status == 401
    ticket = desk.admin.get(f"/tickets/{t['id']}").data
    assert ticket["assignee"] == "alice@desk.test"
    events = desk.admin.get(f"/tickets/{t['id']}/events").data
    assert {e["actor"] for e in events} == {"alice@desk.test"}
    msgs = desk.admin.get(f"/tickets/{t['id']}/messages").data
    assert [m["author"] for m in msgs] == ["req@example.org", "alice@desk.test"]
    assert desk.admin.get("/agents", active="false").data["items"][0]["id"] == alice
    assert desk.admin.get(f"/agents/{alice}").data["teams"] == ["Tier 1"]
    # No hard delete: the route does not exist.
    assert desk.admin.client.delete(f"/api/agents/{alice}").status_code == 405
    back = desk.admin.patch(f"/agents/{alice}", {"active": True})
    assert back.status == 200
    assert back.data["active"] is True
    assert desk.agent.get("/me").status == 200


# --- customers ------------------------------------------------------------------------------


def test_customers_create_update_list(desk: Desk) -> None:
    r = desk.agent.post(
        "/customers",
        {
            "email": "Gus@Globex.TEST",
            "name": "Gus",
            "organization": "Acme",
            "attributes": {"vip": True, "seats": 40, "plan": "pro", "score": 4.5},
        },
    )
    assert r.status == 201, r
    gus = r.data
    assert gus["email"] == "gus@globex.test"
    assert gus["organization"] == "Acme"
    assert gus["attributes"] == {"vip": True, "seats": 40, "plan": "pro", "score": 4.5}
    assert desk.agent.get(f"/customers/{gus['id']}").data == gus

    assert desk.agent.get("/customers").data["count"] == 3
    acme = desk.agent.get("/customers", organization="Acme").data["items"]
    assert [c["email"] for c in acme] == [desk.customer_email, "gus@globex.test"]
    assert desk.agent.get("/customers", organization="none").data["count"] == 0
    assert desk.agent.get("/customers", q="gus globex").data["count"] == 1
    page = desk.agent.get("/customers", limit=1, offset=1).data
    assert page["count"] == 3
    assert page["limit"] == 1
    assert page["offset"] == 1
    assert [c["email"] for c in page["items"]] == [desk.other_customer_email]
    assert desk.agent.get("/customers", limit=201).status == 422

    u = desk.agent.patch(
        f"/customers/{gus['id']}",
        {"email": "GUS@initech.test", "organization": None, "attributes": {"vip": False}},
    )
    assert u.status == 200, u
    assert u.data["email"] == "gus@initech.test"
    assert u.data["organization"] is None
    assert u.data["attributes"] == {"vip": False}
    assert u.data["name"] == "Gus"
    same = desk.agent.patch(f"/customers/{gus['id']}", {})
    assert same.status == 200
    assert same.data == u.data
    # A customer's id is not an agent's, and the reverse.
    alice = _id(desk.admin, "/agents", q="alice")
    assert desk.agent.get(f"/customers/{alice}").status == 404
    # Tickets opened for the customer by e-mail find the edited row.
    t = _ticket(desk, requester_email="gus@initech.test")
    assert t["requester"]["id"] == gus["id"]


def test_customer_bad_input_and_duplicates(desk: Desk) -> None:
    by_field = _fields(
        desk.agent.post(
            "/customers",
            {
                "email": "h@x.test",
                "organization": "Nowhere",
                "attributes": {
                    "nested": {"a": 1},
                    "list": [1],
                    "empty": None,
                    "bad key": 1,
                    "long": "x" * 1001,
                    "big": 2**64,
                },
            },
        )
    )
    assert set(by_field) == {
        "organization",
        "attributes.nested",
        "attributes.list",
        "attributes.empty",
        "attributes.bad key",
        "attributes.long",
        "attributes.big",
    }
    dup = desk.agent.post("/customers", {"email": desk.customer_email.upper()})
    assert dup.status == 409
    assert "customer" in dup.data["detail"]
    agent_email = desk.agent.post("/customers", {"email": "alice@desk.test"})
    assert agent_email.status == 409
    finn = _id(desk.agent, "/customers", q="finn")
    clash = desk.agent.patch(f"/customers/{finn}", {"email": desk.customer_email})
    assert clash.status == 409
    assert set(_fields(desk.agent.patch(f"/customers/{finn}", {"role": "agent"}))) == {"role"}
    assert set(_fields(desk.agent.patch(f"/customers/{finn}", {"attributes": [1]})))
    assert desk.agent.get(f"/customers/{finn}").data["email"] == desk.other_customer_email


# --- teams ----------------------------------------------------------------------------------


def test_teams_create_update_delete(desk: Desk) -> None:
    r = desk.admin.post(
        "/teams",
        {"name": " Escalations ", "description": "Hard cases", "members": ["CAROL@desk.test"]},
    )
    assert r.status == 201, r
    team = r.data
    assert team["name"] == "Escalations"
    assert team["ticket_count"] == 0
    assert [m["email"] for m in team["members"]] == ["carol@desk.test"]
    assert desk.agent.get(f"/teams/{team['id']}").data == team
    assert [t["name"] for t in desk.agent.get("/teams").data["items"]] == [
        "Billing",
        "Escalations",
        "Tier 1",
        "Tier 2",
    ]
    assert desk.agent.get("/teams", q="tier").data["count"] == 2

    u = desk.admin.patch(
        f"/teams/{team['id']}",
        {"name": "Escalation", "members": ["alice@desk.test", "erin@desk.test"]},
    )
    assert u.status == 200, u
    assert u.data["name"] == "Escalation"
    assert u.data["description"] == "Hard cases"
    assert [m["email"] for m in u.data["members"]] == ["alice@desk.test", "erin@desk.test"]
    assert desk.agent.get("/me").data["teams"] == ["Escalation", "Tier 1"]

    # A deactivated member may stay when the list is echoed back, but is never added.
    erin = _id(desk.admin, "/agents", q="erin")
    assert desk.admin.post(f"/agents/{erin}/deactivate").status == 200
    echoed = desk.admin.patch(f"/teams/{team['id']}", {"members": ["erin@desk.test"]})
    assert echoed.status == 200, echoed
    assert len(echoed.data["members"]) == 1, echoed
    tier1 = _id(desk.admin, "/teams", q="tier 1")
    added = desk.admin.patch(f"/teams/{tier1}", {"members": ["erin@desk.test"]})
    assert set(_fields(added)) == {"members[0]"}

    t = _ticket(desk, team="Escalation")
    used = _delete(desk.admin, f"/teams/{team['id']}")
    assert used.status == 409, used
    assert "1 ticket" in used.data["detail"], used
    assert desk.agent.get(f"/teams/{team['id']}").data["ticket_count"] == 1
    desk.admin.patch(f"/tickets/{t['id']}", {"team": "Tier 1"})
    assert _delete(desk.admin, f"/teams/{team['id']}").status == 204
    assert desk.agent.get(f"/teams/{team['id']}").status == 404
    assert _delete(desk.admin, f"/teams/{team['id']}").status == 404


def test_team_bad_input_and_duplicates(desk: Desk) -> None:
    by_field = _fields(desk.admin.post("/teams", {"name": "  ", "members": ["nobody@x.test"]}))
    assert set(by_field) == {"name", "members[0]"}
    cust = desk.admin.post("/teams", {"name": "T", "members": [desk.customer_email]})
    assert set(_fields(cust)) == {"members[0]"}
    assert "reserved" in _fields(desk.admin.post("/teams", {"name": "None"}))["name"]
    for name in ("Billing", "billing", " BILLING "):
        dup = desk.admin.post("/teams", {"name": name})
        assert dup.status == 409, dup
        assert "Billing" in dup.data["detail"], dup
    tier1 = _id(desk.admin, "/teams", q="tier 1")
    assert desk.admin.patch(f"/teams/{tier1}", {"name": "Tier 2"}).status == 409
    assert desk.admin.patch(f"/teams/{tier1}", {"name": "Tier 1"}).status == 200
    assert desk.agent.get("/teams").data["count"] == 3


# --- organizations --------------------------------------------------------------------------


def test_organizations_create_update_delete(desk: Desk) -> None:
    r = desk.admin.post(
        "/organizations", {"name": "Initech", "attributes": {"tier": "business", "region": "eu"}}
    )
    assert r.status == 201, r
    org = r.data
    assert org["attributes"] == {"tier": "business", "region": "eu"}
    assert org["member_count"] == 0
    assert org["ticket_count"] == 0
    assert desk.agent.get(f"/organizations/{org['id']}").data == org
    assert desk.agent.get("/organizations").data["count"] == 3
    assert desk.agent.get("/organizations", q="init").data["count"] == 1

    tier = _fields(desk.admin.patch(f"/organizations/{org['id']}", {"attributes": {"tier": "x"}}))
    assert "enterprise, business, free" in tier["attributes.tier"]
    u = desk.admin.patch(
        f"/organizations/{org['id']}", {"name": "Initech Ltd", "attributes": {"tier": "free"}}
    )
    assert u.status == 200, u
    assert u.data["name"] == "Initech Ltd", u
    assert u.data["attributes"] == {"tier": "free"}

    desk.agent.post("/customers", {"email": "peter@initech.test", "organization": "Initech Ltd"})
    used = _delete(desk.admin, f"/organizations/{org['id']}")
    assert used.status == 409, used
    assert "1 customer" in used.data["detail"], used
    peter = _id(desk.agent, "/customers", q="peter")
    desk.agent.patch(f"/customers/{peter}", {"organization": None})
    assert _delete(desk.admin, f"/organizations/{org['id']}").status == 204
    assert desk.agent.get(f"/organizations/{org['id']}").status == 404

    acme = _id(desk.admin, "/organizations", q="acme")
    _ticket(desk, requester_email=desk.customer_email)
    used = _delete(desk.admin, f"/organizations/{acme}")
    assert used.status == 409, used
    assert "1 customer and 1 ticket" in used.data["detail"], used


def test_organization_bad_input_and_duplicates(desk: Desk) -> None:
    by_field = _fields(
        desk.admin.post("/organizations", {"name": "", "attributes": {"tier": 3, "x": {}}})
    )
    assert set(by_field) == {"name", "attributes.tier", "attributes.x"}
    dup = desk.admin.post("/organizations", {"name": "ACME"})
    assert dup.status == 409
    assert "Acme" in dup.data["detail"]
    assert desk.admin.post("/organizations", "not an object").status == 422
    nul = desk.admin.post("/organizations", {"name": "a\x00b"})
    assert nul.status == 422


# --- custom-field definitions ---------------------------------------------------------------


def test_custom_fields_create_update_delete(desk: Desk) -> None:
    r = desk.admin.post(
        "/custom-fields",
        {"key": "region", "label": "Region", "kind": "enum", "choices": ["eu", "us"]},
    )
    assert r.status == 201, r
    region = r.data
    assert region == {**region, "key": "region", "kind": "enum", "choices": ["eu", "us"]}
    assert desk.agent.get(f"/custom-fields/{region['id']}").data == region
    assert desk.agent.get("/custom-fields").data["count"] == 3
    assert desk.agent.get("/custom-fields", q="seat").data["count"] == 1
    # The new field is usable on tickets at once.
    t = _ticket(desk, custom_fields={"region": "eu"})

    grow = desk.admin.patch(
        f"/custom-fields/{region['id']}",
        {"label": "Data region", "choices": ["eu", "us", "apac"], "key": "region", "kind": "enum"},
    )
    assert grow.status == 200, grow
    assert grow.data["choices"] == ["eu", "us", "apac"], grow
    assert _ticket(desk, custom_fields={"region": "apac"})["custom_fields"] == {"region": "apac"}
    shrink = desk.admin.patch(f"/custom-fields/{region['id']}", {"choices": ["us"]})
    assert shrink.status == 409, shrink
    assert "'eu' (used by 1 ticket)" in shrink.data["detail"]
    assert "'apac' (used by 1 ticket)" in shrink.data["detail"]
    ok = desk.admin.patch(f"/custom-fields/{region['id']}", {"choices": ["apac", "eu"]})
    assert ok.status == 200
    assert ok.data["choices"] == ["apac", "eu"]

    immutable = _fields(
        desk.admin.patch(f"/custom-fields/{region['id']}", {"key": "zone", "kind": "text"})
    )
    assert set(immutable) == {"key", "kind"}
    assert "immutable" in immutable["kind"]

    used = _delete(desk.admin, f"/custom-fields/{region['id']}")
    assert used.status == 409, used
    assert "2 tickets" in used.data["detail"], used
    seats = _id(desk.agent, "/custom-fields", q="seats")
    assert _delete(desk.admin, f"/custom-fields/{seats}").status == 204
    assert desk.agent.get(f"/custom-fields/{seats}").status == 404
    r = desk.agent.patch(f"/tickets/{t['id']}", {"custom_fields": {"seats": 3}})
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "custom_fields.seats"


def test_custom_field_bad_input_and_duplicates(desk: Desk) -> None:
    by_field = _fields(
        desk.admin.post(
            "/custom-fields",
            {"key": "Bad Key", "label": " ", "kind": "colour", "choices": ["a"]},
        )
    )
    assert set(by_field) == {"key", "label", "kind"}
    assert "enum" in by_field["kind"]
    enum = _fields(desk.admin.post("/custom-fields", {"key": "e", "label": "E", "kind": "enum"}))
    assert set(enum) == {"choices"}
    repeated = _fields(
        desk.admin.post(
            "/custom-fields",
            {"key": "e", "label": "E", "kind": "enum", "choices": ["a", "b", "a", " "]},
        )
    )
    assert set(repeated) == {"choices[2]", "choices[3]"}
    assert set(
        _fields(
            desk.admin.post(
                "/custom-fields", {"key": "n", "label": "N", "kind": "int", "choices": ["1"]}
            )
        )
    ) == {"choices"}
    assert set(
        _fields(
            desk.admin.post(
                "/custom-fields", {"key": "x", "label": "X", "kind": "enum", "choices": [1, 2]}
            )
        )
    ) == {"choices[0]", "choices[1]"}
    for key in ("a__b", "-a", "a-", "1a", "x" * 65):
        assert "key" in _fields(
            desk.admin.post("/custom-fields", {"key": key, "label": "K", "kind": "text"})
        ), key
    dup = desk.admin.post("/custom-fields", {"key": "plan", "label": "P", "kind": "text"})
    assert dup.status == 409
    assert "plan" in dup.data["detail"]
    plan = _id(desk.agent, "/custom-fields", q="plan")
    assert set(_fields(desk.admin.patch(f"/custom-fields/{plan}", {"choices": []}))) == {"choices"}
    assert desk.agent.get("/custom-fields").data["count"] == 2


# --- the rule-reference guard ---------------------------------------------------------------

NAMING_RULES = """
version: 1
templates:
  plan-ack: {subject: "Your {{ custom.plan }} plan", body: "Thanks."}
rules:
  - name: route-acme
    triggers: [created]
    conditions:
      all:
        - {field: organization.name, op: is, value: acme}
        - any:
            - {field: team, op: in, value: [Billing, Tier 1]}
            - none:
                - {field: assignee, op: is, value: erin@desk.test}
    actions:
      - {type: assign_team, team: Tier 2}
  - name: page-carol
    enabled: false
    triggers: [{type: team_changed, to: Tier 1}]
    actions:
      - {type: notify, agents: [carol@desk.test], message: "look"}
  - name: pro-plan
    triggers: [created]
    conditions:
      all:
        - {field: custom.plan, op: is, value: pro}
    actions:
      - {type: add_follower, agent: alice@desk.test}
  - name: ack
    triggers: [created]
    actions:
      - {type: reply, template: plan-ack}
      - {type: escalate, team: Billing, reason: "why not"}
"""


def test_rule_reference_guard(desk: Desk) -> None:
    assert desk.admin.post("/rules", {"yaml": NAMING_RULES}).status == 201

    def refused(r: ApiResponse, *rules: str) -> None:
        assert r.status == 409, r
        detail = r.data["detail"]
        assert "rule set" in detail, detail
        assert all(name in detail for name in rules), detail

    teams = {t["name"]: t["id"] for t in desk.admin.get("/teams").data["items"]}
    refused(desk.admin.patch(f"/teams/{teams['Tier 2']}", {"name": "L2"}), "route-acme")
    refused(
        desk.admin.patch(f"/teams/{teams['Tier 1']}", {"name": "tier 1"}),
        "route-acme",
        "page-carol",
    )
    refused(desk.admin.patch(f"/teams/{teams['Billing']}", {"name": "Money"}), "route-acme", "ack")
    refused(_delete(desk.admin, f"/teams/{teams['Billing']}"), "ack")
    # Other edits of a named team are fine.
    assert desk.admin.patch(f"/teams/{teams['Tier 2']}", {"description": "L2"}).status == 200

    agents = {a["email"]: a["id"] for a in desk.admin.get("/agents").data["items"]}
    refused(desk.admin.post(f"/agents/{agents['carol@desk.test']}/deactivate"), "page-carol")
    refused(desk.admin.patch(f"/agents/{agents['alice@desk.test']}", {"active": False}), "pro-plan")
    refused(desk.admin.post(f"/agents/{agents['erin@desk.test']}/deactivate"), "route-acme")
    # Renaming an agent's display name or teams is not a reference change.
    assert desk.admin.patch(f"/agents/{agents['erin@desk.test']}", {"name": "E"}).status == 200

    acme = _id(desk.admin, "/organizations", q="acme")
    refused(desk.admin.patch(f"/organizations/{acme}", {"name": "Acme Inc"}), "route-acme")
    # Case only: organization.name compares case-insensitively, so no rule breaks.
    assert desk.admin.patch(f"/organizations/{acme}", {"name": "ACME"}).status == 200

    fields = {f["key"]: f["id"] for f in desk.admin.get("/custom-fields").data["items"]}
    refused(_delete(desk.admin, f"/custom-fields/{fields['plan']}"), "pro-plan", "plan-ack")
    refused(
        desk.admin.patch(f"/custom-fields/{fields['plan']}", {"choices": ["starter"]}), "pro-plan"
    )
    ok = desk.admin.patch(f"/custom-fields/{fields['plan']}", {"choices": ["pro", "max"]})
    assert ok.status == 200, ok
    assert _delete(desk.admin, f"/custom-fields/{fields['seats']}").status == 204

    # Once the rule set no longer names them, the same changes go through.
    plain = (
        "version: 1\nrules:\n  - name: x\n    triggers: [created]\n    actions: [{type: stop}]\n"
    )
    assert desk.admin.post("/rules", {"yaml": plain}).status == 201
    assert desk.admin.patch(f"/teams/{teams['Tier 2']}", {"name": "L2"}).status == 200
    assert desk.admin.post(f"/agents/{agents['carol@desk.test']}/deactivate").status == 200
    assert _delete(desk.admin, f"/custom-fields/{fields['plan']}").status == 204
    assert desk.admin.patch(f"/organizations/{acme}", {"name": "Acme Inc"}).status == 200


def test_demo_rules_name_their_teams(demo_rules: Desk) -> None:
    desk = demo_rules
    tier2 = _id(desk.admin, "/teams", q="tier 2")
    r = desk.admin.patch(f"/teams/{tier2}", {"name": "Second line"})
    assert r.status == 409
    for rule in ("enterprise-first", "urgent-unassigned-alert", "escalate-repeated-follow-ups"):
        assert rule in r.data["detail"]
    assert "route-billing" not in r.data["detail"]


# --- races on PostgreSQL (and file SQLite) --------------------------------------------------


def _race(requests: list[Callable[[], ApiResponse]]) -> list[int]:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name in ("", ":memory:") or "mode=memory" in name):
        pytest.skip("an in-memory SQLite database is private to one connection")
    barrier = threading.Barrier(len(requests))
    results: list[int] = []

    def worker(send: Callable[[], ApiResponse]) -> None:
        try:
            barrier.wait()
            results.append(send().status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(r,)) for r in requests]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sorted(results)


RACES = {
    "/agents": {"email": "twin@desk.test"},
    "/customers": {"email": "twin@example.org"},
    "/teams": {"name": "Twins"},
    "/organizations": {"name": "Twins Inc"},
    "/custom-fields": {"key": "twin", "label": "Twin", "kind": "text"},
}


@pytest.mark.parametrize("precheck", [True, False], ids=["precheck", "database-only"])
@pytest.mark.parametrize("path", sorted(RACES))
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_one_wins(
    desk: Desk, path: str, precheck: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins create the same natural key at the same moment: 201 and 409, never a 500.
    database-only switches the friendly pre-checks off, so both requests reach the INSERT and
    the unique constraint (and the savepoint around it) decides."""
    if not precheck:
        from flowdesk.accounts import services
        from flowdesk.tickets import fielddefs

        for module, check in (
            (services, "_refuse_taken_name"),
            (services, "_refuse_taken_email"),
            (fielddefs, "_refuse_taken_key"),
        ):
            monkeypatch.setattr(module, check, lambda *args: None)
    token = desk.admin.client.defaults["HTTP_AUTHORIZATION"].split()[1]
    statuses = _race([lambda: Api(token).post(path, RACES[path]) for _ in range(2)])
    assert statuses == [201, 409], statuses
    key, value = next(iter(RACES[path].items()))
    listed = desk.admin.get(path, limit=200).data["items"]
    assert [i[key] for i in listed].count(value) == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_leave_one_admin(desk: Desk) -> None:
    from flowdesk.accounts.models import Role, User
    from flowdesk.accounts.services import do_create_token

    admin_id = desk.admin.get("/me").data["id"]
    carol = User.objects.get(email="carol@desk.test")
    carol.role = Role.ADMIN
    carol.save(update_fields=["role"])
    first = desk.admin.client.defaults["HTTP_AUTHORIZATION"].split()[1]
    second = do_create_token(carol, "t")[1]
    statuses = _race(
        [
            lambda: Api(first).patch(f"/agents/{carol.pk}", {"role": "agent"}),
            lambda: Api(second).patch(f"/agents/{admin_id}", {"role": "agent"}),
        ]
    )
    # The loser is refused either way: 409 when both checked the admin count at once (the last
    # admin stays), 403 when the winner had already committed (its actor is no admin any more).
    assert sorted(statuses) in ([200, 403], [200, 409]), statuses
    assert User.objects.filter(role=Role.ADMIN, is_active=True).count() == 1
