"""Attachment file names: decoded (RFC 2231 parameters, RFC 2047 words) and made safe to store
and offer for download, and the caps that keep one mail from filling the disk."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from email.message import Message

from flowdesk.mail.charsets import decode_header_value

#: defaults for parse(); the intake may pass its own (settings-driven) values
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS = 100
MAX_TOTAL_ATTACHMENT_BYTES = 60 * 1024 * 1024

_UNSAFE_RE = re.compile(r'[<>:"|?*\\/]')
_WS_RE = re.compile(r"\s+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))}
_RESERVED |= {f"lpt{i}" for i in range(10)}
_MAX_NAME = 150


def raw_filename(part: Message) -> str:
    """The declared file name, decoded; "" when the part has none."""
    try:
        name = part.get_filename() or part.get_param("name", header="content-type") or ""
    except (ValueError, LookupError, TypeError, IndexError):
        return ""
    if isinstance(name, tuple):  # an RFC 2231 triple the email package did not collapse
        name = name[2] if len(name) > 2 else ""
    return decode_header_value(str(name))


def safe_filename(name: str, content_type: str) -> str:
    """A name without paths, control characters or shell/Windows-hostile characters."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _WS_RE.sub(" ", _UNSAFE_RE.sub("_", name)).strip(" .")
    if name.split(".", 1)[0].lower() in _RESERVED:
        name = f"_{name}"
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = f"{stem[: _MAX_NAME - len(ext) - 1].rstrip(' .')}.{ext}"
        else:
            name = name[:_MAX_NAME].rstrip(" .")
    if not name:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        name = f"attachment{ext}"
    return name
