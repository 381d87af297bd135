from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

if TYPE_CHECKING:
    from flowdesk.outbox.runner import OutboxRunner
    from flowdesk.timers.runner import TimerRunner


class Command(BaseCommand):
    help = "Migrate, optionally seed the demo, and serve flowdesk with an in-process worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--demo", action="store_true", help="seed the demo into an empty database"
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="don't run the in-process worker (run `flowdesk worker` instead)",
        )
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="delivery threads of the in-process worker (default: 4)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        import waitress

        from flowdesk.accounts.models import User
        from flowdesk.config.wsgi import application

        call_command("migrate", interactive=False, verbosity=0)
        if opts["demo"]:
            from flowdesk.demo.seed import ADMIN_EMAIL

            if not User.objects.filter(email=ADMIN_EMAIL).exists():
                self.stdout.write("seeding the demo help desk (one time)...")
                call_command("demo", stdout=self.stdout)
            else:
                from flowdesk.accounts.services import do_create_token

                _, token = do_create_token(User.objects.get(email=ADMIN_EMAIL), "demo")
                self.stdout.write(f"demo admin {ADMIN_EMAIL}; API token: {token}")
        runner, timers = (
            (None, None) if opts["no_worker"] else self._start_worker(opts["concurrency"])
        )
        mail = None
        if runner is not None:  # the mailboxes' intake (IMAP, LMTP receivers), docs/mail.md
            from flowdesk.mail.runner import MailRunner

            mail = MailRunner(runner.owner).start()
        url = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(f"flowdesk is serving on {url}  (API docs: {url}/api/docs)")
        # SIGTERM stops the server like Ctrl-C, so that the worker records what it delivered
        # (otherwise those items would be sent again when their leases expire).
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            waitress.serve(
                application,
                host=opts["host"],
                port=opts["port"],
                threads=opts["threads"],
                _quiet=True,
            )
        finally:
            if mail is not None:
                mail.stop()
            if timers is not None:
                timers.stop()
            if runner is not None:
                runner.stop(timeout=settings.FLOWDESK["WEBHOOK_TIMEOUT_SECONDS"] + 1)

    def _start_worker(self, concurrency: int | None) -> tuple[OutboxRunner, TimerRunner]:
        """The embedded default: the worker runs in the web process, no other service needed:
        the outbox delivery pool, woken directly by the commits of this process, and
        django-tasks' database worker in one thread beside it (for tasks other processes queue;
        it polls with a read, so an idle poll never takes SQLite's write lock), and the timer
        loop (time rules, SLA clocks), which fires what came due while nothing ran first."""
        from flowdesk.outbox.runner import OutboxRunner
        from flowdesk.outbox.taskworker import ReadFirstWorker
        from flowdesk.timers.runner import TimerRunner

        runner = OutboxRunner(concurrency=concurrency).start()
        worker = ReadFirstWorker(worker_id=runner.owner[:64], interval=1.0)
        threading.Thread(target=worker.run, name="flowdesk-worker", daemon=True).start()
        return runner, TimerRunner(runner.owner).start()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
