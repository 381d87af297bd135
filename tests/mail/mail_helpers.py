"""Mail fixtures: a real Dovecot, a mailbox on it, and mails to append."""

from __future__ import annotations

import os
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from dovecot import Dovecot, available, dovecot_server, mailbox_fields

SUPPORT = "support@desk.test"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):  # CI installs it (scripts/test): never skipped there
            pytest.fail(reason)
        pytest.skip(reason)
    with dovecot_server() as server:
        yield server


def mail(
    *,
    sender: str = "cora@acme.test",
    subject: str = "The printer is on fire",
    body: str = "Hello,\n\nit smokes.\n\nCora",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    from datetime import UTC, datetime

    msg = EmailMessage()
    msg["From"] = f"Cora <{sender}>" if sender == "cora@acme.test" else sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="client.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes()


class Imap:
    """Appends to the Dovecot mailbox as a mail client would."""

    def __init__(self, server: Dovecot) -> None:
        from imap_tools import MailBoxUnencrypted

        self.box = MailBoxUnencrypted(server.host, server.port).login(server.user, server.password)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        self.box.append(raw, folder)

    def count(self, folder: str = "INBOX", criteria: str = "ALL") -> int:
        self.box.folder.set(folder)
        return len(self.box.uids(criteria))


@pytest.fixture
def imap(dovecot: Dovecot) -> Iterator[Imap]:
    client = Imap(dovecot)
    yield client
    client.box.logout()


def add_mailbox(desk: Any, server: Dovecot, **fields: Any) -> dict[str, Any]:
    """An IMAP mailbox on ``server``, added through the API."""
    r = desk.admin.post("/mailboxes", mailbox_fields(server, **fields))
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data


@pytest.fixture
def mailbox(desk: Any, dovecot: Dovecot) -> dict[str, Any]:
    return add_mailbox(desk, dovecot, team="Tier 1", batch=50)
