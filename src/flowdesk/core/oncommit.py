"""The one way background work is enqueued: after the current transaction commits.

Whatever the task backend (the database one, an immediate one, a broker), a transaction that
rolls back enqueues nothing, and a task never runs before the rows it needs are visible. If the
process dies between the commit and the enqueue, nothing is lost: the rows are committed and the
worker's sweep re-queues due outbox items.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_after_commit(task: Any, *args: Any, run_after: datetime | None = None) -> None:
    """``task`` is a django-tasks task; it is enqueued with ``args`` once the transaction commits
    (at once when no transaction is open)."""

    def enqueue() -> None:
        target = task.using(run_after=run_after) if run_after is not None else task
        try:
            target.enqueue(*args)
        except Exception:  # the committed rows stay due; the sweep picks them up
            log.exception("could not enqueue %s%r after commit", getattr(task, "name", task), args)

    transaction.on_commit(enqueue, robust=True)
