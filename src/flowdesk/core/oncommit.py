"""The one way background work is enqueued: after the current transaction commits.

Whatever the task backend (the database one, an immediate one, a broker), a transaction that
rolls back enqueues nothing, and a task never runs before the rows it needs are visible. If the
process dies between the commit and the enqueue, nothing is lost: the rows are committed and every
worker's periodic poll finds due outbox items without a task. A wake-up task this process
serves itself (the embedded worker's delivery pool) is not enqueued: its handler is called after
the commit instead (``handle_locally``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)

# Wake-up tasks this process serves itself (module path -> handler), see ``handle_locally``.
_LOCAL: dict[str, Callable[[], None]] = {}


def handle_locally(task: Any, handler: Callable[[], None] | None) -> None:
    """This process runs what ``task`` (a wake-up, no arguments) would start: after a commit,
    ``handler`` is called instead of enqueuing the task, so no task row is written and no worker
    has to poll for it (the embedded worker's pool). ``None`` removes the handler."""
    if handler is None:
        _LOCAL.pop(task.module_path, None)
    else:
        _LOCAL[task.module_path] = handler


def enqueue_after_commit(
    task: Any, *args: Any, run_after: datetime | None = None, coalesce: bool = False
) -> None:
    """``task`` is a django-tasks task; it is enqueued with ``args`` once the transaction commits
    (at once when no transaction is open). ``coalesce``: a wake-up without arguments, skipped when
    the database backend already holds one that has not started (a read instead of a write, so a
    busy web process adds no write per request; the queued one runs after this commit, so it sees
    the rows this transaction wrote). A coalesced wake-up with a local handler calls the handler
    instead of touching the task backend."""

    local = coalesce and not args and run_after is None

    def enqueue() -> None:
        handler = _LOCAL.get(task.module_path) if local else None
        target = task.using(run_after=run_after) if run_after is not None else task
        try:
            if handler is not None:
                handler()
                return
            if local and _already_queued(target):
                return
            target.enqueue(*args)
        except Exception:  # the committed rows stay due; the workers' poll picks them up
            log.exception("could not enqueue %s%r after commit", getattr(task, "name", task), args)

    transaction.on_commit(enqueue, robust=True)


def _already_queued(task: Any) -> bool:
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        return False
    return bool(
        DBTaskResult.objects.ready()
        .filter(task_path=task.module_path, backend_name=backend.alias)
        .exists()
    )
