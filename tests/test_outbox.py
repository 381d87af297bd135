"""Outbox delivery by the real worker: e-mail, webhooks to a real local HTTP server, retries with
backoff, failure after max attempts, idempotency, admin retry."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from api_helpers import Desk
from flowdesk.core.clock import utcnow
from flowdesk.outbox.models import OutboxItem

pytestmark = pytest.mark.django_db(transaction=True)


class Hook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_with: int | None = None


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            state.received.append({"body": body, "headers": dict(self.headers)})
            self.send_response(state.fail_with or 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    # The sink is on loopback: registered as an endpoint whose host may be private.
    from flowdesk.outbox.webhooks import do_create_endpoint

    do_create_endpoint(name="sink", url=url, prefix=False, allow_private=True, author=None)
    yield state, url
    server.shutdown()
    server.server_close()


def _rules(url: str) -> str:
    return f"""
version: 1
rules:
  - name: hook-urgent
    triggers: [created]
    conditions: {{all: [{{field: priority, op: is, value: urgent}}]}}
    actions:
      - {{type: webhook, url: "{url}", headers: {{X-Token: s3cret}}}}
      - {{type: reply, body: "We are on it, {{{{ requester.name }}}}."}}
"""


def _work() -> None:
    call_command("worker", batch=True, verbosity=0)


def test_webhook_and_reply_delivered_after_commit(
    desk: Desk, hook: tuple[Hook, str], settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    state, url = hook
    assert desk.admin.post("/rules", {"yaml": _rules(url)}).status == 201
    r = desk.agent.post(
        "/tickets",
        {
            "subject": "Down",
            "body": "All down",
            "priority": "urgent",
            "requester_email": "x@example.org",
            "requester_name": "Xena",
        },
    )
    assert r.status == 201, r
    # Nothing leaves inside the request: both are queued, not sent.
    assert state.received == []
    assert mail.outbox == []
    items = desk.agent.get("/outbox", ticket=r.data["id"]).data["items"]
    assert {i["status"] for i in items} == {"pending"}

    _work()
    assert len(state.received) == 1
    got = state.received[0]
    assert got["body"]["ticket_id"] == r.data["id"]
    assert got["body"]["rule"] == "hook-urgent"
    assert got["headers"]["X-Token"] == "s3cret"
    assert got["headers"]["Idempotency-Key"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["x@example.org"]
    assert mail.outbox[0].body == "We are on it, Xena."
    items = desk.agent.get("/outbox", ticket=r.data["id"]).data["items"]
    assert {i["status"] for i in items} == {"delivered"}
    # Running the worker again delivers nothing twice.
    _work()
    assert len(state.received) == 1
    assert len(mail.outbox) == 1


def test_failing_webhook_retries_with_backoff_then_fails(
    desk: Desk, hook: tuple[Hook, str], settings: Any
) -> None:
    settings.FLOWDESK = {
        **settings.FLOWDESK,
        "OUTBOX_MAX_ATTEMPTS": 3,
        "OUTBOX_BACKOFF_SECONDS": 0.0,
    }
    state, url = hook
    state.fail_with = 503
    assert desk.admin.post("/rules", {"yaml": _rules(url)}).status == 201
    r = desk.agent.post(
        "/tickets",
        {"subject": "Down", "body": "x", "priority": "urgent", "requester_email": "x@example.org"},
    )
    item = OutboxItem.objects.get(ticket_id=r.data["id"], kind="webhook")
    _work()  # backoff 0: the re-enqueued attempts are due at once, batch runs them all
    item.refresh_from_db()
    assert len(state.received) == 3
    assert item.status == "failed"
    assert item.attempts == 3
    assert "HTTP 503" in item.last_error

    state.fail_with = None
    retried = desk.admin.post(f"/outbox/{item.pk}/retry")
    assert retried.status == 200
    assert retried.data["status"] == "pending"
    assert desk.admin.post(f"/outbox/{item.pk}/retry").status == 409
    _work()
    item.refresh_from_db()
    assert item.status == "delivered"
    assert len(state.received) == 4


def test_backoff_schedules_next_attempt(desk: Desk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "OUTBOX_BACKOFF_SECONDS": 30.0}
    url = "http://127.0.0.1:9/unreachable"
    hook = {"name": "closed", "url": url, "allow_private": True}
    assert desk.admin.post("/webhooks", hook).status == 201
    assert desk.admin.post("/rules", {"yaml": _rules(url)}).status == 201
    r = desk.agent.post(
        "/tickets",
        {"subject": "Down", "body": "x", "priority": "urgent", "requester_email": "x@example.org"},
    )
    item = OutboxItem.objects.get(ticket_id=r.data["id"], kind="webhook")
    before = utcnow()
    _work()
    item.refresh_from_db()
    assert item.status == "pending"
    assert item.attempts == 1
    assert "unreachable" in item.last_error
    assert item.next_attempt_at >= before + timedelta(seconds=29)


def test_idempotency_key_is_unique(desk: Desk) -> None:
    from flowdesk.outbox.services import do_enqueue

    now = utcnow()
    a, created_a = do_enqueue(kind="notify", payload={"to": ["a@x"]}, idempotency_key="k1", now=now)
    b, created_b = do_enqueue(kind="notify", payload={"to": ["a@x"]}, idempotency_key="k1", now=now)
    assert a.pk == b.pk
    assert OutboxItem.objects.count() == 1
    assert created_a
    assert not created_b
