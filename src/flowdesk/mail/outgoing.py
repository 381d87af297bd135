"""What every outgoing ticket mail carries, decided when it is queued (in the update's
transaction) and sent as it was decided by the outbox worker:

- a Message-ID of our own, signed: ``<fd.<ticket>.<nonce>.<mac>@domain>`` with an HMAC over the
  ticket id and nonce under a key derived from SECRET_KEY, so a mail that names it in
  In-Reply-To/References threads into that ticket and nothing else (a forged id does not verify);
- In-Reply-To and References of the thread (the ticket's stored Message-IDs, oldest first);
- a subject with the ticket token ``[#123]``; Reply-To: the ticket's mailbox, else the default;
- a text body and an HTML alternative rendered from the same template;
- on automatic mails (a rule's reply, a survey): ``Auto-Submitted: auto-replied`` and our
  ``X-Loop``; they are held back when the update was caused by an automatic mail (the loop
  guard) and capped per recipient (``MAIL_AUTO_REPLIES_PER_HOUR``).

The outgoing message's Message-ID and headers are stored with the ticket's message
(``MailMessage``, direction out).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template.loader import render_to_string

from flowdesk.core import rows
from flowdesk.tickets.cause import Cause, CauseKind
from flowdesk.tickets.models import AuthorKind, Message

if TYPE_CHECKING:
    from flowdesk.tickets.services import TicketWrite

MAIL_KINDS = frozenset({"reply", "notify", "survey"})
#: kinds and causes of mails no person wrote: they must never answer an automatic mail
AUTOMATIC_CAUSES = frozenset({CauseKind.RULE, CauseKind.TIMER, CauseKind.SYSTEM})
_ID = re.compile(r"^fd\.(\d+)\.([0-9a-f]{12})\.([0-9a-f]{20})@")
_REFERENCES_MAX = 20


@dataclass(frozen=True)
class Inbound:
    """The mail an update is processing (set by the intake around its service calls)."""

    mailbox_id: int
    auto: str | None
    sender: str


#: set by ``flowdesk.mail.ingest`` while an inbound mail writes its ticket
CURRENT_INBOUND: ContextVar[Inbound | None] = ContextVar("flowdesk_inbound", default=None)


def _key() -> bytes:
    return hmac.new(
        str(settings.SECRET_KEY).encode(), b"flowdesk.mail.message-id", hashlib.sha256
    ).digest()


def domain() -> str:
    return str(settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "flowdesk.localhost"


def loop_marker() -> str:
    """Our X-Loop value: a mail carrying it came from flowdesk (this installation)."""
    return f"flowdesk@{domain()}"


def _mac(ticket_id: int, nonce: str) -> str:
    return hmac.new(_key(), f"{ticket_id}.{nonce}".encode(), hashlib.sha256).hexdigest()[:20]


def signed_message_id(ticket_id: int, seed: str) -> str:
    """Our Message-ID (without angle brackets) for a mail of ``ticket_id``; ``seed`` (the outbox
    key) makes it stable: a retried send is the same message."""
    nonce = hashlib.sha256(seed.encode()).hexdigest()[:12]
    return f"fd.{ticket_id}.{nonce}.{_mac(ticket_id, nonce)}@{domain()}"


def ticket_of_message_id(message_id: str) -> int | None:
    """The ticket one of our Message-IDs names, when its signature verifies; else None."""
    match = _ID.match(message_id.strip("<> ").lower())
    if match is None:
        return None
    ticket_id, nonce, mac = int(match[1]), match[2], match[3]
    return ticket_id if hmac.compare_digest(mac, _mac(ticket_id, nonce)) else None


def body_marker(ticket_id: int) -> str:
    """The optional reference line at the end of outgoing text (``MAIL_BODY_MARKER``)."""
    return f"[ref:fd-{ticket_id}-{_mac(ticket_id, 'body')[:12]}]"


_MARKER = re.compile(r"\[ref:fd-(\d+)-([0-9a-f]{12})\]")


def ticket_of_body(text: str) -> int | None:
    for match in _MARKER.finditer(text):
        ticket_id = int(match[1])
        if hmac.compare_digest(match[2], _mac(ticket_id, "body")[:12]):
            return ticket_id
    return None


def _with_token(subject: str, ticket_id: int) -> str:
    token = f"[#{ticket_id}]"
    return subject if token in subject else f"{subject} {token}".strip()


def _reply_to(ticket_id: int) -> str:
    from flowdesk.mail.models import MailMessage

    row = (
        MailMessage.objects.filter(ticket_id=ticket_id, mailbox__isnull=False)
        .order_by("id")
        .values_list("mailbox__addresses", flat=True)
        .first()
    )
    addresses = [str(a) for a in row or []]
    return addresses[0] if addresses else str(settings.DEFAULT_FROM_EMAIL)


def _thread(ticket_id: int) -> list[str]:
    from flowdesk.mail.models import MailMessage

    ids = list(
        MailMessage.objects.filter(ticket_id=ticket_id)
        .order_by("id")
        .values_list("message_id", flat=True)
    )
    if len(ids) > _REFERENCES_MAX:  # the first (the root) and the most recent ones
        ids = ids[:1] + ids[-(_REFERENCES_MAX - 1) :]
    return ids


def _over_cap(recipients: list[str], key: str, w: TicketWrite) -> bool:
    """The per-recipient cap of automatic mails; under it, this one is counted."""
    from flowdesk.mail.models import AutoReplySent

    cap = int(settings.FLOWDESK["MAIL_AUTO_REPLIES_PER_HOUR"])
    if cap <= 0:
        return False
    since = w.now - timedelta(hours=1)
    for to in recipients:
        if AutoReplySent.objects.filter(recipient=to, created_at__gte=since).count() >= cap:
            return True
    rows.insert_ignore(
        [
            AutoReplySent(recipient=to, key=f"{key}:{n}", created_at=w.now)
            for n, to in enumerate(recipients)
        ]
    )
    return False


def outgoing_hook(
    w: TicketWrite,
    kind: str,
    payload: dict[str, Any],
    key: str,
    cause: Cause,
    message: Message | None,
) -> bool:
    """The mail side of a ticket's outgoing item (``tickets.delivery.OUTGOING_HOOKS``)."""
    if kind not in MAIL_KINDS:
        return True
    ticket = w.ticket
    automatic = kind == "survey" or (
        kind == "reply"
        and cause.kind in AUTOMATIC_CAUSES
        and (message is None or message.author_kind == AuthorKind.SYSTEM)
    )
    recipients = [str(a).lower() for a in payload.get("to") or []]
    if automatic:
        inbound = CURRENT_INBOUND.get()
        if inbound is not None and w.cause.kind == CauseKind.MAIL and inbound.auto:
            return False  # never answer an automatic mail: no loop
        # The cap is for answers to incoming mail (an auto-responder the guard does not
        # recognise would otherwise be answered on every mail); reminders a timer or an
        # agent's update triggers are not answers.
        if w.cause.kind == CauseKind.MAIL and _over_cap(recipients, key, w):
            return False
    message_id = signed_message_id(ticket.pk, key)
    thread = _thread(ticket.pk)
    subject = _with_token(str(payload.get("subject") or ticket.subject), ticket.pk)
    headers: dict[str, str] = {"Message-ID": f"<{message_id}>", "Reply-To": _reply_to(ticket.pk)}
    if thread:
        headers["In-Reply-To"] = f"<{thread[-1]}>"
        headers["References"] = " ".join(f"<{i}>" for i in thread)
    if automatic:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Loop"] = loop_marker()
    body = str(payload.get("body") or "")
    if settings.FLOWDESK["MAIL_BODY_MARKER"]:
        body = f"{body.rstrip()}\n\n{body_marker(ticket.pk)}"
    context = {"body": body, "paragraphs": [p for p in body.split("\n\n") if p.strip()]}
    payload["subject"] = subject
    payload["body"] = render_to_string("mail/message.txt", context).rstrip("\n")
    payload["html"] = render_to_string("mail/message.html", context)
    payload["headers"] = headers
    if message is not None:
        from flowdesk.mail.models import Direction, MailMessage

        rows.insert_ignore(
            [
                MailMessage(
                    ticket_message=message,
                    ticket_id=ticket.pk,
                    direction=Direction.OUT,
                    message_id=message_id,
                    participants=recipients,
                    headers={**headers, "Subject": subject, "To": ", ".join(recipients)},
                    created_at=w.now,
                )
            ]
        )
    return True


def register() -> None:
    from flowdesk.tickets.delivery import OUTGOING_HOOKS

    if outgoing_hook not in OUTGOING_HOOKS:
        OUTGOING_HOOKS.append(outgoing_hook)
