"""Mailboxes, the raw mails they received, the mail side of ticket messages, bounces and the
auto-reply ledger. Ticket rows are never written here: only through ``tickets.services``."""

from __future__ import annotations

from django.db import models

from flowdesk.accounts.models import Team
from flowdesk.core.clock import utcnow
from flowdesk.sla.models import Calendar
from flowdesk.tickets.models import Message, Ticket


class MailboxKind(models.TextChoices):
    IMAP = "imap"
    LMTP = "lmtp"  # an LMTP (or plain SMTP) receiver flowdesk listens on


class TlsMode(models.TextChoices):
    SSL = "ssl"  # implicit TLS (IMAPS, port 993)
    STARTTLS = "starttls"
    NONE = "none"  # only for a server on the same host or a trusted network


class Mailbox(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=MailboxKind.choices)
    active = models.BooleanField(default=True)
    # IMAP
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    tls = models.CharField(max_length=8, choices=TlsMode.choices, default=TlsMode.SSL)
    username = models.CharField(max_length=255, blank=True)
    # Stored as given (see docs/mail.md, "Threat model"): the database is as secret as the
    # mailbox password. Never shown by the API, the CLI or the admin.
    password = models.CharField(max_length=1000, blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    #: after import: move to this folder; "" = flag \Seen and leave it
    move_to = models.CharField(max_length=255, blank=True)
    poll_seconds = models.PositiveIntegerField(default=60)
    batch = models.PositiveIntegerField(default=200)
    # LMTP/SMTP receiver: host:port it listens on
    listen = models.CharField(max_length=255, blank=True)
    # Where its tickets go, and the addresses it receives for (Reply-To, the loop guard).
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    calendar = models.ForeignKey(Calendar, null=True, blank=True, on_delete=models.SET_NULL)
    addresses = models.JSONField(default=list, blank=True)
    # IMAP sync state: the folder's UIDVALIDITY and the highest UID stored under it.
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A poll is a lease: one worker polls a mailbox at a time (any number process its mails).
    poll_owner = models.CharField(max_length=100, blank=True)
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InboundStatus(models.TextChoices):
    NEW = "new"  # stored, not processed yet
    PARSED = "parsed"  # became a ticket or a message
    PARKED = "parked"  # could not be processed: retried with backoff
    IGNORED = "ignored"  # an automatic mail with nothing to attach to, or our own loop
    DUPLICATE = "duplicate"  # the same mail was already stored as a message
    BOUNCE = "bounce"  # a delivery failure report: recorded as a Bounce


class InboundMail(models.Model):
    """One received mail, raw, committed before anything reads it: never lost."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="inbound")
    uid = models.BigIntegerField(null=True, blank=True)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=utcnow)
    status = models.CharField(
        max_length=12, choices=InboundStatus.choices, default=InboundStatus.NEW
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=utcnow)
    processed_at = models.DateTimeField(null=True, blank=True)
    #: flagged or moved on the IMAP server (done after the commit; redone when it failed)
    server_done = models.BooleanField(default=False)
    message_id = models.CharField(max_length=998, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A processing claim (several workers process one mailbox's mails at once).
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], name="inbound_mail_once_per_uid"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="inbound_due"),
            # a reply waits while the mail it answers is stored but not processed yet
            # (ingest._parent_pending): without it SQLite reads every raw mail of the mailbox
            models.Index(fields=["mailbox", "message_id"], name="inbound_message_id"),
        ]

    def __str__(self) -> str:
        return f"inbound #{self.pk} ({self.status})"


class Direction(models.TextChoices):
    IN = "in"
    OUT = "out"


class MailMessage(models.Model):
    """The mail side of a ticket message: its Message-ID, threading headers and mailbox."""

    ticket_message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="mail")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_id = models.CharField(max_length=998, db_index=True)
    content_hash = models.CharField(max_length=64, blank=True)
    #: who took part (From, To, Cc): a later mail from one of them may thread by subject token
    participants = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    #: inbound: the quoted history and the signature the parser split off the new text (the
    #: ticket message holds only the new text; the workspace shows these folded under it)
    quoted_text = models.TextField(blank=True)
    signature = models.TextField(blank=True)
    inbound = models.ForeignKey(
        InboundMail, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The same mail fetched twice is one message; another mail reusing a Message-ID
            # (a different content) is a message of its own.
            models.UniqueConstraint(
                fields=["mailbox", "message_id", "content_hash"], name="mail_message_once"
            )
        ]

    def __str__(self) -> str:
        return f"<{self.message_id}> ({self.direction})"


class Bounce(models.Model):
    """A delivery failure reported for an address we sent to."""

    address = models.EmailField(max_length=320, db_index=True)
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL)
    inbound = models.ForeignKey(InboundMail, on_delete=models.CASCADE, related_name="bounces")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["inbound", "address"], name="bounce_once")]

    def __str__(self) -> str:
        return self.address


class AutoReplySent(models.Model):
    """An automatic mail (a rule's reply, a survey) flowdesk queued to a recipient: the ledger
    of the per-recipient cap (FLOWDESK MAIL_AUTO_REPLIES_PER_HOUR)."""

    recipient = models.CharField(max_length=320)
    #: the outbox idempotency key: a replayed update counts once
    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        indexes = [models.Index(fields=["recipient", "created_at"], name="auto_reply_recent")]

    def __str__(self) -> str:
        return self.recipient
