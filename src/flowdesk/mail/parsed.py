"""What a parsed mail is: plain data the intake (mailboxes, threading, tickets) works on.

The contract between the parser (``flowdesk.mail.parse``) and the intake. Fields may be added;
none is renamed or removed without changing every reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AutoKind(StrEnum):
    """Why a mail must not start or feed a conversation the normal way."""

    AUTO_REPLY = "auto-reply"  # out-of-office, vacation, RFC 3834 auto-replied
    AUTO_GENERATED = "auto-generated"  # notifications, lists, bulk (Precedence, Auto-Submitted)
    LOOP = "loop"  # carries our own X-Loop or was sent by one of our own addresses
    BOUNCE = "bounce"  # a delivery status notification (multipart/report) or a known bounce format


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes
    #: Content-ID without angle brackets, for inline ``cid:`` images; None otherwise
    content_id: str | None = None
    inline: bool = False
    #: the decoded size in bytes (also for an omitted attachment, whose content is b"")
    size: int = 0
    #: why the content was not kept ("" when it was): a size or count cap; the part is still listed
    omitted: str = ""


@dataclass(frozen=True)
class ParsedMail:
    #: Message-ID without angle brackets; None when the mail has none
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    #: decoded (RFC 2047), whitespace-normalised
    subject: str
    #: lower-cased addr-spec of From ("" when missing or unparsable) and its display name
    from_address: str
    from_name: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    date: datetime | None = None
    #: lower-cased header name -> decoded value (first occurrence), for rules and the loop guard
    headers: dict[str, str] = field(default_factory=dict)
    #: the whole body as plain text (text/plain part, else the HTML converted to text)
    text: str = ""
    #: the HTML body, sanitized; "" when the mail has no HTML part
    html: str = ""
    #: the new text of this mail, with quoted history and signature split off (never lost: below)
    reply_text: str = ""
    quoted_text: str = ""
    signature: str = ""
    attachments: tuple[Attachment, ...] = ()
    #: set when the mail is automatic (see AutoKind); None for a person's mail
    auto: AutoKind | None = None
    #: addresses a bounce reports as failed (empty unless auto is BOUNCE)
    bounced_recipients: tuple[str, ...] = ()
    #: identifies the mail's content (sender, date, subject, body, attachments) independently of
    #: headers servers add in transit: the same mail fetched twice has the same hash
    content_hash: str = ""
    #: the header or reason that decided ``auto`` ("" for a person's mail), for the ticket log
    auto_reason: str = ""
    #: what was wrong with the mail's structure (names of the email package's defects, and the
    #: parser's own notes); the mail was still parsed as far as possible
    defects: tuple[str, ...] = ()
