"""Bad input never gets a 500: every malformed request is a 4xx that names the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api_helpers import Desk

BAD = [
    ("post", "/tickets", "not json", 400),
    ("post", "/tickets", '{"subject": "x"', 400),
    ("post", "/tickets", "[1, 2]", 422),
    (
        "post",
        "/tickets",
        json.dumps(
            {
                "subject": "x",
                "body": "y",
                "requester_email": "b@x.test",
                "custom_fields": {"plan": {"b": [1]}},
            }
        ),
        422,
    ),
    ("post", "/tickets", json.dumps({"subject": "x" * 600, "body": "y"}), 422),
    (
        "post",
        "/tickets",
        json.dumps({"subject": "x", "body": "y", "assignee": "not-an-email"}),
        422,
    ),
    ("get", "/tickets/99999999999999999999999", None, 404),
    ("get", "/tickets?limit=abc", None, 422),
    ("get", "/tickets?status=bogus", None, 422),
    ("get", "/tickets?offset=-1", None, 422),
    ("get", "/tickets?offset=153090860445230956544", None, 422),
    ("patch", "/tickets/{id}", "[null, null]", 422),
    # PostgreSQL cannot store NUL: refused on every database, wherever it hides.
    ("patch", "/tickets/{id}", json.dumps({"subject": "a\x00b"}), 422),
    ("patch", "/tickets/{id}", json.dumps({"custom_fields": {"\x00.x": [[], {"]": True}]}}), 422),
    (
        "post",
        "/tickets/{id}/messages",
        json.dumps(
            {
                "body": "ok",
                "attachments": [{"filename": "a\x00.txt", "content_type": "text/plain", "size": 1}],
            }
        ),
        422,
    ),
    ("get", "/tickets?q=a%00b", None, 422),
    ("get", "/tickets?tag=%00", None, 422),
    ("patch", "/tickets/{id}", '{"version": "x"}', 422),
    ("patch", "/tickets/{id}", '{"status": "bogus"}', 422),
    ("patch", "/tickets/{id}", '{"assignee": "nobody@desk.test"}', 422),
    ("post", "/tickets/{id}/messages", '{"body": ""}', 422),
    ("post", "/rules", json.dumps({"yaml": "{{{"}), 422),
    ("post", "/rules", json.dumps({"yaml": "- a\n- b"}), 422),
    ("post", "/rules", json.dumps({"yaml": "rules: 5"}), 422),
    ("post", "/rules", json.dumps({"yaml": "version: 1\nrules: []", "definition": {}}), 422),
    (
        "post",
        "/rules",
        json.dumps(
            {
                "definition": {
                    "rules": [
                        {
                            "name": "x",
                            "triggers": ["created"],
                            "conditions": {
                                "all": [{"field": "subject", "op": "matches", "value": "(("}]
                            },
                            "actions": [{"type": "stop"}],
                        }
                    ]
                }
            }
        ),
        422,
    ),
    ("post", "/rules/dry-run", json.dumps({"snapshot": {"tags": "notalist", "priority": 5}}), 422),
    (
        "post",
        "/rules/dry-run",
        json.dumps(
            {"snapshot": {"subject": "x"}, "event": {"kind": "updated", "changes": {"priority": 5}}}
        ),
        422,
    ),
    ("post", "/rules/dry-run", json.dumps({"snapshot": {"subject": "x"}, "event": "created"}), 422),
    ("post", "/rules/dry-run", json.dumps({"ticket_id": 999999}), 404),
    ("get", "/outbox?limit=-5&offset=-3", None, 422),
    ("get", "/outbox?kind=fax", None, 422),
    ("get", "/outbox?ticket=299&offset=153090860445230956544&kind=reply&limit=73", None, 422),
    ("get", "/outbox?ticket=153090860445230956544", None, 422),
    ("get", "/tickets/{id}/explanation?update=153090860445230956544", None, 404),
    ("post", "/rules/dry-run", json.dumps({"ticket_id": 153090860445230956544}), 404),
    ("get", "/tickets/{id}/explanation?update=abc", None, 422),
    ("get", "/tickets/{id}/explanation?update=999999", None, 404),
    ("post", "/outbox/999999/retry", None, 404),
    ("post", "/rules/versions/0/restore", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD)
def test_bad_request_is_a_clear_4xx(
    demo_rules: Desk, method: str, path: str, body: str | None, status: int
) -> None:
    t = demo_rules.agent.post("/tickets", {"subject": "s", "body": "b",
                                           "requester_email": "c@x.test"}).data  # fmt: skip
    client = demo_rules.admin.client
    kwargs: dict[str, Any] = {"data": body, "content_type": "application/json"} if body else {}
    response = getattr(client, method)("/api" + path.replace("{id}", str(t["id"])), **kwargs)
    assert response.status_code == status, response.content[:300]
    data = response.json()
    assert data["detail"]
    if status == 422 and "errors" in data:
        assert all(e.get("message") or e.get("text") for e in data["errors"])


@pytest.mark.parametrize(
    "path",
    ["/outbox?ticket=999999", "/tickets?requester=153090860445230956544"],
)
def test_filter_values_that_no_row_has_find_nothing(demo_rules: Desk, path: str) -> None:
    response = demo_rules.admin.client.get("/api" + path)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["items"] == []
