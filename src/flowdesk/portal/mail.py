"""The portal's own e-mails (sign-in links, request confirmations) leave through the outbox,
like every reply: a row written in a transaction of its own, delivered by a worker after the
commit, retried on failure. Nothing is sent inside a request's transaction."""

from __future__ import annotations

from django.db import transaction

from flowdesk.core.clock import utcnow
from flowdesk.outbox.models import OutboxKind
from flowdesk.outbox.services import do_enqueue


def queue_mail(*, to: str, subject: str, body: str, key: str) -> None:
    """``key``: the idempotency key (one mail per key, however often this is called)."""
    with transaction.atomic():
        do_enqueue(
            kind=OutboxKind.NOTIFY,
            payload={"to": [to], "subject": subject, "body": body},
            idempotency_key=key,
            now=utcnow(),
        )
