"""Webhooks through the real interfaces: endpoints and secrets by the admin API, rules refused at
import, signed requests to a real local sink verified by the snippet in docs/deployment.md, and
the connect-time guard (resolver answers replaced, so no DNS and only localhost traffic)."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from api_helpers import Desk
from flowdesk.outbox import webhooks
from flowdesk.outbox.models import OutboxItem

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def documented_verify() -> Callable[..., bool]:
    """The verification snippet of docs/deployment.md ("Webhooks"), run as written."""
    text = DOCS.read_text().split("## Webhooks", 1)[1]
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None
    scope: dict[str, Any] = {}
    exec(match.group(1), scope)  # the documentation's own code
    verify: Callable[..., bool] = scope["verify"]
    return verify


class Sink:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 204
        self.location: str | None = None
        self.url = ""
        self.port = 0


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "raw": self.rfile.read(length),
                }
            )
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_GET = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hook"
    yield state
    server.shutdown()
    server.server_close()


def _rules(action: str) -> str:
    return f"""
version: 1
rules:
  - name: tell-crm
    triggers: [created]
    actions:
      - {action}
"""


def _ticket(desk: Desk) -> int:
    r = desk.agent.post("/tickets", {"subject": "Down", "body": "x", "requester_email": "x@e.org"})
    assert r.status == 201, r
    ticket_id: int = r.data["id"]
    return ticket_id


def _work() -> None:
    call_command("worker", batch=True, verbosity=0)


def _register(desk: Desk, **body: Any) -> dict[str, Any]:
    r = desk.admin.post("/webhooks", body)
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data


# --- refused at import -----------------------------------------------------------------------

BAD_URLS = [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://127.0.0.1:5432/", "loopback"),
    ("http://localhost/x", "names this machine"),
    ("http://[::1]/x", "loopback"),
    ("http://0x7f000001/x", "loopback"),
    ("http://2130706433/x", "loopback"),
    ("http://0177.0.0.1/x", "loopback"),
    ("http://[::ffff:127.0.0.1]/x", "embedding 127.0.0.1"),
    ("http://10.0.0.5/x", "private"),
    ("http://user:password@hooks.example.com/x", "credentials"),
    ("ftp://hooks.example.com/x", "http(s)"),
    ("https://hooks.example.com/unregistered", "belongs to no registered webhook endpoint"),
]


@pytest.mark.parametrize(("url", "why"), BAD_URLS)
def test_rule_import_refuses_bad_webhook_urls(desk: Desk, url: str, why: str) -> None:
    r = desk.admin.post("/rules", {"yaml": _rules(f'{{type: webhook, url: "{url}"}}')})
    assert r.status == 422, r
    (error,) = r.data["errors"]
    assert error["rule"] == "tell-crm"
    assert error["path"] == "actions[0].url"
    assert why in error["message"]
    if "registered" in why:
        assert "POST /api/webhooks" in error["message"]
    assert url in error["message"] or why == "http(s)"


@pytest.mark.parametrize(
    "header", ["Host", "Connection", "Transfer-Encoding", "Proxy-Authorization"]
)
def test_rule_import_refuses_connection_headers(desk: Desk, header: str) -> None:
    _register(desk, name="crm", url="https://crm.example.com/in")
    action = f"{{type: webhook, endpoint: crm, headers: {{{header}: evil.example}}}}"
    r = desk.admin.post("/rules", {"yaml": _rules(action)})
    assert r.status == 422, r
    (error,) = r.data["errors"]
    assert error["path"] == f"actions[0].headers.{header}"
    assert "set by flowdesk" in error["message"]


def test_unknown_endpoint_is_refused_with_a_suggestion(desk: Desk) -> None:
    _register(desk, name="crm", url="https://crm.example.com/in")
    r = desk.admin.post("/rules", {"yaml": _rules("{type: webhook, endpoint: cmr}")})
    assert r.status == 422, r
    (error,) = r.data["errors"]
    assert error["path"] == "actions[0].endpoint"
    assert error["suggestion"] == "crm"


def test_endpoint_registration_refuses_forbidden_urls(desk: Desk) -> None:
    for url in ("http://169.254.169.254/", "http://localhost:8000/api", "http://a:b@example.com/"):
        r = desk.admin.post("/webhooks", {"name": "x", "url": url})
        assert r.status == 422, (url, r)
        assert r.data["errors"][0]["field"] == "url"
    assert (
        desk.agent.post("/webhooks", {"name": "x", "url": "https://a.example.com/"}).status == 403
    )
    assert desk.agent.get("/webhooks").status == 403


# --- signed delivery -------------------------------------------------------------------------


def test_signed_delivery_and_rotation_verified_by_the_documented_snippet(
    desk: Desk, sink: Sink
) -> None:
    verify = documented_verify()
    created = _register(desk, name="sink", url=sink.url, allow_private=True)
    first = created["secret"]
    assert first.startswith("whsec_")
    listed = desk.admin.get("/webhooks").data
    assert first not in str(listed)  # shown once, never again
    assert listed["items"][0]["secrets"][0]["id"] == created["secret_id"]

    assert (
        desk.admin.post("/rules", {"yaml": _rules("{type: webhook, endpoint: sink}")}).status == 201
    )
    _ticket(desk)
    _work()
    (got,) = sink.received
    assert got["method"] == "POST"
    assert got["headers"]["X-Flowdesk-Endpoint"] == "sink"
    assert verify(first, got["headers"], got["raw"])
    assert not verify("whsec_wrong", got["headers"], got["raw"])
    assert not verify(first, got["headers"], got["raw"] + b" ")
    assert not verify(first, got["headers"], got["raw"], tolerance=-1)

    # Rotation: both secrets sign until the old one is retired.
    rotated = desk.admin.post(f"/webhooks/{created['id']}/rotate")
    assert rotated.status == 201, rotated
    second = rotated.data["secret"]
    assert desk.admin.post(f"/webhooks/{created['id']}/rotate").status == 409  # two at most
    _ticket(desk)
    _work()
    got = sink.received[1]
    assert got["headers"]["X-Flowdesk-Signature"].count("v1=") == 2
    assert verify(first, got["headers"], got["raw"])
    assert verify(second, got["headers"], got["raw"])

    old = created["secret_id"]
    retired = desk.admin.post(f"/webhooks/{created['id']}/secrets/{old}/retire")
    assert retired.status == 200, retired
    last = rotated.data["secret_id"]
    assert desk.admin.post(f"/webhooks/{created['id']}/secrets/{last}/retire").status == 409
    _ticket(desk)
    _work()
    got = sink.received[2]
    assert verify(second, got["headers"], got["raw"])
    assert not verify(first, got["headers"], got["raw"])


def test_url_under_a_prefix_endpoint_is_signed(desk: Desk, sink: Sink) -> None:
    base = f"http://127.0.0.1:{sink.port}/api"
    created = _register(desk, name="api", url=base, prefix=True, allow_private=True)
    action = f'{{type: webhook, url: "{base}/tickets?src=flowdesk", method: PUT}}'
    assert desk.admin.post("/rules", {"yaml": _rules(action)}).status == 201
    _ticket(desk)
    _work()
    (got,) = sink.received
    assert (got["method"], got["path"]) == ("PUT", "/api/tickets?src=flowdesk")
    assert documented_verify()(created["secret"], got["headers"], got["raw"])


def test_redirect_is_an_outcome_not_followed(desk: Desk, sink: Sink) -> None:
    _register(desk, name="sink", url=sink.url, allow_private=True)
    sink.status, sink.location = 302, f"http://127.0.0.1:{sink.port}/elsewhere"
    assert (
        desk.admin.post("/rules", {"yaml": _rules("{type: webhook, endpoint: sink}")}).status == 201
    )
    _ticket(desk)
    _work()
    assert [r["path"] for r in sink.received] == ["/hook"]  # nothing went to /elsewhere
    item = OutboxItem.objects.get(kind="webhook")
    assert item.status == "pending"  # a failed attempt, retried later
    assert "HTTP 302" in item.last_error
    assert "not followed" in item.last_error


# --- the connect-time guard ------------------------------------------------------------------


def _resolve_to(monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]) -> None:
    def fake(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(answers[host])]

    monkeypatch.setattr(webhooks, "resolve", fake)


def test_name_resolving_to_loopback_is_refused_at_connect_time(
    desk: Desk, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public-looking name whose DNS answers 127.0.0.1 (a rebinding server would do this).
    url = f"http://hooks.example.com:{sink.port}/hook"
    _register(desk, name="crm", url=url)
    _resolve_to(monkeypatch, {"hooks.example.com": "127.0.0.1"})
    assert (
        desk.admin.post("/rules", {"yaml": _rules("{type: webhook, endpoint: crm}")}).status == 201
    )
    _ticket(desk)
    _work()
    assert sink.received == []
    item = OutboxItem.objects.get(kind="webhook")
    assert "resolves to 127.0.0.1" in item.last_error
    assert "loopback" in item.last_error


def test_real_resolver_answer_for_localhost_is_refused(desk: Desk) -> None:
    # The system resolver's own answer (127.0.0.1 or ::1), checked as at connect time.
    with pytest.raises(webhooks.WebhookRefused, match="loopback"):
        webhooks.checked_addresses("localhost", 80, webhooks.private_allowlist())


def test_allowlisted_name_connects_to_the_checked_address_with_its_host_header(
    desk: Desk, sink: Sink, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.FLOWDESK_WEBHOOK_ALLOW_PRIVATE = ["sink.internal"]
    url = f"http://sink.internal:{sink.port}/hook"
    _register(desk, name="internal", url=url)
    _resolve_to(monkeypatch, {"sink.internal": "127.0.0.1"})
    action = "{type: webhook, endpoint: internal, headers: {X-Token: s3cret}}"
    assert desk.admin.post("/rules", {"yaml": _rules(action)}).status == 201
    _ticket(desk)
    _work()
    (got,) = sink.received
    assert got["headers"]["Host"] == f"sink.internal:{sink.port}"
    assert got["headers"]["X-Token"] == "s3cret"


def test_headers_flowdesk_owns_are_stripped_at_send_time(desk: Desk, sink: Sink) -> None:
    _register(desk, name="sink", url=sink.url, allow_private=True)
    # A payload queued by an older rule set, before headers were checked at import.
    payload = {
        "endpoint": "sink",
        "headers": {
            "Host": "evil.example",
            "Transfer-Encoding": "chunked",
            "Proxy-Authorization": "x",
            "X-Flowdesk-Signature": "v1=forged",
            "X-Ok": "1",
        },
        "body": {"a": 1},
    }
    webhooks.deliver(payload, "key-1", timeout=5)
    (got,) = sink.received
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["host"] == f"127.0.0.1:{sink.port}"
    assert "transfer-encoding" not in headers
    assert "proxy-authorization" not in headers
    assert headers["x-flowdesk-signature"] != "v1=forged"
    assert headers["x-ok"] == "1"
    assert headers["idempotency-key"] == "key-1"


def test_unregistered_or_forbidden_payloads_are_refused_at_send_time(desk: Desk) -> None:
    with pytest.raises(webhooks.WebhookRefused, match="no registered webhook endpoint"):
        webhooks.deliver({"url": "https://hooks.example.com/x"}, "k", timeout=1)
    with pytest.raises(webhooks.WebhookRefused, match="not registered"):
        webhooks.deliver({"endpoint": "gone"}, "k", timeout=1)
    # An endpoint whose URL is a literal private address, without allow_private.
    webhooks.do_create_endpoint(
        name="raw", url="http://169.254.169.254/x", prefix=False, allow_private=False, author=None
    )
    with pytest.raises(webhooks.WebhookRefused, match="link-local"):
        webhooks.deliver({"endpoint": "raw"}, "k", timeout=1)
