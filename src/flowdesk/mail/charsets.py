"""Decoding bytes and header values whatever charset a mail declares (or gets wrong).

Order for every body part and header: the declared charset (strictly), then UTF-8 (strictly), then
cp1252 with replacement (cp1252 is a superset of the printable latin-1 most mislabelled mail is in).
Nothing here raises on bad input.
"""

from __future__ import annotations

import binascii
import codecs
import re
from email.errors import HeaderParseError
from email.header import decode_header

#: labels mail clients use for charsets Python knows under a wider or different name
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac_roman",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_WS_RE = re.compile(r"\s+")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):  # ValueError: a NUL in the label
        return None
    # bytes-to-bytes codecs (base64, zlib, rot13, ...) are no charsets
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text of ``data``: declared charset, then UTF-8, then cp1252 with replacement. NUL
    characters are dropped: no mail text means one, and PostgreSQL's text cannot hold it."""
    return _decoded(data, declared).replace("\x00", "")


def _decoded(data: bytes, declared: str | None) -> str:
    tried: list[str] = []
    for name in (_codec(declared), "utf-8"):
        if name and name not in tried:
            tried.append(name)
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("cp1252", errors="replace")


def _raw_header_text(value: str) -> str:
    """Header text as read by the parser (8-bit bytes come back as surrogate escapes)."""
    try:
        return decode_bytes(value.encode("ascii", "surrogateescape"))
    except UnicodeEncodeError:
        return value  # already proper text (e.g. a str header set by code)


def decode_header_value(value: object) -> str:
    """A header's text: 8-bit bytes decoded, RFC 2047 encoded words decoded, whitespace folded."""
    text = _raw_header_text(str(value))
    if "=?" in text and _ENCODED_WORD_RE.search(text):
        try:
            chunks = decode_header(text)
        except (HeaderParseError, binascii.Error, ValueError, LookupError):
            chunks = [(text, None)]
        parts: list[str] = []
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                parts.append(decode_bytes(chunk, charset))
            else:
                parts.append(chunk)
        text = "".join(parts)
    return _WS_RE.sub(" ", text).strip()
