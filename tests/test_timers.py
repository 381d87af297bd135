"""Durable timers: claimed with leases, fired once in the ticket's own transaction, moved by the
owners of their purpose, retried after a failure, fired late (and marked so) after downtime.

The purposes used here are test purposes whose owner is a hook registered by the fixture: the
time rules, SLA clocks and routing have tests of their own over the same machinery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api_helpers import Desk

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _ticket(desk: Desk, subject: str = "Printer on fire") -> int:
    r = desk.customer.post("/tickets", {"subject": subject, "body": "Smoke everywhere."})
    assert r.status == 201, r
    return int(r.data["id"])


@pytest.fixture
def noting_purpose() -> Iterator[list[tuple[int, str]]]:
    """Purposes "test-note" and "test-note-again" whose firing adds an internal note;
    "test-boom" raises; "test-db-error" runs a statement the database refuses."""
    from flowdesk.tickets import hooks
    from flowdesk.tickets.services import NewMessage, do_add_message

    fired: list[tuple[int, str]] = []

    def hook(w: Any, event: Any, snapshot: dict[str, Any]) -> None:
        if event.kind != "timer":
            return
        if event.timer == "test-boom":
            raise RuntimeError("the owner of this purpose is broken")
        if event.timer == "test-db-error":
            # A statement the database refuses, whose answer nobody reads: in a pipelined
            # round the error surfaces later, at another firing's statement or the commit.
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE tickets_ticket SET subject = NULL WHERE id = %s", [w.ticket.pk]
                )
        if event.timer in ("test-note", "test-note-again"):
            fired.append((w.ticket.pk, w.cause.detail))
            body = f"timer fired: {w.cause.detail}"
            if event.timer == "test-note-again":  # what it reads of the ticket: its count
                body += f" (message {w.ticket.message_count + 1})"
            do_add_message(
                w,
                NewMessage(body_text=body, public=False),
                author=None,
                author_kind="system",
                cause=w.cause,
            )

    hooks._hooks["prepare"].append(hook)
    try:
        yield fired
    finally:
        hooks._hooks["prepare"].remove(hook)


def _arm(ticket_id: int, purpose: str, due: datetime, state: dict[str, Any] | None = None) -> None:
    from flowdesk.timers.models import Timer

    Timer.objects.update_or_create(
        ticket_id=ticket_id, purpose=purpose, defaults={"due_at": due, "state": state or {}}
    )


@pytest.mark.django_db(transaction=True)
def test_a_due_timer_fires_once_in_its_own_update_and_is_marked_late(
    desk: Desk, noting_purpose: list[tuple[int, str]]
) -> None:
    from flowdesk.core.clock import travel
    from flowdesk.tickets.models import Message, TicketUpdate
    from flowdesk.timers.models import Timer
    from flowdesk.timers.services import fire_due

    with travel(T0):
        tid = _ticket(desk)
        _arm(tid, "test-note", T0 + timedelta(minutes=5))
        assert fire_due("w1") == []  # not due yet
    with travel(T0 + timedelta(minutes=5, seconds=42)):
        firings = fire_due("w1")
        assert [(f.fired, f.recorded, f.late_seconds) for f in firings] == [(True, True, 42.0)]
        assert fire_due("w1") == []  # fired once: nobody moved it, so it waits for nothing
    assert noting_purpose == [(tid, "test-note (fired 42 s late)")]
    assert not Timer.objects.filter(ticket_id=tid).exists()
    update = TicketUpdate.objects.filter(ticket_id=tid).order_by("-id").first()
    assert update is not None
    assert (update.cause_kind, update.cause_detail) == ("timer", "test-note (fired 42 s late)")
    assert Message.objects.filter(ticket_id=tid, public=False).count() == 1
    # The ticket API shows the update and its cause.
    history = desk.agent.get(f"/tickets/{tid}/events")
    assert history.status == 200, history
    assert any(
        e["cause"] == "timer" and e["cause_detail"].startswith("test-note") for e in history.data
    ), history


@pytest.mark.django_db(transaction=True)
def test_a_timer_that_fires_to_no_effect_writes_nothing(desk: Desk) -> None:
    from flowdesk.core.clock import travel
    from flowdesk.tickets.models import Ticket, TicketUpdate
    from flowdesk.timers.services import fire_due

    with travel(T0):
        tid = _ticket(desk)
        version = Ticket.objects.get(pk=tid).version
        updates = TicketUpdate.objects.filter(ticket_id=tid).count()
        _arm(tid, "nobody-owns-this", T0)
        firings = fire_due("w1")
    assert [(f.fired, f.recorded) for f in firings] == [(True, False)]
    assert Ticket.objects.get(pk=tid).version == version
    assert TicketUpdate.objects.filter(ticket_id=tid).count() == updates


@pytest.mark.django_db(transaction=True)
def test_a_timer_moved_later_by_an_update_after_the_claim_is_not_fired(
    desk: Desk, noting_purpose: list[tuple[int, str]]
) -> None:
    from flowdesk.core.clock import travel
    from flowdesk.timers.models import Timer
    from flowdesk.timers.services import claim_due, fire_claimed

    with travel(T0):
        tid = _ticket(desk)
        _arm(tid, "test-note", T0)
        claims = claim_due("w1", T0, 10)
        assert len(claims) == 1
        Timer.objects.filter(ticket_id=tid).update(due_at=T0 + timedelta(hours=1))
        assert [f.fired for f in fire_claimed("w1", claims)] == [False]
    assert noting_purpose == []
    row = Timer.objects.get(ticket_id=tid)
    assert (row.due_at, row.lease_owner) == (T0 + timedelta(hours=1), "")


@pytest.mark.django_db(transaction=True)
def test_a_failing_firing_is_retried_later_and_does_not_stop_the_batch(
    desk: Desk, noting_purpose: list[tuple[int, str]], settings: Any
) -> None:
    from flowdesk.core.clock import travel
    from flowdesk.timers.models import Timer
    from flowdesk.timers.services import fire_due

    with travel(T0):
        a, b = _ticket(desk, "a"), _ticket(desk, "b")
        _arm(a, "test-boom", T0)
        _arm(b, "test-note", T0 + timedelta(seconds=1))
    with travel(T0 + timedelta(seconds=2)):
        firings = fire_due("w1")
    assert sorted((f.claim.purpose, f.fired) for f in firings) == [
        ("test-boom", False),
        ("test-note", True),
    ]
    assert [t for t, _ in noting_purpose] == [b]
    boom = Timer.objects.get(ticket_id=a)
    retry = settings.FLOWDESK["TIMER_RETRY_SECONDS"]
    assert boom.due_at == T0 + timedelta(seconds=2 + retry)
    assert "the owner of this purpose is broken" in boom.last_error
    status = desk.agent.get("/timers/status")
    assert status.status == 200, status
    assert status.data["failing"] == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("purpose", ["test-boom", "test-db-error"])
def test_a_round_that_fails_after_firings_rolls_back_and_fires_each_once(
    desk: Desk, noting_purpose: list[tuple[int, str]], purpose: str
) -> None:
    """The round's fast path fires the good timers, then one fails (in Python, or a statement
    the database refuses): the whole round rolls back and is fired again one by one, so each
    good timer wrote exactly one update and the bad one is marked failed."""
    from flowdesk.core.clock import travel
    from flowdesk.tickets.models import Message, TicketUpdate
    from flowdesk.timers.models import Timer
    from flowdesk.timers.services import fire_due

    with travel(T0):
        good = [_ticket(desk, f"good {i}") for i in range(3)]
        bad = _ticket(desk, "bad")
        for i, tid in enumerate(good):
            _arm(tid, "test-note", T0 + timedelta(milliseconds=i))
        _arm(bad, purpose, T0 + timedelta(seconds=1))
    with travel(T0 + timedelta(seconds=2)):
        firings = fire_due("w1")
    assert sorted((f.claim.ticket_id, f.fired) for f in firings) == sorted(
        [(t, True) for t in good] + [(bad, False)]
    )
    for tid in good:
        assert Message.objects.filter(ticket_id=tid, public=False).count() == 1
        assert TicketUpdate.objects.filter(ticket_id=tid, cause_kind="timer").count() == 1
        assert not Timer.objects.filter(ticket_id=tid).exists()
    failed = Timer.objects.get(ticket_id=bad)
    assert failed.last_error
    assert failed.lease_owner == ""
    assert TicketUpdate.objects.filter(ticket_id=bad, cause_kind="timer").count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_timers_of_one_ticket_in_one_round_both_fire(
    desk: Desk, noting_purpose: list[tuple[int, str]]
) -> None:
    """The second timer of a ticket in a round reads the ticket as the first firing left it."""
    from flowdesk.core.clock import travel
    from flowdesk.tickets.models import Message, Ticket
    from flowdesk.timers.services import fire_due

    with travel(T0):
        tid = _ticket(desk)
        version = Ticket.objects.get(pk=tid).version
        _arm(tid, "test-note", T0)
        _arm(tid, "test-note-again", T0 + timedelta(milliseconds=1))
    with travel(T0 + timedelta(seconds=0.5)):
        assert [f.fired for f in fire_due("w1")] == [True, True]
    ticket = Ticket.objects.get(pk=tid)
    assert (ticket.version, ticket.message_count) == (version + 2, 3)
    notes = list(
        Message.objects.filter(ticket_id=tid, public=False)
        .order_by("id")
        .values_list("body_text", flat=True)
    )
    assert notes == ["timer fired: test-note", "timer fired: test-note-again (message 3)"]


@pytest.mark.django_db(transaction=True)
def test_an_expired_lease_is_taken_over_by_another_worker(
    desk: Desk, noting_purpose: list[tuple[int, str]], settings: Any
) -> None:
    from flowdesk.core.clock import travel
    from flowdesk.timers.services import claim_due, fire_due

    with travel(T0):
        tid = _ticket(desk)
        _arm(tid, "test-note", T0)
        assert len(claim_due("dead-worker", T0, 10)) == 1  # ...and it dies before firing
        assert fire_due("w2") == []  # leased: not yet
        status = desk.agent.get("/timers/status").data
        assert (status["due"], status["expired_leases"]) == (1, 0)
    later = T0 + timedelta(seconds=settings.FLOWDESK["TIMER_LEASE_SECONDS"] + 1)
    with travel(later):
        assert desk.agent.get("/timers/status").data["expired_leases"] == 1
        assert [f.fired for f in fire_due("w2")] == [True]
    assert [t for t, _ in noting_purpose] == [tid]


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_disjoint_timers_and_fire_each_once(
    desk: Desk, noting_purpose: list[tuple[int, str]]
) -> None:
    from django.db import connection

    from flowdesk.timers.services import claim_due, fire_claimed

    tickets = [_ticket(desk, f"t{i}") for i in range(30)]
    from flowdesk.core.clock import utcnow

    now = utcnow()
    for tid in tickets:
        _arm(tid, "test-note", now - timedelta(seconds=1))
    errors: list[BaseException] = []

    def work(owner: str) -> None:
        try:
            while claims := claim_due(owner, utcnow(), 4):
                fire_claimed(owner, claims)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(t for t, _ in noting_purpose) == sorted(tickets)


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_fires_within_a_second_and_reports_its_heartbeat(
    desk: Desk, noting_purpose: list[tuple[int, str]]
) -> None:
    import time

    from flowdesk.core.clock import utcnow
    from flowdesk.timers.runner import TimerRunner

    tid = _ticket(desk)
    due = utcnow() + timedelta(seconds=1)
    _arm(tid, "test-note", due)
    runner = TimerRunner("loop-worker", poll=0.1).start()
    try:
        deadline = time.monotonic() + 10
        while not noting_purpose and time.monotonic() < deadline:
            time.sleep(0.02)
        fired_at = utcnow()
    finally:
        runner.stop()
    assert [t for t, _ in noting_purpose] == [tid]
    assert timedelta(0) <= fired_at - due < timedelta(seconds=1)
    status = desk.agent.get("/timers/status").data
    workers = {w["owner"]: w for w in status["workers"]}
    assert workers["loop-worker"]["alive"] is True
