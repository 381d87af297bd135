"""Delivery handlers, one registered class per outbox kind (dispatch only through the registry)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import EmailMessage

from flowdesk.core.registry import Registry
from flowdesk.outbox.models import OutboxItem


class DeliveryError(Exception):
    """A delivery attempt failed; the item is retried with backoff until max_attempts."""


class Deliverer:
    kind: ClassVar[str]

    def deliver(self, item: OutboxItem) -> None:
        raise NotImplementedError


DELIVERERS: Registry[Deliverer] = Registry("outbox deliverer")


def _send_mail(to: list[str], subject: str, body: str, item: OutboxItem) -> None:
    if not to:
        raise DeliveryError("no recipients")
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"X-Flowdesk-Outbox": item.idempotency_key},
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any transport error is a failed attempt, not a crash
        raise DeliveryError(f"mail: {exc}") from exc


class MailDeliverer(Deliverer):
    """Replies, notifications and surveys are e-mails until their own channels arrive."""

    def deliver(self, item: OutboxItem) -> None:
        p: dict[str, Any] = item.payload
        _send_mail(list(p.get("to") or []), str(p.get("subject", "")), str(p.get("body", "")), item)


for _kind in ("reply", "notify", "survey"):
    DELIVERERS.add(_kind, MailDeliverer())


class WebhookDeliverer(Deliverer):
    """Signed, guarded delivery: flowdesk.outbox.webhooks does the work."""

    def deliver(self, item: OutboxItem) -> None:
        from flowdesk.outbox import webhooks

        timeout = settings.FLOWDESK["WEBHOOK_TIMEOUT_SECONDS"]
        try:
            webhooks.deliver(item.payload, item.idempotency_key, timeout)
        except webhooks.WebhookTimeout as exc:
            raise DeliveryTimeout(str(exc)) from exc
        except (webhooks.WebhookRefused, webhooks.WebhookFailed) as exc:
            raise DeliveryError(str(exc)) from exc


DELIVERERS.add("webhook", WebhookDeliverer())


class DeliveryTimeout(DeliveryError):
    """The destination did not answer in time (a failed attempt, retried like any other)."""
