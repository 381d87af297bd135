from __future__ import annotations

import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


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
            help="outbox deliveries in flight at once in the in-process worker (default: 4)",
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
        if not opts["no_worker"]:
            self._start_worker(opts["concurrency"])
        url = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(f"flowdesk is serving on {url}  (API docs: {url}/api/docs)")
        waitress.serve(
            application, host=opts["host"], port=opts["port"], threads=opts["threads"], _quiet=True
        )

    def _start_worker(self, concurrency: int | None) -> None:
        """The embedded default: the worker runs in the web process, no other service needed:
        django-tasks' database worker in one thread, the outbox delivery pool beside it."""
        from django_tasks_db.management.commands.db_worker import Worker

        from flowdesk.outbox.runner import OutboxRunner

        runner = OutboxRunner(concurrency=concurrency).start()
        worker = Worker(
            queue_names=["default"],
            interval=1.0,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=runner.owner[:64],
            excluded_queue_names=[],
        )
        threading.Thread(target=worker.run, name="flowdesk-worker", daemon=True).start()
