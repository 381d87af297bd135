"""Outbox delivery by the real worker: e-mail, webhooks to a real local HTTP server, retries with
backoff, failure after max attempts, idempotency, admin retry."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
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
    assert mail.outbox[0].body == (
        "We are on it, Xena.\n\n-- \n"
        f"Reply to this e-mail to answer. Your reply is added to request #{r.data['id']}."
    )
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


# --- leases, outcomes, idempotency headers, status ------------------------------------------


def _hook_item(url: str, key: str) -> OutboxItem:
    from flowdesk.outbox.services import do_enqueue

    item, _ = do_enqueue(
        kind="webhook", payload={"url": url, "body": {}}, idempotency_key=key, now=utcnow()
    )
    return item


def test_a_live_lease_is_never_claimed_and_an_expired_one_is_taken_over(db: Any) -> None:
    from flowdesk.outbox.services import claim_due, do_heartbeat

    item = _hook_item("http://127.0.0.1:9/x", "lease-1")
    now = utcnow()
    (claim,) = claim_due("a", now, 10)
    assert claim.item.attempts == 1
    assert not claim.reclaimed
    assert claim_due("b", now + timedelta(seconds=5), 10) == []
    # The heartbeat keeps it: still not claimable after the first expiry.
    assert do_heartbeat("a", [item.pk], now + timedelta(seconds=25)) == 1
    assert claim_due("b", now + timedelta(seconds=40), 10) == []
    (taken,) = claim_due("b", now + timedelta(seconds=60), 10)
    assert taken.reclaimed
    assert taken.item.attempts == 2
    assert taken.item.lease_owner == "b"
    assert do_heartbeat("a", [item.pk], now + timedelta(seconds=61)) == 0


def test_claims_respect_the_per_destination_limit(db: Any) -> None:
    from flowdesk.outbox.services import claim_due

    for n in range(4):
        _hook_item("http://slow.example:8080/x", f"dest-slow-{n}")
    _hook_item("http://other.example/x", "dest-other")
    claims = claim_due("a", utcnow(), 10, per_destination=2)
    assert sorted(c.item.destination for c in claims) == [
        "other.example:80",
        "slow.example:8080",
        "slow.example:8080",
    ]
    assert claim_due("b", utcnow(), 10, exclude=["slow.example:8080"]) == []


def test_outcomes_timeout_is_retried_with_the_same_key_slow_and_unreachable(
    desk: Desk, settings: Any
) -> None:
    """A receiver that answers after the timeout: the attempt is a timeout and the retry carries
    the same key; one that answers within it but slowly is delivered, recorded as slow."""
    import time

    settings.FLOWDESK = {
        **settings.FLOWDESK,
        "OUTBOX_BACKOFF_SECONDS": 0.0,
        "WEBHOOK_TIMEOUT_SECONDS": 0.5,
        "OUTBOX_SLOW_SECONDS": 0.2,
    }
    seen: list[str] = []
    delays = [1.0, 0.3]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers["Idempotency-Key"])
            time.sleep(delays.pop(0) if delays else 0)
            try:
                self.send_response(204)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        from flowdesk.outbox.webhooks import do_create_endpoint

        do_create_endpoint(name="slow", url=url, prefix=False, allow_private=True, author=None)
        assert desk.admin.post("/rules", {"yaml": _rules(url)}).status == 201
        r = desk.agent.post(
            "/tickets",
            {"subject": "D", "body": "x", "priority": "urgent", "requester_email": "x@example.org"},
        )
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        _work()
    finally:
        server.shutdown()
        server.server_close()
    item = OutboxItem.objects.get(ticket_id=r.data["id"], kind="webhook")
    assert item.status == "delivered"
    assert seen == [item.idempotency_key, item.idempotency_key]
    events = desk.agent.get(f"/tickets/{r.data['id']}/events").data
    hook = [e for e in events if e["data"].get("outbox_id") == item.pk]
    assert [(e["kind"], e["data"]["outcome"]) for e in hook[1:]] == [
        ("delivery_attempt_failed", "timeout"),
        ("delivered", "slow"),
    ]
    assert hook[2]["data"]["idempotency_key"] == item.idempotency_key

    do_create_endpoint(
        name="nowhere", url="http://127.0.0.1:9/x", prefix=False, allow_private=True, author=None
    )
    unreachable = _hook_item("http://127.0.0.1:9/x", "unreachable-1")
    from flowdesk.outbox.delivery import DELIVERERS, DeliveryError, outcome_of

    with pytest.raises(DeliveryError) as failed:
        DELIVERERS.get("webhook").deliver(unreachable)
    assert outcome_of(failed.value) == "unreachable"


def test_a_repeated_mail_is_the_same_message(desk: Desk, smtp: Any) -> None:
    from flowdesk.outbox.delivery import DELIVERERS, message_id_for
    from flowdesk.outbox.services import do_enqueue

    item, _ = do_enqueue(
        kind="notify",
        payload={"to": ["a@example.org"], "subject": "s", "body": "b"},
        idempotency_key="mail-twice",
        now=utcnow(),
    )
    DELIVERERS.get("notify").deliver(item)
    DELIVERERS.get("notify").deliver(item)  # as after a crash before the outcome was recorded
    ids = {m["Message-ID"] for m in smtp.received}
    assert ids == {message_id_for("mail-twice")}
    assert {m["X-Flowdesk-Outbox"] for m in smtp.received} == {"mail-twice"}


def test_status_shows_backlog_oldest_age_and_expired_leases(desk: Desk) -> None:
    from io import StringIO

    dead = _hook_item("http://127.0.0.1:9/a", "status-1")
    _hook_item("http://127.0.0.1:9/b", "status-2")
    OutboxItem.objects.filter(pk=dead.pk).update(  # its worker died: the lease ran out
        lease_owner="dead-worker", lease_expires_at=utcnow() - timedelta(minutes=1), attempts=1
    )
    s = desk.agent.get("/outbox/status")
    assert s.status == 200, s
    assert s.data["pending"] == 2
    assert s.data["expired_leases"] == 1
    assert s.data["stuck_leases"] == 0
    assert s.data["in_flight"] == 0
    assert s.data["due"] == 2
    assert s.data["oldest_pending_age_seconds"] >= 0
    assert s.data["oldest_due_wait_seconds"] >= 0
    assert s.data["longest_attempt_seconds"] is None
    assert s.data["backlog_by_destination"] == {"127.0.0.1:9": 2}
    assert desk.customer.get("/outbox/status").status == 403
    out = StringIO()
    with pytest.raises(SystemExit) as exited:  # a lease expired: exit status 2
        call_command("status", stdout=out)
    assert exited.value.code == 2
    assert "2 pending (2 due, 0 in flight), 1 expired lease(s), 0 stuck" in out.getvalue()
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("status", "--json", stdout=out)
    assert json.loads(out.getvalue())["expired_leases"] == 1


def test_status_shows_how_late_delivery_is_and_stuck_leases(desk: Desk) -> None:
    """A due item that waited ten minutes is ten minutes late (the backlog's delay, not its
    size); a lease its live worker keeps renewing but whose attempt began ten minutes ago is
    stuck (a hung delivery: no expiry will free it)."""
    from io import StringIO

    now = utcnow()
    late = _hook_item("http://127.0.0.1:9/late", "late-1")
    OutboxItem.objects.filter(pk=late.pk).update(
        created_at=now - timedelta(minutes=11), next_attempt_at=now - timedelta(minutes=10)
    )
    retry_later = _hook_item("http://127.0.0.1:9/later", "later-1")
    OutboxItem.objects.filter(pk=retry_later.pk).update(  # waiting for its backoff: not late
        created_at=now - timedelta(hours=2), next_attempt_at=now + timedelta(minutes=30)
    )
    hung = _hook_item("http://127.0.0.1:9/hung", "hung-1")
    OutboxItem.objects.filter(pk=hung.pk).update(
        lease_owner="live-worker",
        lease_expires_at=now + timedelta(seconds=20),
        attempt_started_at=now - timedelta(minutes=10),
        attempts=1,
    )
    s = desk.agent.get("/outbox/status").data
    assert s["pending"] == 3
    assert s["due"] == 1
    assert s["in_flight"] == 1
    assert s["expired_leases"] == 0
    assert s["stuck_leases"] == 1
    assert 2 * 3600 <= s["oldest_pending_age_seconds"] < 2 * 3600 + 60
    assert 600 <= s["oldest_due_wait_seconds"] < 660
    assert 600 <= s["longest_attempt_seconds"] < 660
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("status", stdout=out)
    assert exited.value.code == 2
    assert "1 stuck" in out.getvalue()
    assert "due for: 6" in out.getvalue()

    OutboxItem.objects.filter(pk=hung.pk).update(attempt_started_at=now)
    OutboxItem.objects.filter(pk=late.pk).update(next_attempt_at=now + timedelta(minutes=1))
    out = StringIO()
    call_command("status", stdout=out)  # nothing expired or stuck: exit status 0
    assert "0 expired lease(s), 0 stuck" in out.getvalue()
    assert "due for: none" in out.getvalue()
