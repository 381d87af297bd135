"""django-tasks' database worker for the embedded server, polling with a read.

The stock worker opens an exclusive transaction on every poll, task or not; on SQLite that is
the database's one write lock, taken every interval by an idle thread of the web process. This
one reads first and runs the stock loop (in batch mode: until no task is ready) only when a
task is ready. The embedded server's own wake-ups write no task rows (core.oncommit,
``handle_locally``), so this thread mostly serves tasks other processes queued.
"""

from __future__ import annotations

import time

from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


class ReadFirstWorker(Worker):
    def __init__(self, *, worker_id: str, interval: float, queue: str = "default") -> None:
        super().__init__(
            queue_names=[queue],
            interval=interval,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )

    def ready(self) -> bool:
        return (
            DBTaskResult.objects.ready()
            .filter(backend_name=self.backend_name, queue_name__in=self.queue_names)
            .exists()
        )

    def run(self) -> None:
        while self.running:
            close_old_connections()
            if self.ready():
                super().run()
            else:
                time.sleep(self.interval)
