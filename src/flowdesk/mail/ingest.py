"""Intake: raw mails are stored (committed) first, then processed: parsed, guarded, deduplicated,
threaded and written to tickets through ``tickets.services`` with a ``mail`` cause.

A mail that cannot be processed is parked with its error and retried with a doubling backoff
(``MAIL_RETRY_SECONDS``, at most ``MAIL_MAX_ATTEMPTS`` times; then it stays parked, visible in
``GET /api/mailboxes/inbound?status=parked``): never lost. Several workers may process at once:
each claims due rows with a lease (``SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from flowdesk.accounts.identities import (
    customer_for_address,
    customers_for_addresses,
    do_record_bounces,
)
from flowdesk.accounts.models import Role, User
from flowdesk.core import rows
from flowdesk.core.clock import utcnow
from flowdesk.core.writes import write_transaction
from flowdesk.mail import loop
from flowdesk.mail.models import (
    Bounce,
    Direction,
    InboundMail,
    InboundStatus,
    Mailbox,
    MailMessage,
)
from flowdesk.mail.outgoing import CURRENT_INBOUND, Inbound, loop_marker
from flowdesk.mail.parse import parse
from flowdesk.mail.parsed import AutoKind, ParsedMail
from flowdesk.mail.source import ticket_source
from flowdesk.mail.thread import find_ticket
from flowdesk.tickets.cause import Cause, CauseKind
from flowdesk.tickets.models import Channel, Status, Ticket
from flowdesk.tickets.services import ChangeSet, NewMessage, do_create_ticket, do_update_ticket

log = logging.getLogger(__name__)

_FIELDS = ["status", "error", "attempts", "next_attempt_at", "processed_at", "message_id"]
_FIELDS += ["ticket", "ticket_message", "lease_owner", "lease_until"]
#: the quoted history and signature kept with an inbound mail message (characters each)
MAX_QUOTED = 200_000


def store(
    mailbox: Mailbox,
    raws: Sequence[tuple[int | None, bytes]],
    *,
    uidvalidity: int | None = None,
    last_uid: int | None = None,
    now: datetime | None = None,
) -> int:
    """Commit raw mails (uid, bytes) of ``mailbox``; a uid already stored under the same
    UIDVALIDITY is skipped. ``last_uid``: the mailbox's IMAP progress, moved in the same
    transaction. Returns how many rows were new."""
    now = now or utcnow()
    objs = [
        InboundMail(
            mailbox=mailbox,
            uid=uid,
            uidvalidity=uidvalidity if uid is not None else None,
            raw=raw,
            size=len(raw),
            message_id=header_message_id(raw),
            received_at=now,
            next_attempt_at=now,
        )
        for uid, raw in raws
    ]
    with write_transaction():
        before = InboundMail.objects.filter(mailbox=mailbox).count() if objs else 0
        if objs:
            rows.insert_ignore(objs)
        fields = ["last_polled_at"]
        mailbox.last_polled_at = now
        if last_uid is not None:
            mailbox.uidvalidity, mailbox.last_uid = uidvalidity, last_uid
            fields += ["uidvalidity", "last_uid"]
        rows.update_fields(mailbox, fields)
        after = InboundMail.objects.filter(mailbox=mailbox).count() if objs else 0
    return after - before


def claim(owner: str, now: datetime, limit: int) -> list[int]:
    """Due rows (new, or parked and due again), leased to ``owner``."""
    lease = timedelta(seconds=float(settings.FLOWDESK["MAIL_LEASE_SECONDS"]))
    max_attempts = int(settings.FLOWDESK["MAIL_MAX_ATTEMPTS"])
    due = Q(status=InboundStatus.NEW, next_attempt_at__lte=now) | Q(
        status=InboundStatus.PARKED, next_attempt_at__lte=now, attempts__lt=max_attempts
    )
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    with write_transaction():
        qs = InboundMail.objects.filter(due & free).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if ids:
            InboundMail.objects.filter(id__in=ids).update(
                lease_owner=owner, lease_until=now + lease
            )
    return ids


@dataclass
class _Context:
    own: set[str]
    mailboxes: dict[int, Mailbox]
    #: customers by address, read for a whole batch at once (``customers_for_addresses``):
    #: only those holding the address verified (or as their login), the ones mail attaches to
    customers: dict[str, User] = field(default_factory=dict)
    #: addresses that batch read looked up (found or not)
    looked_up: set[str] = field(default_factory=set)


def process_pending(owner: str, *, limit: int | None = None, now: datetime | None = None) -> int:
    """Claim and process due mails until none is left (or ``limit``); returns how many."""
    batch = int(settings.FLOWDESK["MAIL_PROCESS_BATCH"])
    done = 0
    waits = 0  # rounds waited for mails deferred behind the mail they answer
    ctx = _Context(loop.own_addresses(), {})
    while limit is None or done < limit:
        ids = claim(owner, now or utcnow(), batch if limit is None else min(batch, limit - done))
        if not ids:
            if waits and waits < 200:
                waits += 1
                time.sleep(0.05)
                continue
            break
        waits = 0
        claimed = list(InboundMail.objects.filter(id__in=ids).order_by("id"))
        for status in process_batch(claimed, now=now, ctx=ctx):
            if status == InboundStatus.NEW:
                waits = 1  # deferred: its parent is being processed by another worker
            else:
                done += 1
    return done


def _park(row: InboundMail, error: str, now: datetime) -> None:
    """Parks ``row`` (in the caller's transaction when there is one)."""
    row.attempts += 1
    row.status = InboundStatus.PARKED
    row.error = error[-4000:]
    backoff = float(settings.FLOWDESK["MAIL_RETRY_SECONDS"]) * 2 ** (row.attempts - 1)
    row.next_attempt_at = now + timedelta(seconds=min(backoff, 86400))
    row.lease_owner, row.lease_until = "", None
    with write_transaction():
        rows.update_fields(row, _FIELDS)


def process_one(
    row: InboundMail, *, now: datetime | None = None, ctx: _Context | None = None
) -> str:
    """Process one stored mail; returns its new status."""
    return process_batch([row], now=now, ctx=ctx)[0]


def process_batch(
    batch: Sequence[InboundMail], *, now: datetime | None = None, ctx: _Context | None = None
) -> list[str]:
    """Process claimed mails, in order; returns their new statuses.

    Every mail is parsed first, outside any transaction (a mail the parser cannot read is
    parked). Then the batch is written in one transaction, each mail in a savepoint of its
    own: a mail that fails rolls back only itself and is parked with its error in the same
    transaction; the others are stored. When the batch's transaction fails as a whole (a
    deadlock, a lost connection), each of its mails is processed again on its own."""
    now = now or utcnow()
    ctx = ctx or _Context(loop.own_addresses(), {})
    marker = loop_marker()
    work: list[tuple[InboundMail, Mailbox, ParsedMail | str]] = []
    for row in batch:
        mailbox = ctx.mailboxes.get(row.mailbox_id)
        if mailbox is None:
            mailbox = ctx.mailboxes[row.mailbox_id] = Mailbox.objects.select_related("team").get(
                pk=row.mailbox_id
            )
        try:
            mail: ParsedMail | str = parse(
                bytes(row.raw), own_addresses=ctx.own, loop_marker=marker
            )
        except Exception as exc:  # a mail the parser cannot read is parked, never lost
            mail = f"parse: {type(exc).__name__}: {exc}"
        work.append((row, mailbox, mail))
    ctx.looked_up = {
        m.from_address for _, _, m in work if isinstance(m, ParsedMail) and m.from_address
    }
    found = customers_for_addresses(ctx.looked_up)
    ctx.customers = {a: user for a, (user, verified) in found.items() if verified}
    saved = [_state(row) for row in batch]
    try:
        with write_transaction():
            for row, mailbox, mail in work:
                if isinstance(mail, str):
                    _park(row, mail, now)
                else:
                    _process_parsed(row, mailbox, mail, now, ctx)
    except Exception as exc:
        if len(batch) == 1:
            for row, before in zip(batch, saved, strict=True):
                _restore(row, before)
            _park(batch[0], "".join(traceback.format_exception_only(exc)).strip(), now)
            return [batch[0].status]
        log.warning("mail batch of %d failed (%s): each mail again on its own", len(batch), exc)
        out = []
        for row, before in zip(batch, saved, strict=True):
            _restore(row, before)
            out.append(process_batch([row], now=now, ctx=ctx)[0])
        return out
    finally:
        ctx.customers, ctx.looked_up = {}, set()
    return [row.status for row in batch]


def _state(row: InboundMail) -> dict[str, object]:
    return {f: getattr(row, f) for f in (*_ATTRS, "attempts", "error")}


def _restore(row: InboundMail, state: dict[str, object]) -> None:
    for name, value in state.items():
        setattr(row, name, value)


_ATTRS = ["status", "next_attempt_at", "processed_at", "message_id", "ticket_id"]
_ATTRS += ["ticket_message_id", "lease_owner", "lease_until"]
#: PostgreSQL's deadlock, serialization failure and lock timeout: try again, not a fault
_TRANSIENT = {"40P01", "40001", "55P03"}


def _process_parsed(
    row: InboundMail, mailbox: Mailbox, mail: ParsedMail, now: datetime, ctx: _Context
) -> None:
    """One parsed mail, in a savepoint of the batch's transaction."""
    before = _state(row)
    try:
        with transaction.atomic():
            status = _route(row, mailbox, mail, now, ctx)
            row.status, row.error, row.processed_at = status, "", now
            row.attempts += 1
            row.lease_owner, row.lease_until = "", None
            rows.update_fields(row, _FIELDS)
        return
    except _NotYet:
        _restore(row, before)
        _defer(row, now)
        return
    except IntegrityError as exc:
        ctx.customers.pop(mail.from_address, None)  # a customer it created is rolled back
        _restore(row, before)
        # The same mail stored as a message by another worker at the same moment?
        row.refresh_from_db()
        if not MailMessage.objects.filter(
            mailbox_id=row.mailbox_id,
            message_id=mail.message_id or "",
            content_hash=mail.content_hash,
        ).exists():
            _park(row, f"{type(exc).__name__}: {exc}", now)
        elif row.status in (InboundStatus.NEW, InboundStatus.PARKED):
            row.status, row.processed_at = InboundStatus.DUPLICATE, now
            row.lease_owner, row.lease_until = "", None
            rows.update_fields(row, _FIELDS)
    except Exception as exc:
        ctx.customers.pop(mail.from_address, None)
        _restore(row, before)
        if getattr(exc.__cause__, "sqlstate", None) in _TRANSIENT:
            _defer(row, now)  # another worker's batch held a row it needed
            return
        log.warning("mail %s parked: %s", row.pk, exc)
        _park(row, "".join(traceback.format_exception_only(exc)).strip(), now)


def _defer(row: InboundMail, now: datetime) -> None:
    row.next_attempt_at = now + timedelta(seconds=0.05)
    row.lease_owner, row.lease_until = "", None
    rows.update_fields(row, ["next_attempt_at", "lease_owner", "lease_until"])


class _NotYet(Exception):
    """The mail answers one stored before it that is not processed yet: wait for it."""


def _parent_pending(row: InboundMail, mail: ParsedMail) -> bool:
    ids = [*mail.in_reply_to, *mail.references][-50:]
    return bool(ids) and (
        InboundMail.objects.filter(
            mailbox_id=row.mailbox_id,
            message_id__in=ids,
            id__lt=row.pk,
            status=InboundStatus.NEW,
        ).exists()
    )


_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^>\r\n]{1,900})>", re.I | re.M)


