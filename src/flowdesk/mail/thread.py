"""Which ticket a mail belongs to, in this order (docs/mail.md, "Threading"):

1. one of our own signed Message-IDs in In-Reply-To or References (verified: a forged one is
   ignored, so a mail cannot be threaded into someone else's ticket by guessing an id);
2. any stored Message-ID of a message on a ticket (in or out);
3. a subject token ``[#123]``, only when the sender is the ticket's requester, a follower or a
   participant of its mails (else a stranger could post into any ticket by number);
4. the signed body marker ``[ref:fd-123-…]`` (when outgoing mails carry it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowdesk.mail.models import MailMessage
from flowdesk.mail.outgoing import ticket_of_body, ticket_of_message_id
from flowdesk.mail.parsed import ParsedMail
from flowdesk.tickets.models import Ticket

_TOKEN = re.compile(r"\[#(\d{1,12})\]")


@dataclass(frozen=True)
class Match:
    ticket_id: int
    how: str  # signed-id | message-id | subject-token | body-marker


def _exists(ticket_id: int) -> bool:
    return Ticket.objects.filter(pk=ticket_id).exists()


def participants(ticket_id: int) -> set[str]:
    """Who may thread into a ticket by its subject token."""
    ticket = Ticket.objects.filter(pk=ticket_id).values_list("requester__email", flat=True)
    people = {str(e).lower() for e in ticket}
    people |= {
        str(e).lower()
        for e in Ticket.followers.through.objects.filter(ticket_id=ticket_id).values_list(
            "user__email", flat=True
        )
    }
    for row in MailMessage.objects.filter(ticket_id=ticket_id).values_list(
        "participants", flat=True
    ):
        people |= {str(a).lower() for a in row or []}
    return people


def find_ticket(mail: ParsedMail) -> Match | None:
    ids = [*reversed(mail.in_reply_to), *reversed(mail.references)]
    for mid in ids:
        ticket_id = ticket_of_message_id(mid)
        if ticket_id is not None and _exists(ticket_id):
            return Match(ticket_id, "signed-id")
    if ids:
        found = (
            MailMessage.objects.filter(message_id__in=ids[:100])
            .order_by("-id")
            .values_list("ticket_id", flat=True)
            .first()
        )
        if found is not None:
            return Match(found, "message-id")
    for token in _TOKEN.findall(mail.subject):
        ticket_id = int(token)
        if _exists(ticket_id) and mail.from_address in participants(ticket_id):
            return Match(ticket_id, "subject-token")
    marker = ticket_of_body(mail.text)
    if marker is not None and _exists(marker):
        return Match(marker, "body-marker")
    return None
