from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run a background worker (delivers the outbox). Any number may run side by side."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="process what is due now, then exit"
        )
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        from flowdesk.outbox.tasks import sweep_outbox

        # Re-enqueue anything due whose task was lost before starting to work.
        swept = sweep_outbox.call()
        if swept:
            self.stdout.write(f"re-queued {swept} due outbox item(s)")
        call_command(
            "db_worker",
            batch=options["batch"],
            interval=options["interval"],
            startup_delay=False,
            reload=False,
            verbosity=options["verbosity"],
        )
