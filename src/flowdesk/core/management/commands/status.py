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
        "longest-waiting due item has been due, deliveries in flight, expired and stuck leases. "
        "Exit status 2 when a lease has expired or is stuck."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        from flowdesk.core.clock import utcnow
        from flowdesk.outbox.status import outbox_status

        s = outbox_status(utcnow())
        if options["json"]:
            self.stdout.write(json.dumps(s, sort_keys=True))
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
        if s["expired_leases"] or s["stuck_leases"]:
            self.stdout.flush()
            sys.exit(2)
