"""The loop guard's inputs at intake: our own addresses and X-Loop marker, which the parser
(``flowdesk.mail.parse``, its guard in ``flowdesk.mail.guard``) is given to decide whether a
mail is automatic (``ParsedMail.auto``) and whom a bounce reports (``bounced_recipients``)."""

from __future__ import annotations

from django.conf import settings


def own_addresses() -> set[str]:
    from flowdesk.mail.models import Mailbox

    own = {str(settings.DEFAULT_FROM_EMAIL).lower()}
    for addresses in Mailbox.objects.values_list("addresses", flat=True):
        own |= {str(a).lower() for a in addresses or []}
    return own
