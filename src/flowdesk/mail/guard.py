"""Loop and auto-reply guard: which mails are automatic, and of which kind.

Checked in this order; the first rule that applies decides (docs/mail-parsing.md has the table):

=========================================  ==================  ===================================
signal                                     kind                why
=========================================  ==================  ===================================
From is one of ``own_addresses``           LOOP                we would answer ourselves
``X-Loop`` carries our marker / address    LOOP                a mail we sent came back
bounce (see ``flowdesk.mail.bounce``)      BOUNCE              delivery status, not a person
read receipt (multipart/report MDN)         AUTO_GENERATED      RFC 8098 disposition notification
``Auto-Submitted: auto-replied``           AUTO_REPLY          RFC 3834 responder
``Auto-Submitted`` anything but ``no``     AUTO_GENERATED      RFC 3834 (auto-generated, -notified)
``X-Autoreply`` / ``X-Autorespond``        AUTO_REPLY          vacation programs
``Precedence: auto_reply``                 AUTO_REPLY
``Precedence: bulk / junk / list``         AUTO_GENERATED      newsletters, lists, cron mail
``X-Auto-Response-Suppress`` (not empty)   AUTO_GENERATED      Exchange marks its automatic mail
``List-Id`` / ``List-Unsubscribe``         AUTO_GENERATED      mailing list or newsletter
``Return-Path: <>``                        AUTO_GENERATED      null sender: never to be answered
=========================================  ==================  ===================================
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from flowdesk.mail.parsed import AutoKind

#: the value flowdesk's outgoing mail puts in X-Loop (an own address there is recognised too)
LOOP_MARKER = "flowdesk"


@dataclass(frozen=True)
class Verdict:
    kind: AutoKind | None
    #: the header (or reason) that decided, e.g. "auto-submitted: auto-replied"
    reason: str = ""


def _word(value: str) -> str:
    return value.strip().split(";", 1)[0].strip().lower()


def check_auto(
    headers: Mapping[str, str],
    from_address: str,
    *,
    own_addresses: Collection[str] = (),
    loop_marker: str = LOOP_MARKER,
    is_bounce: bool = False,
    x_loop_values: Collection[str] = (),
    report_type: str = "",
) -> Verdict:
    """Classify a mail from its (lower-cased, decoded) headers; see the module table."""
    own = {a.strip().lower() for a in own_addresses if a.strip()}
    if from_address and from_address.lower() in own:
        return Verdict(AutoKind.LOOP, "from: own address")
    loops = [v.strip().lower() for v in (x_loop_values or [headers.get("x-loop", "")]) if v]
    for value in loops:
        if (loop_marker and loop_marker.lower() in value) or any(a in value for a in own):
            return Verdict(AutoKind.LOOP, f"x-loop: {value}")
    if is_bounce:
        return Verdict(AutoKind.BOUNCE, "delivery status notification")
    if report_type == "disposition-notification":
        return Verdict(AutoKind.AUTO_GENERATED, "read receipt (disposition-notification)")
    submitted = _word(headers.get("auto-submitted", ""))
    if submitted == "auto-replied":
        return Verdict(AutoKind.AUTO_REPLY, "auto-submitted: auto-replied")
    if submitted and submitted != "no":
        return Verdict(AutoKind.AUTO_GENERATED, f"auto-submitted: {submitted}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        value = _word(headers.get(name, ""))
        if value and value not in {"no", "false", "0"}:
            return Verdict(AutoKind.AUTO_REPLY, f"{name}: {value}")
    precedence = _word(headers.get("precedence", ""))
    if precedence == "auto_reply":
        return Verdict(AutoKind.AUTO_REPLY, "precedence: auto_reply")
    if precedence in {"bulk", "junk", "list"}:
        return Verdict(AutoKind.AUTO_GENERATED, f"precedence: {precedence}")
    if headers.get("x-auto-response-suppress", "").strip():
        return Verdict(AutoKind.AUTO_GENERATED, "x-auto-response-suppress")
    for name in ("list-id", "list-unsubscribe"):
        if headers.get(name, "").strip():
            return Verdict(AutoKind.AUTO_GENERATED, name)
    if "return-path" in headers and headers["return-path"].strip() in {"<>", ""}:
        return Verdict(AutoKind.AUTO_GENERATED, "return-path: <>")
    return Verdict(None)