def header_message_id(raw: bytes) -> str:
    """The Message-ID read from the raw header (cheap, before parsing): what a later reply's
    In-Reply-To names while this mail still waits to be processed."""
    head = raw[: raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else 65536]
    match = _MESSAGE_ID.search(head)
    return match[1].decode("ascii", "replace") if match else ""


def _requester(mail: ParsedMail, ctx: _Context) -> User:
    """The sender: the customer holding the From address verified (or as its login). An
    address some customer holds only unverified does not attach to that customer: the sender
    gets (or keeps) a record of its own, and creating it suggests the merge
    (``do_sync_primary_email`` → ``suggest_for_claims``), as docs/customers.md says."""
    from flowdesk.accounts.services import do_create_user

    user = ctx.customers.get(mail.from_address)
    if user is not None:
        return user
    if mail.from_address not in ctx.looked_up:
        user, verified = customer_for_address(mail.from_address)
        if not verified:
            user = None
    if user is None:
        # No verified holder: a new customer, as for a ticket an agent opens for it.
        user = do_create_user(
            mail.from_address, name=mail.from_name, role=Role.CUSTOMER, existing_ok=True
        )
    ctx.customers[mail.from_address] = user
    return user


def _route(
    row: InboundMail, mailbox: Mailbox, mail: ParsedMail, now: datetime, ctx: _Context
) -> str:
    auto = mail.auto
    row.message_id = (mail.message_id or "")[:998]
    if auto == AutoKind.LOOP:
        row.error = "our own mail (loop)"
        return InboundStatus.IGNORED
    # Whether a mail it answers still waits is read BEFORE the thread lookup: another worker
    # commits that mail's status and its stored message together, so a parent seen as done
    # here is found by find_ticket below (the other order could miss both and open a ticket).
    pending = _parent_pending(row, mail)
    match = find_ticket(mail)
    if match is None and pending:
        raise _NotYet
    if auto == AutoKind.BOUNCE:
        return _bounce(row, mailbox, mail, match.ticket_id if match else None, now)
    if not mail.from_address:
        raise ValueError("the mail has no usable From address")
    content_hash = mail.content_hash
    message_id = mail.message_id or f"nomid.{content_hash[:40]}@flowdesk.invalid"
    if MailMessage.objects.filter(
        mailbox=mailbox, message_id=message_id, content_hash=content_hash
    ).exists():
        return InboundStatus.DUPLICATE
    sender = _requester(mail, ctx)
    cause = Cause.channel(CauseKind.MAIL, f"mailbox {mailbox.name}", actor=sender)
    text = mail.reply_text or mail.text
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip() or "(no text)"
    token = CURRENT_INBOUND.set(Inbound(mailbox.pk, auto, mail.from_address))
    try:
        if match is not None:
            ticket = _reply(match.ticket_id, mail, body, auto, cause, mailbox, now)
        elif auto == AutoKind.AUTO_REPLY:
            row.error = "an automatic reply that belongs to no ticket"
            return InboundStatus.IGNORED
        else:
            ticket = _new_ticket(mail, body, sender, mailbox, cause, now)
    finally:
        CURRENT_INBOUND.reset(token)
    # The mail's own message, as the ticket services return it (a rule may have added more).
    message, ticket_id = ticket.added_message, ticket.pk
    assert message is not None
    people = {mail.from_address, *mail.to, *mail.cc} - ctx.own
    rows.insert(
        MailMessage(
            ticket_message=message,
            ticket_id=ticket_id,
            mailbox=mailbox,
            direction=Direction.IN,
            message_id=message_id,
            content_hash=content_hash,
            participants=sorted(a.lower() for a in people if a),
            headers={k: v[:2000] for k, v in list(mail.headers.items())[:100]},
            quoted_text=mail.quoted_text[:MAX_QUOTED] if mail.reply_text else "",
            signature=mail.signature[:MAX_QUOTED] if mail.reply_text else "",
            inbound=row,
            created_at=now,
        )
    )
    row.ticket_id, row.message_id = ticket_id, message_id
    row.ticket_message = message
    return InboundStatus.PARSED


