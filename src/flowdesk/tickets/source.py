"""``Ticket.source``: where a ticket came from, as its channel saw it (rules read it as
``source.*`` and ``language``; docs/automation.md, "Where a ticket came from").

Channels inside flowdesk build it themselves (mail intake: ``mail.source``; the portal); what an
API caller sends is checked here, every problem named by its path (``source.headers.x-a``).
"""

from __future__ import annotations

import re
from typing import Any

from flowdesk.core.errors import FieldError

#: What a source may hold, and the caps on what a caller (or a sender) chooses.
KEYS = ("mailbox", "address", "headers", "page_url", "language", "calendar")
MAX_HEADERS = 50
MAX_HEADER_VALUE = 500
MAX_TEXT = 2000
#: Keys a customer may give for their own ticket (the rest would let them pose as a mailbox).
CUSTOMER_KEYS = frozenset({"language", "page_url"})
#: Keys no caller gives: the channel decides (a mailbox's calendar).
INTERNAL_KEYS = frozenset({"calendar"})

_HEADER_NAME = re.compile(r"[!-9;-~]+")
_LANGUAGE = re.compile(r"[a-z]{1,8}(-[a-z0-9]{1,8})*")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def check_source(data: Any, *, customer: bool) -> tuple[dict[str, Any], list[FieldError]]:
    """The source as stored (addresses, header names and languages lower-case) and the problems
    of the one given (an empty source for none)."""
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [FieldError("source", "must be an object")]
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    allowed = (CUSTOMER_KEYS if customer else frozenset(KEYS)) - INTERNAL_KEYS
    for key, value in data.items():
        where = f"source.{key}"
        if key not in allowed:
            some = ", ".join(k for k in KEYS if k in allowed)
            errors.append(FieldError(where, f"unknown or not yours to set (allowed: {some})"))
        elif key == "headers":
            out[key] = _headers(value, errors)
        elif not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            errors.append(FieldError(where, f"must be non-blank text of at most {MAX_TEXT} chars"))
        else:
            text = value.strip()
            if key in ("address", "language"):
                text = text.lower()
            pattern = {"address": _ADDRESS, "language": _LANGUAGE}.get(key)
            if pattern is not None and not pattern.fullmatch(text):
                what = "an e-mail address" if key == "address" else "a language tag such as de-ch"
                errors.append(FieldError(where, f"{value!r} is not {what}"))
            out[key] = text
    return out, errors


def _headers(value: Any, errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(value, dict):
        errors.append(FieldError("source.headers", "must be an object: header name -> text"))
        return {}
    if len(value) > MAX_HEADERS:
        errors.append(FieldError("source.headers", f"at most {MAX_HEADERS} headers"))
    out: dict[str, str] = {}
    for name, text in value.items():
        where = f"source.headers.{name}"
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            errors.append(FieldError(where, f"{name!r} is not a header name"))
        elif not isinstance(text, str) or len(text) > MAX_HEADER_VALUE:
            errors.append(FieldError(where, f"must be text of at most {MAX_HEADER_VALUE} chars"))
        else:
            out[name.lower()] = text
    return out
