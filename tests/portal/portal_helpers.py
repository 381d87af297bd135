"""Helpers of the portal tests: sign a customer in, deliver the outbox, read the mailed link."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from web_helpers import PASSWORD

LINK = re.compile(r"https?://\S+/portal/(?:signin|confirm)/\S+")


def signed_in(email: str) -> Client:
    client = Client()
    r = client.post("/portal/login", {"username": email, "password": PASSWORD})
    assert r.status_code == 302, r.content
    return client


def deliver() -> None:
    """Delivers what the outbox holds, in this thread (the worker's batch mode without its
    process handling, so it also runs inside a test's transaction). Mail goes to Django's
    locmem outbox here, to the SMTP sink in the browser tests."""
    from flowdesk.outbox.services import drain

    drain("tests")


def mailed_link(to: str) -> str:
    """The portal link in the last mail to ``to``, as a path."""
    deliver()
    bodies = [m.body for m in mail.outbox if to in m.to]
    assert bodies, f"no mail to {to}"
    found = LINK.search(bodies[-1])
    assert found, bodies[-1]
    return "/portal/" + found.group(0).split("/portal/", 1)[1]


def outbox_texts() -> list[Any]:
    return [(m.to, m.subject, m.body) for m in mail.outbox]
