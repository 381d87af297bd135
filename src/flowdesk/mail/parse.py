"""Parse RFC 5322 bytes into a ParsedMail.

``parse`` never raises on a broken mail; it raises ``UnparsableMail`` only for bytes that are no
mail at all (no header a mail has), so the intake can park them with the message. What is parsed
how is in docs/mail-parsing.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from flowdesk.mail.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_TOTAL_ATTACHMENT_BYTES,
    raw_filename,
    safe_filename,
)
from flowdesk.mail.bounce import detect_bounce
from flowdesk.mail.charsets import decode_bytes, decode_header_value
from flowdesk.mail.guard import LOOP_MARKER, check_auto
from flowdesk.mail.htmltext import html_to_text, sanitize_html, split_html
from flowdesk.mail.parsed import Attachment, AutoKind, ParsedMail
from flowdesk.mail.quotes import split_text

#: the walk stops after this many MIME parts (a defect says so); the parts seen are kept
MAX_PARTS = 1000
MAX_DEPTH = 40
#: a header any mail carries; bytes with none of them are not a mail
_MAIL_HEADERS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "sender",
    "reply-to",
    "delivered-to",
    "in-reply-to",
    "references",
}
_ID_RE = re.compile(r"<([^<>\s]+)>")
_HASH_VERSION = 1


class UnparsableMail(ValueError):
    """The bytes are not a mail at all (the message says why)."""


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    status_blocks: list[list[tuple[str, str]]] = field(default_factory=list)
    #: (content type, file name, sha256 of the normalised content) of every leaf, for the hash
    digests: list[tuple[str, str, str]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    total_bytes: int = 0


@dataclass(frozen=True)
class _Caps:
    max_attachment_bytes: int
    max_attachments: int
    max_total_bytes: int


def _ids(value: str) -> tuple[str, ...]:
    found = _ID_RE.findall(value)
    if not found:  # some clients omit the angle brackets
        found = [t.strip("<>,") for t in value.split() if "@" in t]
    seen: dict[str, None] = {}
    for item in found:
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def _addresses(raw_values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; names decoded after splitting on commas."""
    pairs: list[tuple[str, str]] = []
    try:
        parsed = getaddresses([decode_header_value(v) if "=?" not in v else v for v in raw_values])
    except (ValueError, TypeError, IndexError):
        return pairs
    for name, address in parsed:
        address = decode_header_value(address).strip().strip("<>").lower()
        if "@" in address:
            pairs.append((decode_header_value(name).strip().strip('"').strip(), address))
    return pairs


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _leaves(msg: Message, body: _Body) -> Iterator[tuple[Message, int]]:
    """Leaf parts in document order, with the number of the multipart/alternative they sit
    under (0 when none), so one alternative gives one plain and one HTML body."""
    stack: list[tuple[Message, int, int]] = [(msg, 0, 0)]
    seen = 0
    while stack:
        part, depth, in_alt = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            body.defects.append(f"more than {MAX_PARTS} MIME parts; the rest were not read")
            return
        body.defects.extend(type(d).__name__ for d in getattr(part, "defects", ()))
        if part.get_content_maintype() == "multipart":
            if depth >= MAX_DEPTH:
                body.defects.append(f"MIME nesting deeper than {MAX_DEPTH}; kept as an attachment")
                yield part, in_alt
                continue
            children = part.get_payload()
            if isinstance(children, list):
                alt = seen if part.get_content_subtype() == "alternative" else in_alt
                stack.extend((c, depth + 1, alt) for c in reversed(children))
                continue
        yield part, in_alt


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, list):  # message/* parts: the embedded message's bytes
        chunks = []
        for sub in payload:
            if not isinstance(sub, Message):
                continue
            try:
                # policy.default, as when the parser built EmailMessages: the hash must not move
                chunks.append(sub.as_bytes(policy=policy.default))
            except (ValueError, TypeError, LookupError, UnicodeError):
                chunks.append(str(sub).encode("utf-8", "replace"))
        return b"".join(chunks)
    return str(payload or "").encode("utf-8", "surrogateescape")


