from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}s"


class Command(BaseCommand):
    help = (
        "Is the outbox keeping up: backlog, the oldest pending item's age, how long the "
        "longest-waiting due item has been due, deliveries in flight, expired and stuck leases; "
        "are timers firing on time, and which workers are alive (last heartbeat). "
        "Exit status 2 when a lease has expired or is stuck, or timers are due and no worker "
        "is alive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        from flowdesk.core.clock import utcnow
        from flowdesk.outbox.status import outbox_status
        from flowdesk.timers.status import timer_status

        now = utcnow()
        s = outbox_status(now)
        t = timer_status(now)
        if options["json"]:
            self.stdout.write(json.dumps({**s, "timers": t}, sort_keys=True))
        else:
            self.stdout.write(
                f"outbox: {s['pending']} pending ({s['due']} due, {s['in_flight']} in flight), "
                f"{s['expired_leases']} expired lease(s), {s['stuck_leases']} stuck, "
                f"{s['failed']} failed; oldest pending: {_seconds(s['oldest_pending_age_seconds'])}"
                f", due for: {_seconds(s['oldest_due_wait_seconds'])}, longest attempt: "
                f"{_seconds(s['longest_attempt_seconds'])}"
            )
            for destination, n in s["backlog_by_destination"].items():
                self.stdout.write(f"  {destination}: {n} pending")
            self.stdout.write(
                f"timers: {t['scheduled']} scheduled, {t['due']} due "
                f"(waiting {_seconds(t['oldest_due_wait_seconds'])}), "
                f"{t['expired_leases']} expired lease(s), {t['failing']} failing; "
                f"next due: {t['next_due_at'] or 'none'}"
            )
            for w in t["workers"]:
                state = "alive" if w["alive"] else "gone"
                self.stdout.write(
                    f"  worker {w['owner']}: {state}, last heartbeat "
                    f"{w['heartbeat_age_seconds']:.1f}s ago, {w['timers_fired']} timer(s) fired"
                )
        stalled = t["due"] and t["oldest_due_wait_seconds"] and not t["workers_alive"]
        if s["expired_leases"] or s["stuck_leases"] or stalled:
            self.stdout.flush()
            sys.exit(2)
