"""The loop and auto-reply guard at intake: whether a mail is automatic, and which addresses
are our own. The parser sets ``ParsedMail.auto``; until it does for a kind of mail, a minimal
reading of the standard headers here (RFC 3834 Auto-Submitted, Precedence, our X-Loop, a
multipart/report) keeps flowdesk from answering machines."""

from __future__ import annotations

import re

from django.conf import settings

from flowdesk.mail.outgoing import loop_marker
from flowdesk.mail.parsed import AutoKind, ParsedMail

_RECIPIENT = re.compile(rb"^(?:Final|Original)-Recipient:\s*rfc822;\s*<?([^\s>]+)>?", re.I | re.M)


def own_addresses() -> set[str]:
    from flowdesk.mail.models import Mailbox

    own = {str(settings.DEFAULT_FROM_EMAIL).lower()}
    for addresses in Mailbox.objects.values_list("addresses", flat=True):
        own |= {str(a).lower() for a in addresses or []}
    return own


def classify(mail: ParsedMail, own: set[str]) -> AutoKind | None:
    if mail.auto is not None:
        return mail.auto
    h = mail.headers
    if h.get("x-loop", "").strip().lower() == loop_marker().lower() or mail.from_address in own:
        return AutoKind.LOOP
    if "multipart/report" in h.get("content-type", "").lower():
        return AutoKind.BOUNCE
    submitted = h.get("auto-submitted", "").strip().lower()
    if submitted.startswith("auto-replied") or "x-autoreply" in h or "x-autorespond" in h:
        return AutoKind.AUTO_REPLY
    if submitted and submitted != "no":
        return AutoKind.AUTO_GENERATED
    if h.get("precedence", "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return AutoKind.AUTO_GENERATED
    return None


def bounced(mail: ParsedMail, raw: bytes) -> list[str]:
    if mail.bounced_recipients:
        return [a.lower() for a in mail.bounced_recipients]
    return sorted({m.decode(errors="replace").lower() for m in _RECIPIENT.findall(raw)})
