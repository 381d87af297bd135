"""What a mail tells about where its ticket came from: the ``Ticket.source`` of a ticket a mail
opens (rules read it as ``source.*``, docs/automation.md, "Where a ticket came from").

Bounded, because every header of a mail is the sender's to choose: the first ``MAX_HEADERS``
headers of the mail (lower-case names, first occurrence), each value cut to ``MAX_VALUE``
characters.
"""

from __future__ import annotations

from typing import Any

from flowdesk.mail.models import Mailbox
from flowdesk.mail.parsed import ParsedMail

MAX_HEADERS = 50
MAX_VALUE = 500


def ticket_source(mail: ParsedMail, mailbox: Mailbox, sender_email: str) -> dict[str, Any]:
    headers = {
        name.lower(): value[:MAX_VALUE] for name, value in list(mail.headers.items())[:MAX_HEADERS]
    }
    source: dict[str, Any] = {
        "mailbox": mailbox.name,
        "address": (mail.from_address or sender_email).lower(),
        "headers": headers,
    }
    # Content-Language: "de-CH, en" -> "de-ch" (the first language the mail declares).
    language = headers.get("content-language", "").split(",")[0].strip().lower()
    if language:
        source["language"] = language
    if mailbox.calendar_id is not None and mailbox.calendar is not None:
        # The mailbox's calendar decides the ticket's SLA clocks (before its team's).
        source["calendar"] = mailbox.calendar.name
    return source
