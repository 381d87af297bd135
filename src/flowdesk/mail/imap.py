"""IMAP intake (imap-tools): fetch by UID under the folder's UIDVALIDITY, in batches; store the
raw bytes (committed) before anything else; only then flag them \\Seen or move them.

- Progress is (UIDVALIDITY, last UID), moved in the transaction that stores the mails, and the
  rows are unique per (mailbox, UIDVALIDITY, UID): a batch fetched again after a dropped
  connection stores nothing twice.
- A UIDVALIDITY change (the folder was recreated or restored) starts again from UID 1; the mails
  already imported are recognised by (mailbox, Message-ID, content hash) when processed and
  become ``duplicate`` rows, not messages.
- Flagging or moving is redone on the next poll for every stored row it did not finish for.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from flowdesk.mail import ingest
from flowdesk.mail.models import InboundMail, Mailbox, TlsMode

log = logging.getLogger(__name__)

_UID = re.compile(rb"UID (\d+)")
TIMEOUT_SECONDS = 30.0


@dataclass
class PollResult:
    fetched: int = 0
    stored: int = 0
    uidvalidity_changed: bool = False
    more: bool = False  # a batch cap was hit: poll again at once


def connect(mailbox: Mailbox, timeout: float = TIMEOUT_SECONDS) -> BaseMailBox:
    host = mailbox.host
    client: BaseMailBox
    if mailbox.tls == TlsMode.SSL:
        client = MailBox(
            host, mailbox.port or 993, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    elif mailbox.tls == TlsMode.STARTTLS:
        client = MailBoxStartTls(
            host, mailbox.port or 143, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    else:
        client = MailBoxUnencrypted(host, mailbox.port or 143, timeout=timeout)
    client.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)
    return client


def fetch_raw(client: BaseMailBox, uids: list[int]) -> list[tuple[int, bytes]]:
    """The exact bytes of these messages (BODY.PEEK: fetching sets no flag)."""
    if not uids:
        return []
    typ, data = client.client.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise OSError(f"FETCH failed: {data!r}")
    out = []
    for part in data:
        if isinstance(part, tuple):
            match = _UID.search(part[0])
            if match:
                out.append((int(match[1]), bytes(part[1])))
    return out


def _server_ack(client: BaseMailBox, mailbox: Mailbox) -> None:
    """Flag or move what is stored and not yet acknowledged on the server."""
    pending = list(
        InboundMail.objects.filter(
            mailbox=mailbox, uidvalidity=mailbox.uidvalidity, server_done=False, uid__isnull=False
        ).values_list("id", "uid")[:5000]
    )
    if not pending:
        return
    uid_set = ",".join(str(u) for _, u in pending)
    if mailbox.move_to:
        client.move(uid_set, mailbox.move_to)
    else:
        client.flag(uid_set, "\\Seen", True)
    InboundMail.objects.filter(id__in=[i for i, _ in pending]).update(server_done=True)


def poll(mailbox: Mailbox, client: BaseMailBox | None = None) -> PollResult:
    """One batch: what is new in the folder is stored, then acknowledged on the server."""
    own = client is None
    client = client or connect(mailbox)
    try:
        result = PollResult()
        status = client.folder.status(mailbox.folder, ["UIDVALIDITY", "UIDNEXT"])
        validity = int(status["UIDVALIDITY"])
        last = mailbox.last_uid
        if mailbox.uidvalidity is not None and mailbox.uidvalidity != validity:
            log.warning("mailbox %s: UIDVALIDITY changed, re-syncing", mailbox.name)
            result.uidvalidity_changed, last = True, 0
        elif mailbox.uidvalidity is None:
            last = 0
        if int(status.get("UIDNEXT", last + 2)) > last + 1:
            typ, data = client.client.uid("SEARCH", f"UID {last + 1}:*")
            if typ != "OK":
                raise OSError(f"SEARCH failed: {data!r}")
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)
        else:
            uids = []
        batch = uids[: max(1, mailbox.batch)]
        result.more = len(uids) > len(batch)
        fetched = fetch_raw(client, batch)
        result.fetched = len(fetched)
        top = max([last, *(u for u, _ in fetched)])
        result.stored = ingest.store(
            mailbox,
            [(u, raw) for u, raw in fetched],
            uidvalidity=validity,
            last_uid=top,
        )
        _server_ack(client, mailbox)
        if mailbox.last_error:
            mailbox.last_error = ""
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error="")
        return result
    finally:
        if own:
            try:
                client.logout()
            except Exception:  # the connection may already be gone
                log.debug("logout", exc_info=True)


def supports_idle(client: BaseMailBox) -> bool:
    return "IDLE" in client.client.capabilities
