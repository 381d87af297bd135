"""The ordered SLA policy list through the REST API: replaced whole (YAML or JSON), all or
nothing, exported as YAML; a calendar a policy names cannot be deleted or renamed away."""

from __future__ import annotations

from typing import Any

from api_helpers import Api, ApiResponse, Desk

CALENDAR = {"time_zone": "Europe/Berlin", "weekly": {"mon": [{"start": "09:00", "end": "17:00"}]}}
POLICIES: list[dict[str, Any]] = [
    {
        "name": "Enterprise",
        "calendar": "Berlin",
        "conditions": {"all": [{"field": "organization.tier", "op": "is", "value": "enterprise"}]},
        "targets": {"first_reply": {"urgent": "1h"}},
    },
    {"name": "Default", "targets": {"resolution": "3d"}},
]
#: What is stored and read back: the normal form (defaults written out).
NORMAL: list[dict[str, Any]] = [
    {
        "name": "Enterprise",
        "conditions": POLICIES[0]["conditions"],
        "targets": {"first_reply": {"urgent": "1h"}},
        "time": "business",
        "pause_statuses": ["pending", "on-hold"],
        "calendar": "Berlin",
    },
    {
        "name": "Default",
        "targets": {"resolution": "3d"},
        "time": "business",
        "pause_statuses": ["pending", "on-hold"],
    },
]
POLICIES_YAML = """\
policies:
  - name: Enterprise
    calendar: Berlin
    targets: {first_reply: {urgent: 1h}}
  - name: Default
    targets: {resolution: 3d}
"""


def _put(api: Api, body: Any) -> ApiResponse:
    return api.call("PUT", "/sla-policies", body)


def _calendar(desk: Desk) -> None:
    r = desk.admin.post("/calendars", {"name": "Berlin", "definition": CALENDAR})
    assert r.status == 201, r


def test_replace_read_and_export(desk: Desk) -> None:
    _calendar(desk)
    assert desk.agent.get("/sla-policies").data == {"count": 0, "policies": []}
    r = _put(desk.admin, {"policies": POLICIES})
    assert r.status == 200, r
    assert r.data["count"] == 2
    assert [p["name"] for p in r.data["policies"]] == ["Enterprise", "Default"]
    assert desk.agent.get("/sla-policies").data["policies"] == NORMAL
    assert desk.agent.get("/calendars/Berlin").data["policies"] == ["Enterprise"]
    exported = desk.agent.client.get("/api/sla-policies", {"format": "yaml"})
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    assert text.startswith("policies:\n- name: Enterprise\n")
    # The export loads back to the same list, and a YAML import replaces the order whole.
    r = _put(desk.admin, {"yaml": text, "source": "sla.yaml"})
    assert r.data["policies"] == NORMAL
    r = _put(desk.admin, {"policies": list(reversed(POLICIES))})
    assert [p["name"] for p in r.data["policies"]] == ["Default", "Enterprise"]
    r = _put(desk.admin, {"policies": []})
    assert r.data == {"count": 0, "policies": []}


def test_permissions(desk: Desk, client: Any) -> None:
    assert client.get("/api/sla-policies").status_code == 401
    assert desk.customer.get("/sla-policies").status == 403
    r = _put(desk.agent, {"policies": []})
    assert r.status == 403
    assert r.data["detail"] == "this needs an admin token"


def test_bad_list_changes_nothing(desk: Desk) -> None:
    _calendar(desk)
    assert _put(desk.admin, {"policies": POLICIES}).status == 200
    bad = [
        {"name": "Enterprise", "calendar": "Berln", "targets": {}},
        {"name": "enterprise", "conditions": [], "targets": "4h"},
        {"targets": {}},
        "Default",
    ]
    r = _put(desk.admin, {"policies": bad, "source": "admin-ui"})
    assert r.status == 422, r
    assert r.data["detail"] == "invalid SLA policies; nothing was changed"
    texts = [e["text"] for e in r.data["errors"]]
    assert texts == [
        'admin-ui: policies[0].calendar: "Berln" is not a stored calendar '
        "(did you mean 'Berlin'?)",
        "admin-ui: policies[1].name: 'enterprise' is already policies[0]",
        "admin-ui: policies[1].conditions: is not an object of conditions",
        "admin-ui: policies[1].targets: is not an object of targets",
        "admin-ui: policies[2].name: is required",
        "admin-ui: policies[3]: is not a policy object {name, conditions, targets}",
    ]
    assert r.data["errors"][0]["suggestion"] == "Berlin"
    assert desk.agent.get("/sla-policies").data["policies"] == NORMAL


def test_bad_yaml_names_line(desk: Desk) -> None:
    r = _put(desk.admin, {"yaml": POLICIES_YAML, "source": "sla.yaml"})
    assert r.status == 422, r
    (issue,) = r.data["errors"]
    assert issue["line"] == 3
    assert issue["path"] == "policies[0].calendar"
    r = _put(desk.admin, {"yaml": "policies:\n  - name: [x\n", "source": "sla.yaml"})
    assert r.status == 422
    assert r.data["errors"][0]["text"].startswith("sla.yaml:3: YAML syntax error")
    r = _put(desk.admin, {"yaml": "polices: []\n", "source": "sla.yaml"})
    texts = [e["text"] for e in r.data["errors"]]
    assert (
        texts[0]
        == "sla.yaml:1: polices: unknown key; expected 'policies' (did you mean 'policies'?)"
    )
    r = _put(desk.admin, {"yaml": "policies: []\n", "policies": []})
    assert r.status == 422
    assert r.data["errors"] == [
        {"field": "yaml", "message": "send exactly one of yaml or policies"}
    ]


def test_calendar_named_by_a_policy_stays(desk: Desk) -> None:
    _calendar(desk)
    assert _put(desk.admin, {"policies": POLICIES}).status == 200
    r = desk.admin.call("DELETE", "/calendars/Berlin")
    assert r.status == 409, r
    assert r.data["detail"] == (
        "calendar 'Berlin' is used by SLA policy 'Enterprise'; "
        "attach another calendar or change them first"
    )
    r = desk.admin.patch("/calendars/Berlin", {"name": "Berlin DE"})
    assert r.status == 409, r
    assert "named by SLA policy 'Enterprise'" in r.data["detail"]


def test_stored_policies_cache_follows_changes(desk: Desk) -> None:
    from flowdesk.sla import store

    _calendar(desk)
    assert store.stored_policies() == []
    _put(desk.admin, {"policies": POLICIES})
    assert store.stored_policies() == [{"name": p["name"], **p} for p in NORMAL]
    copy = store.stored_policies()
    copy[0]["name"] = "changed"
    assert store.stored_policies()[0]["name"] == "Enterprise"
    assert set(store.calendars()) == {"Berlin"}
