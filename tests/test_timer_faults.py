"""Timers under SIGKILL: real `flowdesk worker` processes fire a time rule on hundreds of tickets
while they are killed mid-run and restarted. No timer is lost (every ticket's rule fires), none
fires twice (one rule_fired event, one reply, one outbox item per ticket), and every reply is
delivered. Two workers on PostgreSQL; one worker, killed and restarted, on a SQLite file."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from api_helpers import Desk
from smtp_sink import Sink
from test_outbox_faults import Workers, _wait, mailsink, workers  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKETS = 150
RULES = """
rules:
  - name: nudge
    description: Two seconds after creation, answer and tag the ticket.
    triggers:
      - {type: since, event: created, for: 2s}
    actions:
      - {type: add_tags, tags: [nudged]}
      - {type: reply, body: "We are on it."}
"""


def _fired() -> int:
    from flowdesk.tickets.models import TicketEvent

    return TicketEvent.objects.filter(kind="rule_fired", rule="nudge").count()


def test_killed_workers_lose_and_duplicate_no_timer_and_no_outbox_item(
    desk: Desk,
    workers: Workers,  # noqa: F811  (the fixture imported above)
    mailsink: Sink,  # noqa: F811
    tmp_path: Path,
) -> None:
    from flowdesk.outbox.models import OutboxItem, OutboxStatus
    from flowdesk.tickets.models import Message, Ticket, TicketEvent
    from flowdesk.timers.models import Timer

    r = desk.admin.post("/rules", {"yaml": RULES, "source": "nudge.yaml"})
    assert r.status == 201, r
    env = {"FLOWDESK_TIMER_LEASE_SECONDS": "2", "FLOWDESK_TIMER_BATCH": "5"}
    postgres = connection.vendor == "postgresql"
    first = workers.start(**env)
    second = workers.start(**env) if postgres else None
    ids = []
    for i in range(TICKETS):
        t = desk.customer.post("/tickets", {"subject": f"crash {i}", "body": "Help!"})
        assert t.status == 201, t
        ids.append(t.data["id"])

    def proof() -> str:
        errs = "\n".join(workers.stderr(p)[-2000:] for p in workers.procs)
        return f"{_fired()} of {TICKETS} fired; worker stderr:\n{errs}"

    # Kill each worker in the middle of the run, and start it again.
    _wait("a third fired", lambda: _fired() >= TICKETS // 3, 60, proof)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    workers.start(**env)
    _wait("two thirds fired", lambda: _fired() >= 2 * TICKETS // 3, 60, proof)
    if second is not None:
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        workers.start(**env)
    _wait("every timer fired", lambda: _fired() >= TICKETS, 90, proof)
    _wait(
        "every reply delivered",
        lambda: not OutboxItem.objects.filter(status=OutboxStatus.PENDING).exists(),
        60,
        proof,
    )
    time.sleep(1)  # anything still in flight would show up now

    fired = Counter(
        TicketEvent.objects.filter(kind="rule_fired", rule="nudge").values_list(
            "ticket_id", flat=True
        )
    )
    assert set(fired) == set(ids)  # none lost
    assert max(fired.values()) == 1, [t for t, n in fired.items() if n > 1]  # none twice
    replies = Counter(
        Message.objects.filter(ticket_id__in=ids, author_kind="system").values_list(
            "ticket_id", flat=True
        )
    )
    assert replies == Counter(dict.fromkeys(ids, 1))
    items = list(OutboxItem.objects.filter(ticket_id__in=ids, rule="nudge"))
    assert len(items) == TICKETS
    assert {i.status for i in items} == {OutboxStatus.DELIVERED}
    received = Counter(str(m["X-Flowdesk-Outbox"]) for m in mailsink.received)
    assert {i.idempotency_key for i in items} <= set(received)
    # The timers waited for nothing once fired: the rule is latched while its condition holds.
    assert all("nudged" in t.tags for t in Ticket.objects.filter(pk__in=ids))
    rows = Timer.objects.filter(ticket_id__in=ids, purpose="rules")
    assert not rows.filter(due_at__isnull=False).exists()
    assert rows.filter(fired_count=1).count() == TICKETS