def _new_ticket(
    mail: ParsedMail,
    body: str,
    sender: User,
    mailbox: Mailbox,
    cause: Cause,
    now: datetime,
    *,
    follow_up_of: int | None = None,
) -> Ticket:
    values: dict[str, object] = {}
    if mailbox.team is not None:
        values["team"] = mailbox.team.name
    ticket = do_create_ticket(
        requester=sender,
        subject=mail.subject or "(no subject)",
        message=NewMessage(body_text=body, channel=Channel.EMAIL),
        channel=Channel.EMAIL,
        changes=ChangeSet(values=values, add={"tags": [f"mailbox:{mailbox.name}"]}),
        cause=cause,
        now=now,
        source=ticket_source(mail, mailbox, sender.email),
    )
    if follow_up_of is not None:
        for on, text in (
            (ticket.pk, f"Follow-up of closed ticket #{follow_up_of}."),
            (follow_up_of, f"The customer wrote again after closing: continued in #{ticket.pk}."),
        ):
            _note(on, text, f"mailbox {mailbox.name}", now)
    return ticket


def _note(ticket_id: int, text: str, detail: str, now: datetime) -> Ticket:
    """An internal note by the mail channel (no author: nobody is notified)."""
    return do_update_ticket(
        ticket_id,
        changes=ChangeSet(),
        message=NewMessage(body_text=text, public=False, channel=Channel.EMAIL),
        expected_version=None,
        cause=Cause.channel(CauseKind.MAIL, detail),
        now=now,
    )


