from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Is the outbox keeping up: backlog, the oldest pending item's age, deliveries in "
        "flight and expired (stuck) leases. Exit status 2 when leases have expired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        from flowdesk.core.clock import utcnow
        from flowdesk.outbox.services import outbox_status

        s = outbox_status(utcnow())
        if options["json"]:
            self.stdout.write(json.dumps(s, sort_keys=True))
        else:
            age = s["oldest_pending_age_seconds"]
            self.stdout.write(
                f"outbox: {s['pending']} pending ({s['due']} due, {s['in_flight']} in flight), "
                f"{s['expired_leases']} expired lease(s), {s['failed']} failed; oldest pending: "
                + ("none" if age is None else f"{age:.1f}s")
            )
            for destination, n in s["backlog_by_destination"].items():
                self.stdout.write(f"  {destination}: {n} pending")
