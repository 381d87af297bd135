"""Background tasks (django-tasks: the backend is a setting, the database backend by default)."""

from __future__ import annotations

from django_tasks import task

from flowdesk.core.clock import utcnow
from flowdesk.core.oncommit import enqueue_after_commit
from flowdesk.outbox.models import OutboxStatus


@task()
def deliver_outbox_item(item_id: int) -> str:
    from flowdesk.outbox.services import do_attempt_delivery

    item = do_attempt_delivery(item_id, utcnow())
    if item is None:
        return "skipped"
    if item.status == OutboxStatus.PENDING:
        # Failed this time: try again after the backoff the attempt recorded.
        enqueue_after_commit(deliver_outbox_item, item_id, run_after=item.next_attempt_at)
    return str(item.status)


@task()
def sweep_outbox() -> int:
    """Re-enqueue due items whose task was lost (e.g. a worker died mid-attempt)."""
    from flowdesk.outbox.services import due_items

    ids = due_items(utcnow())
    for item_id in ids:
        enqueue_after_commit(deliver_outbox_item, item_id)
    return len(ids)
