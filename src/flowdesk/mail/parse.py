"""Parse RFC 822 bytes into a ParsedMail (interim: headers and the first text part only; the full
parser replaces the body of ``parse`` and keeps its signature)."""

from __future__ import annotations

import hashlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from flowdesk.mail.parsed import ParsedMail


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip("<>") for part in (value or "").split() if part.strip("<>"))


def parse(raw: bytes) -> ParsedMail:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    sender = getaddresses([str(msg.get("From", ""))])
    name, address = sender[0] if sender else ("", "")
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    date = None
    if msg.get("Date"):
        try:
            date = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            date = None
    ids = _ids(str(msg.get("Message-ID", "")))
    return ParsedMail(
        message_id=ids[0] if ids else None,
        in_reply_to=_ids(str(msg.get("In-Reply-To", ""))),
        references=_ids(str(msg.get("References", ""))),
        subject=" ".join(str(msg.get("Subject", "")).split()),
        from_address=address.lower(),
        from_name=name,
        date=date,
        headers={k.lower(): str(v) for k, v in reversed(msg.items())},
        text=text,
        reply_text=text,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
