"""Delivery handlers, one registered class per outbox kind (dispatch only through the registry)."""

from __future__ import annotations

import hashlib
import smtplib
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from flowdesk.core.registry import Registry
from flowdesk.outbox.models import OutboxItem


class DeliveryError(Exception):
    """A delivery attempt failed; the item is retried with backoff until max_attempts."""


class DeliveryTimeout(DeliveryError):
    """The request was (or may have been) sent but no answer came in time: the receiver may have
    acted on it, so it is retried with the same idempotency key (``outcome: timeout``)."""


class DeliveryUnreachable(DeliveryError):
    """Nothing was sent: no connection could be made (``outcome: unreachable``)."""


def outcome_of(exc: BaseException) -> str:
    """The ``data.outcome`` of a failed attempt: timeout, unreachable, rejected (the receiver
    answered with a refusal) or error. A deliverer that raises a plain DeliveryError is
    classified by the exception that caused it."""
    if isinstance(exc, DeliveryTimeout):
        return "timeout"
    if isinstance(exc, DeliveryUnreachable):
        return "unreachable"
    if not isinstance(exc, DeliveryError):
        return "error"
    cause = exc.__cause__
    if isinstance(cause, urllib.error.HTTPError):
        return "rejected"
    if isinstance(cause, urllib.error.URLError):
        cause = cause.reason if isinstance(cause.reason, BaseException) else None
    if isinstance(cause, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(cause, OSError):
        return "unreachable"
    return "rejected"


def destination_of(kind: str, payload: dict[str, Any]) -> str:
    """The receiver an item occupies: a webhook's host:port, or the SMTP server for mail."""
    if kind == "webhook":
        parts = urlsplit(str(payload.get("url", "")))
        default_port = 443 if parts.scheme == "https" else 80
        try:
            port = parts.port or default_port
        except ValueError:
            port = default_port
        return f"{parts.hostname or ''}:{port}"
    return "smtp"


def message_id_for(key: str) -> str:
    """A stable Message-ID per idempotency key: a repeated send is the same message to the
    recipient's client (which shows it once)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = str(settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "flowdesk.localhost"
    return f"<outbox.{digest}@{domain}>"


class Deliverer:
    kind: ClassVar[str]

    def deliver(self, item: OutboxItem) -> None:
        raise NotImplementedError


DELIVERERS: Registry[Deliverer] = Registry("outbox deliverer")


def _send_mail(to: list[str], subject: str, body: str, item: OutboxItem) -> None:
    if not to:
        raise DeliveryError("no recipients")
    timeout = settings.EMAIL_TIMEOUT or settings.FLOWDESK["MAIL_TIMEOUT_SECONDS"]
    # The threading headers (Message-ID, In-Reply-To, References, Reply-To, Auto-Submitted)
    # and the HTML alternative were decided when the item was queued (flowdesk.mail.outgoing).
    headers = {
        "X-Flowdesk-Outbox": item.idempotency_key,
        "Message-ID": message_id_for(item.idempotency_key),
        **{str(k): str(v) for k, v in (item.payload.get("headers") or {}).items()},
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers,
        connection=get_connection(fail_silently=False, timeout=timeout),
    )
    if html := item.payload.get("html"):
        message.attach_alternative(str(html), "text/html")
    try:
        message.send(fail_silently=False)
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        raise DeliveryTimeout(f"mail: {exc or 'timed out'}") from exc
    except (ConnectionError, socket.gaierror, smtplib.SMTPConnectError) as exc:
        raise DeliveryUnreachable(f"mail: {exc}") from exc
    except Exception as exc:  # any transport error is a failed attempt, not a crash
        raise DeliveryError(f"mail: {exc}") from exc


#: A mail whose body holds a secret (a password-reset link) is written when it is delivered, not
#: when it is queued, so the secret is never stored in the outbox (which agents can list): its
#: payload names a renderer (``"render": name``), which returns (to, subject, body).
MailRenderer = Callable[[dict[str, Any]], tuple[list[str], str, str]]
MAIL_RENDERERS: Registry[MailRenderer] = Registry("mail renderer")
#: Between a message and the fixed text under it (the usual signature separator).
FOOTER_SEPARATOR = "\n\n-- \n"


def mail_parts(payload: dict[str, Any]) -> tuple[list[str], str, str]:
    """(to, subject, body) of a mail item: the payload's own, or its renderer's. A ``footer``
    (the fixed text in the recipient's language, tickets.delivery) goes under the body."""
    if render := payload.get("render"):
        return MAIL_RENDERERS.get(str(render))(payload)
    body = str(payload.get("body", ""))
    if footer := payload.get("footer"):
        body = f"{body}{FOOTER_SEPARATOR}{footer}"
    return list(payload.get("to") or []), str(payload.get("subject", "")), body


class MailDeliverer(Deliverer):
    """Replies, notifications and surveys are e-mails until their own channels arrive."""

    def deliver(self, item: OutboxItem) -> None:
        to, subject, body = mail_parts(item.payload)
        _send_mail(to, subject, body, item)


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
        except webhooks.WebhookUnreachable as exc:
            raise DeliveryUnreachable(str(exc)) from exc
        except (webhooks.WebhookRefused, webhooks.WebhookFailed) as exc:
            raise DeliveryError(str(exc)) from exc


DELIVERERS.add("webhook", WebhookDeliverer())
