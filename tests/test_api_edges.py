"""The API's edges: offline docs, JSON for every failure, body and nesting limits, the error
responses the OpenAPI spec declares, and strict inputs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from api_helpers import Desk
from test_bad_input import BAD

MB = 1024 * 1024


def _json(response: Any) -> Any:
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return response.json()


def _post(client: Client, path: str, body: Any) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api" + path, data=data, content_type="application/json")


def _ticket(desk: Desk) -> dict[str, Any]:
    r = desk.agent.post("/tickets", {"subject": "s", "body": "b", "requester_email": "c@x.test"})
    assert r.status == 201, r
    return dict(r.data)


# -- 1. /api/docs works offline ------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        self.urls += [v for k, v in attrs if k == wanted and v]


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


@pytest.mark.django_db
def test_api_docs_load_every_asset_from_flowdesk_itself() -> None:
    client = Client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    parser = _Assets()
    parser.feed(html)
    assert any(u.endswith(".js") for u in parser.urls), parser.urls
    assert any(u.endswith(".css") for u in parser.urls), parser.urls
    for url in parser.urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert parts.netloc in ("", "testserver"), url
        asset = client.get(parts.path)
        assert asset.status_code == 200, url
        assert _body(asset), url
    # Nor does the page itself name another host (Swagger UI's online validator is off).
    assert "://" not in html
    assert client.get("/api/openapi.json").status_code == 200


# -- 2. JSON for every failure under /api/ ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/nope", "/api/tickets/1/nope", "/api/rules/schema/x"])
def test_unknown_api_url_is_json_404(path: str) -> None:
    r = Client().get(path)
    assert r.status_code == 404
    assert "no such API endpoint" in _json(r)["detail"]


@pytest.mark.django_db
def test_wrong_method_is_json_405() -> None:
    r = Client().delete("/api/tickets")
    assert r.status_code == 405
    assert "DELETE" in _json(r)["detail"]
    assert set(r["Allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.django_db
def test_non_api_pages_keep_html() -> None:
    r = Client().get("/no-such-page")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_unhandled_exception_is_json_500_without_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom() -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("flowdesk.api.rules.rule_schema", boom)
    r = Client(raise_request_exception=False).get("/api/rules/schema")
    assert r.status_code == 500
    assert _json(r)["detail"].startswith("internal server error")
    assert b"secret" not in r.content
    assert b"Traceback" not in r.content


def test_malformed_json_names_line_and_column(desk: Desk) -> None:
    r = _post(desk.agent.client, "/tickets", '{\n  "subject": "x",\n  "body": y\n}')
    assert r.status_code == 400
    assert "line 3 column 11" in _json(r)["detail"]


def test_body_over_the_api_limit_is_json_413(desk: Desk) -> None:
    body = {"subject": "s", "body": "x" * MB, "requester_email": "c@x.test"}
    r = _post(desk.agent.client, "/tickets", body)
    assert r.status_code == 413
    detail = _json(r)["detail"]
    assert "1,048,576 bytes" in detail
    assert "FLOWDESK_API_MAX_BYTES" in detail


def test_a_rule_set_over_djangos_default_limit_imports(demo_rules: Desk) -> None:
    definition = demo_rules.admin.get("/rules", full="true").data["definition"]
    definition["rules"][0]["description"] = "word " * (3 * MB // 5)  # Django's default: 2.5 MB
    r = _post(demo_rules.admin.client, "/rules", {"definition": definition})
    assert r.status_code == 201, r.content[:300]
    assert _json(r)["number"] == 2


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/tickets", {"requester_name": "n" * 201}, "requester_name"),
        ("/tickets", {"tags": ["t" * 101]}, "tags[0]"),
        ("/rules/validate", {"yaml": "version: 1\nrules: []", "source": "s" * 301}, "source"),
        ("/rules", {"yaml": "version: 1\nrules: []", "comment": "c" * 501}, "comment"),
    ],
)
def test_text_longer_than_its_column_is_a_422(
    desk: Desk, path: str, body: dict[str, Any], field: str
) -> None:
    # PostgreSQL refuses such text with an error (a 500 unless checked first); SQLite keeps it.
    if path == "/tickets":
        body = {"subject": "s", "body": "b", "requester_email": "new@x.test", **body}
    r = desk.admin.post(path, body)
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == [field], r


def test_rule_set_body_over_its_limit_is_json_413(desk: Desk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "RULES_MAX_BYTES": 1000}
    for path in ("/rules", "/rules/validate", "/rules/dry-run"):
        r = _post(desk.admin.client, path, {"yaml": "#" * 2000})
        assert r.status_code == 413, path
        assert "FLOWDESK_RULES_MAX_BYTES" in _json(r)["detail"]


def test_message_text_over_its_limit_names_the_field(desk: Desk) -> None:
    long = "x" * 100_001
    r = desk.agent.post("/tickets", {"subject": "s", "body": long, "requester_email": "c@x.test"})
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == ["body"], r
    assert "100000" in r.data["errors"][0]["message"]
    t = _ticket(desk)
    r = desk.agent.patch(f"/tickets/{t['id']}", {"message": {"body": long}})
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == ["message.body"], r
    r = desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "x" * 100_000})
    assert r.status == 201, r


# -- 3. deep nesting never 500s --------------------------------------------------------------------


def _deep_yaml(levels: int) -> str:
    return "version: 1\nrules:\n" + "".join("  " * i + "- \n" for i in range(1, levels))


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def _deep_text(levels: int) -> str:
    return "[" * levels + '"x"' + "]" * levels


@pytest.mark.parametrize("path", ["/rules", "/rules/validate", "/rules/dry-run"])
def test_deeply_nested_yaml_is_a_422_with_its_line(demo_rules: Desk, path: str) -> None:
    body: dict[str, Any] = {"yaml": _deep_yaml(1000)}
    if path == "/rules/dry-run":
        body["snapshot"] = {"subject": "x"}
    r = _post(demo_rules.admin.client, path, body)
    assert r.status_code == 422, r.content[:300]
    [issue] = _json(r)["errors"]
    # Line 3 opens level 2 (the rules), so level 65 is opened on line 66.
    assert issue["line"] == 66
    assert "nested deeper than 64 levels" in issue["message"]


def test_yaml_aliases_count_towards_the_nesting(demo_rules: Desk) -> None:
    text = (
        "version: 1\nx: &a " + "[" * 40 + "]" * 40 + "\nrules:\n  - " + "[" * 30 + "*a" + "]" * 30
    )
    r = _post(demo_rules.admin.client, "/rules/validate", {"yaml": text})
    assert r.status_code == 422
    assert "through alias *a" in _json(r)["errors"][0]["message"]
    r = _post(demo_rules.admin.client, "/rules/validate", {"yaml": "rules: &a [*a]"})
    assert r.status_code == 422
    assert "inside the node it names" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("levels", [100, 5000])  # 5000: too deep for json.loads itself
@pytest.mark.parametrize("path", ["/rules", "/rules/validate", "/rules/dry-run"])
def test_deeply_nested_json_is_a_422(demo_rules: Desk, path: str, levels: int) -> None:
    snapshot = ', "snapshot": {"subject": "x"}' if path == "/rules/dry-run" else ""
    body = '{"definition": {"version": 1, "rules": ' + _deep_text(levels) + "}" + snapshot + "}"
    r = _post(demo_rules.admin.client, path, body)
    assert r.status_code == 422, r.content[:300]
    [error] = _json(r)["errors"]
    assert "nested deeper than 64 levels" in error["message"]
    if levels == 100:
        assert error["field"] == "definition.rules" + "[0]" * 63
    else:
        assert "line 1 column" in error["message"]


def test_deeply_nested_snapshot_event_and_custom_field_are_422(demo_rules: Desk) -> None:
    admin = demo_rules.admin.client
    r = _post(admin, "/rules/dry-run", {"snapshot": {"subject": "x", "tags": _deep(200)}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("snapshot.tags[0]")
    event = {"kind": "created", "messages": [{"author_kind": "customer", "x": _deep(200)}]}
    r = _post(admin, "/rules/dry-run", {"snapshot": {"subject": "x"}, "event": event})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("event.messages")
    body = {"subject": "s", "body": "b", "requester_email": "c@x.test"}
    # 300 levels: far past the limit (64) yet parsed by json.loads on any stack, so the check
    # that names the path answers (deeper than the interpreter's recursion limit json.loads itself
    # gives up, a 422 on "body" with its line and column: the _deep_text tests).
    r = _post(admin, "/tickets", {**body, "custom_fields": {"plan": _deep(300)}})
    assert r.status_code == 422, r.content[:300]
    assert r.json()["errors"][0]["field"].startswith("custom_fields.plan[0]")


# -- 4. the OpenAPI spec declares the error responses ---------------------------------------------


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    spec = Client().get("/api/openapi.json").json()
    return {
        (method, path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "patch", "put", "delete")
    }


@pytest.mark.django_db
def test_every_operation_declares_its_auth_and_input_errors() -> None:
    ops = _operations()
    assert len(ops) >= 20
    for (method, path), op in ops.items():
        declared = set(op["responses"])
        if path != "/api/rules/schema":
            assert "401" in declared, (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in declared, (method, path)
        if op.get("requestBody"):
            assert {"400", "413"} <= declared, (method, path)
    rules_422 = ops[("post", "/api/rules")]["responses"]["422"]["content"]["application/json"]
    assert "RuleSetErrorOut" in json.dumps(rules_422["schema"])
    conflict = ops[("patch", "/api/tickets/{ticket_id}")]["responses"]["409"]
    assert "ConflictOut" in json.dumps(conflict)


def _operation_for(ops: dict[tuple[str, str], Any], method: str, url: str) -> dict[str, Any]:
    path = "/api" + url.split("?")[0].replace("{id}", "1")
    for (m, template), op in ops.items():
        if m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return dict(op)
    raise AssertionError(f"no operation for {method} {path}")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "status"), BAD)
def test_every_bad_input_status_is_declared(
    method: str, path: str, body: str | None, status: int
) -> None:
    op = _operation_for(_operations(), method, path)
    assert str(status) in op["responses"], (method, path, sorted(op["responses"]))


# -- 5. strict inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None])
def test_public_must_be_a_real_boolean(desk: Desk, value: Any) -> None:
    t = _ticket(desk)
    r = desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "note", "public": value})
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == ["public"]
    r = desk.agent.patch(f"/tickets/{t['id']}", {"message": {"body": "x", "public": "no"}})
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "message.public", r


def test_public_false_is_an_internal_note(desk: Desk) -> None:
    t = _ticket(desk)
    r = desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "note", "public": False})
    assert r.status == 201, r
    messages = desk.agent.get(f"/tickets/{t['id']}/messages").data
    assert [m["public"] for m in messages] == [True, False]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "a\x00b"}, "subject"),
        ({"message": {"body": "a\x00b"}}, "message.body"),
        ({"custom_fields": {"plan": "pro\x00"}}, "custom_fields.plan"),
        ({"add_tags": ["ok", "b\x00d"]}, "add_tags[1]"),
        ({"custom_fields": {"\x00": "x"}}, "custom_fields"),
    ],
)
def test_nul_is_reported_at_its_exact_field(desk: Desk, body: dict[str, Any], field: str) -> None:
    t = _ticket(desk)
    r = desk.agent.patch(f"/tickets/{t['id']}", body)
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == [field]
    assert "NUL" in r.data["errors"][0]["message"]


def test_nul_in_a_query_names_the_parameter(desk: Desk) -> None:
    r = desk.agent.get("/tickets", q="a\x00b")
    assert r.status == 422, r
    assert [e["field"] for e in r.data["errors"]] == ["q"], r