def _reply(
    ticket_id: int,
    mail: ParsedMail,
    body: str,
    auto: AutoKind | None,
    cause: Cause,
    mailbox: Mailbox,
    now: datetime,
) -> Ticket:
    """Adds the mail to its ticket; returns the ticket it went to (a new one for a reply to a
    ticket closed longer ago than MAIL_REOPEN_DAYS)."""
    # Locked while its status is read: no other worker closes or reopens it before the update.
    status, closed_at = (
        Ticket.objects.select_for_update()
        .filter(pk=ticket_id)
        .values_list("status", "status_changed_at")
        .get()
    )
    if auto is not None:
        # An automatic mail (an out-of-office answer to our reply) is kept as an internal note:
        # agents see it, nobody is notified, no rule answers it, the ticket stays as it was.
        text = f"Automatic reply from {mail.from_address} ({auto}):\n\n{body}"
        return _note(ticket_id, text, f"mailbox {mailbox.name}; {auto}", now)
    changes = ChangeSet()
    if status == Status.CLOSED:
        days = int(settings.FLOWDESK["MAIL_REOPEN_DAYS"])
        if closed_at is None or now - closed_at > timedelta(days=days):
            assert cause.actor is not None
            return _new_ticket(mail, body, cause.actor, mailbox, cause, now, follow_up_of=ticket_id)
        changes = ChangeSet(values={"status": Status.OPEN})
    return do_update_ticket(
        ticket_id,
        changes=changes,
        message=NewMessage(body_text=body, channel=Channel.EMAIL),
        expected_version=None,
        cause=cause,
        now=now,
    )


def _bounce(
    row: InboundMail,
    mailbox: Mailbox,
    mail: ParsedMail,
    ticket_id: int | None,
    now: datetime,
) -> str:
    addresses = sorted({a.lower() for a in mail.bounced_recipients})
    rows.insert_ignore(
        [
            Bounce(address=a, mailbox=mailbox, inbound=row, ticket_id=ticket_id, created_at=now)
            for a in addresses
        ]
    )
    do_record_bounces(addresses, now)
    if ticket_id is not None:
        text = f"Delivery failed (bounce) for: {', '.join(addresses) or '?'}"
        _note(ticket_id, text, f"mailbox {mailbox.name}; bounce", now)
        row.ticket_id = ticket_id
    row.error = f"bounce for {', '.join(addresses)}" if addresses else "bounce"
    return InboundStatus.BOUNCE
