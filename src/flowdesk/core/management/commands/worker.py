from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run a background worker: django-tasks' database worker, a pool delivering the "
        "outbox, the timer loop (time rules, SLA clocks) and the mail intake (mailboxes). Any "
        "number may run side by side."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="process what is due now, then exit"
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls for tasks"
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="delivery threads (default: FLOWDESK_OUTBOX_CONCURRENCY, 4)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from flowdesk.mail.ingest import process_pending
        from flowdesk.mail.runner import MailRunner
        from flowdesk.outbox.runner import OutboxRunner, worker_id
        from flowdesk.outbox.services import drain
        from flowdesk.timers.runner import TimerRunner
        from flowdesk.timers.services import fire_due

        db_worker = {
            "interval": options["interval"],
            "startup_delay": False,
            "reload": False,
            "verbosity": options["verbosity"],
        }
        if options["batch"]:
            owner = worker_id("batch")
            process_pending(owner)  # stored mails (their tickets' rules may queue mail)
            fired = sum(1 for f in fire_due(owner) if f.fired)
            if fired and options["verbosity"]:
                self.stdout.write(f"fired {fired} timer(s)")
            done = drain(owner)
            call_command("db_worker", batch=True, **db_worker)
            done += drain(owner)
            if done and options["verbosity"]:
                self.stdout.write(f"delivered {done} outbox attempt(s)")
            return
        runner = OutboxRunner(concurrency=options["concurrency"]).start()
        timers = TimerRunner(runner.owner).start()
        mail = MailRunner(runner.owner).start()
        if options["verbosity"]:
            self.stdout.write(
                f"outbox worker {runner.owner}: {runner.concurrency} deliveries at once, "
                f"{runner.per_destination} per destination, "
                f"lease {settings.FLOWDESK['OUTBOX_LEASE_SECONDS']:g}s"
            )
        try:
            call_command("db_worker", batch=False, worker_id=runner.owner[:64], **db_worker)
        finally:
            mail.stop()
            timers.stop()
            runner.stop(timeout=settings.FLOWDESK["WEBHOOK_TIMEOUT_SECONDS"] + 1)
