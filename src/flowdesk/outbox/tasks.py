"""Background tasks (django-tasks: the backend is a setting, the database backend by default).

One task wakes a batch delivery: ``deliver_outbox`` does not name an item; it hands every due,
unleased item to this process's delivery pool (a running worker), or delivers them in the calling
thread when there is none (batch mode, the immediate backend). The lease on the outbox row, not
the task, is what makes each attempt happen once, so a duplicate or lost wake-up is harmless:
every worker also polls on its own. A process whose pool is running does not enqueue it for
its own commits: it wakes the pool directly (core.oncommit, ``handle_locally``).
"""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_outbox() -> str:
    from flowdesk.outbox.runner import wake_or_drain

    return wake_or_drain()


@task()
def deliver_outbox_item(item_id: int) -> str:
    """Tasks queued by earlier versions (one per item): now a wake-up like any other."""
    from flowdesk.outbox.runner import wake_or_drain

    return wake_or_drain()


@task()
def sweep_outbox() -> int:
    """Deliver what is due, expired leases included (kept for callers of earlier versions;
    every worker now sweeps on each poll)."""
    from flowdesk.outbox.services import drain

    return drain("sweep")