def _status_blocks(part: Message) -> list[list[tuple[str, str]]]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [
            [(k, decode_header_value(v)) for k, v in sub.items()]
            for sub in payload
            if isinstance(sub, Message)
        ]
    blocks: list[list[tuple[str, str]]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", decode_bytes(_payload(part))):
        fields = [tuple(line.split(":", 1)) for line in chunk.splitlines() if ":" in line]
        if fields:
            blocks.append([(k.strip(), v.strip()) for k, v in fields])
    return blocks


_FLOW_QUOTE_RE = re.compile(r"^>+")


def _unflow(text: str, delsp: bool) -> str:
    """Join RFC 3676 format=flowed lines (a trailing space means "continues on the next line")."""
    out: list[str] = []
    open_depth: int | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _FLOW_QUOTE_RE.match(line)
        depth = len(match.group()) if match else 0
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if delsp and flowed:
            content = content[:-1]
        if open_depth is not None and open_depth == depth and out:
            out[-1] += content
        else:
            out.append((">" * depth + " " if depth else "") + content)
        open_depth = depth if flowed else None
    return "\n".join(out)


def _normalised(content_type: str, data: bytes) -> bytes:
    if content_type.startswith("text/"):
        return data.replace(b"\r\n", b"\n").rstrip()
    return data


def _read_parts(msg: Message, caps: _Caps) -> _Body:
    body = _Body()
    alt_seen: set[tuple[int, str]] = set()
    for part, alt in _leaves(msg, body):
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = raw_filename(part)
        data = _payload(part)
        body.digests.append(
            (content_type, filename, hashlib.sha256(_normalised(content_type, data)).hexdigest())
        )
        if content_type == "message/delivery-status":
            body.status_blocks.extend(_status_blocks(part))
            continue
        is_text_body = (
            content_type in {"text/plain", "text/html"}
            and disposition != "attachment"
            and not filename
        )
        if is_text_body:
            text = decode_bytes(data, part.get_content_charset())
            if (
                str(part.get_param("format", "")).lower() == "flowed"
                and content_type == "text/plain"
            ):
                text = _unflow(text, str(part.get_param("delsp", "")).lower() == "yes")
            target = body.plain if content_type == "text/plain" else body.html
            key = (alt, content_type)
            if not (alt and key in alt_seen):
                alt_seen.add(key)
                target.append(text)
                continue
        _add_attachment(body, part, content_type, disposition, filename, data, caps)
    return body


def _add_attachment(
    body: _Body,
    part: Message,
    content_type: str,
    disposition: str,
    filename: str,
    data: bytes,
    caps: _Caps,
) -> None:
    content_id = _ids(str(part.get("Content-ID", "")))
    cid = content_id[0] if content_id else None
    if not filename and content_type in {"message/rfc822", "message/global"}:
        subject = ""
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            subject = decode_header_value(payload[0].get("Subject", ""))
        filename = f"{subject or 'message'}.eml"
    name = safe_filename(filename, content_type)
    size = len(data)
    omitted = ""
    if len(body.attachments) >= caps.max_attachments:
        omitted = f"more than {caps.max_attachments} attachments"
    elif size > caps.max_attachment_bytes:
        omitted = f"larger than {caps.max_attachment_bytes} bytes"
    elif body.total_bytes + size > caps.max_total_bytes:
        omitted = f"attachments together larger than {caps.max_total_bytes} bytes"
    else:
        body.total_bytes += size
    body.attachments.append(
        Attachment(
            filename=name,
            content_type=content_type,
            content=b"" if omitted else data,
            content_id=cid,
            inline=disposition == "inline" or (cid is not None and disposition != "attachment"),
            size=size,
            omitted=omitted,
        )
    )


def _content_hash(mail: dict[str, object], digests: list[tuple[str, str, str]]) -> str:
    canonical = json.dumps({"v": _HASH_VERSION, **mail, "parts": digests}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _check_mail(raw: object) -> Message:
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise UnparsableMail(f"expected bytes, got {type(raw).__name__}")
    data = bytes(raw)
    if not data.strip():
        raise UnparsableMail("empty input")
    try:
        # compat32, not policy.default: the parser reads the raw header text itself and decodes
        # only what it uses; policy.default's header objects (built on every get()) were two
        # thirds of the parse. Sub-messages are still serialised with policy.default (_payload),
        # so the content hash is the same as before.
        msg = message_from_bytes(data, policy=policy.compat32)
    except (RecursionError, MemoryError, ValueError, TypeError, LookupError) as exc:
        raise UnparsableMail(f"the email package gave up: {type(exc).__name__}") from exc
    names = {str(k).strip().lower() for k in msg}
    if not names & _MAIL_HEADERS:
        raise UnparsableMail("no mail header (From, Date, Subject, Received, ...) found")
    return msg


def parse(
    raw: bytes,
    *,
    own_addresses: Collection[str] = (),
    loop_marker: str = LOOP_MARKER,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    max_attachments: int = MAX_ATTACHMENTS,
    max_total_attachment_bytes: int = MAX_TOTAL_ATTACHMENT_BYTES,
) -> ParsedMail:
    """Parse one mail; raises only UnparsableMail (for bytes that are not a mail)."""
    msg = _check_mail(raw)
    try:
        return _parse(
            bytes(raw),
            msg,
            own_addresses,
            loop_marker,
            _Caps(max_attachment_bytes, max_attachments, max_total_attachment_bytes),
        )
    except UnparsableMail:
        raise
    except Exception as exc:  # a parser bug must park the mail, not crash the intake
        raise UnparsableMail(f"parser error: {type(exc).__name__}: {exc}") from exc


def _parse(
    raw: bytes,
    msg: Message,
    own_addresses: Collection[str],
    loop_marker: str,
    caps: _Caps,
) -> ParsedMail:
    raw_headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        raw_headers.setdefault(str(name).strip().lower(), []).append(str(value))
    headers = {name: decode_header_value(values[0]) for name, values in raw_headers.items()}

    def addresses(name: str) -> list[tuple[str, str]]:
        return _addresses(raw_headers.get(name, []))

    sender = addresses("from") or addresses("sender")
    from_name, from_address = sender[0] if sender else ("", "")
    to = tuple(a for _, a in addresses("to"))
    cc = tuple(a for _, a in addresses("cc"))
    reply_to = tuple(a for _, a in addresses("reply-to"))
    date = _date(headers.get("date", ""))
    message_ids = _ids(headers.get("message-id", ""))
    subject = headers.get("subject", "")

    body = _read_parts(msg, caps)
    defects = sorted(set(body.defects))
    raw_html = "\n".join(body.html)
    html = sanitize_html(raw_html)
    text = "\n\n".join(t.replace("\r\n", "\n").strip("\n") for t in body.plain)
    if text.strip() or not raw_html.strip():  # an empty plain part next to real HTML: use the HTML
        split = split_text(text)
    else:
        text = html_to_text(raw_html)
        split = split_html(raw_html)

    bounce = detect_bounce(raw, headers, msg.get_content_type(), body.status_blocks, from_address)
    verdict = check_auto(
        headers,
        from_address,
        own_addresses=own_addresses,
        loop_marker=loop_marker,
        is_bounce=bounce.is_bounce,
        x_loop_values=[decode_header_value(v) for v in raw_headers.get("x-loop", [])],
        report_type=str(msg.get_param("report-type", "") or "").lower(),
    )
    content_hash = _content_hash(
        {
            "message_id": message_ids[0] if message_ids else "",
            "from": from_address,
            "to": sorted(to),
            "cc": sorted(cc),
            "date": date.isoformat() if date else headers.get("date", ""),
            "subject": subject,
        },
        body.digests,
    )
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_ids(headers.get("in-reply-to", "")),
        references=_ids(" ".join(map(decode_header_value, raw_headers.get("references", [])))),
        subject=subject,
        from_address=from_address,
        from_name=from_name,
        to=to,
        cc=cc,
        reply_to=reply_to,
        date=date,
        headers=headers,
        text=text,
        html=html,
        reply_text=split.reply,
        quoted_text=split.quoted,
        signature=split.signature,
        attachments=tuple(body.attachments),
        auto=verdict.kind,
        bounced_recipients=bounce.failed if verdict.kind is AutoKind.BOUNCE else (),
        content_hash=content_hash,
        auto_reason=verdict.reason,
        defects=tuple(defects),
    )
