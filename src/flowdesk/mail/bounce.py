"""Bounce detection: RFC 3464 delivery-status reports, then flufl.bounce's heuristics.

flufl.bounce knows the non-standard formats (qmail, Postfix before DSNs, Exim, Yahoo, AOL, ...),
but its heuristics also fire on people quoting a bounce, so it only runs on mails that look like
a bounce: a null Return-Path, a mailer-daemon/postmaster sender, a multipart/report, or a
delivery-failure subject.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

logger = logging.getLogger(__name__)

_SENDER_RE = re.compile(r"mailer-daemon|postmaster|mail delivery|mail-daemon|mdaemon", re.I)
_SUBJECT_RE = re.compile(
    r"undeliver|delivery (?:status|fail|notification|problem)|returned mail|failure notice|"
    r"mail delivery|non[- ]?delivery|could not be delivered|unzustellbar|nicht zugestellt|"
    r"non remis|no entregado|delivery has failed",
    re.I,
)
_ADDR_RE = re.compile(r"[^\s<>;\"]+@[^\s<>;\"]+")


@dataclass(frozen=True)
class BounceReport:
    is_bounce: bool
    #: permanently failed recipients, lower-cased and sorted
    failed: tuple[str, ...] = ()


def _looks_like_bounce(headers: Mapping[str, str], content_type: str) -> bool:
    return (
        content_type == "multipart/report"
        or headers.get("return-path", "x").strip() in {"<>", ""}
        or bool(_SENDER_RE.search(headers.get("from", "")))
        or bool(_SUBJECT_RE.search(headers.get("subject", "")))
    )


def _recipient(value: str) -> str | None:
    # "rfc822; user@example.com" (the address type is optional in practice)
    address = value.split(";", 1)[-1].strip().strip("<>").lower()
    return address if _ADDR_RE.fullmatch(address) else None


def delivery_status(blocks: list[list[tuple[str, str]]]) -> tuple[bool, tuple[str, ...]]:
    """Failed recipients of RFC 3464 per-recipient blocks (``Action: failed``)."""
    failed: set[str] = set()
    for fields in blocks:
        values = {name.lower(): value for name, value in fields}
        action = values.get("action", "").strip().lower()
        status = values.get("status", "").strip()
        address = _recipient(values.get("final-recipient") or values.get("original-recipient", ""))
        if address and (action == "failed" or (not action and status.startswith("5"))):
            failed.add(address)
    return bool(blocks), tuple(sorted(failed))


def detect_bounce(
    raw: bytes,
    headers: Mapping[str, str],
    content_type: str,
    status_blocks: list[list[tuple[str, str]]],
    from_address: str = "",
) -> BounceReport:
    """Whether the mail is a bounce, and which recipients failed permanently."""
    if status_blocks:
        _, failed = delivery_status(status_blocks)
        return BounceReport(True, failed)
    if not _looks_like_bounce(headers, content_type):
        return BounceReport(False)
    try:
        msg: Message = email.message_from_bytes(raw)
        # some detectors choke on an empty or 8-bit From; they only need the address
        del msg["From"]
        msg["From"] = from_address or "unknown@invalid"
        _temporary, permanent = all_failures(msg)
    except Exception:  # a detector choking on a strange mail must not stop the intake
        logger.warning("bounce detectors failed on a mail", exc_info=True)
        return BounceReport(False)
    addresses = {a.decode("utf-8", "replace").strip().strip("<>").lower() for a in permanent}
    if addresses or _temporary:
        return BounceReport(True, tuple(sorted(addresses - {""})))
    return BounceReport(False)
