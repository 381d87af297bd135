"""An LMTP (or SMTP) receiver (aiosmtpd): the MTA hands mails over, each is stored raw and
committed, and only then answered 250; processing follows in the worker (the stored row is due at
once). A database failure answers 451 (try again later): the MTA keeps the mail queued."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from django.db import close_old_connections

from flowdesk.mail import ingest
from flowdesk.mail.models import Mailbox

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6; no host: 127.0.0.1); ValueError unless the port
    is a number from 1 to 65535."""
    host, _, port = listen.rpartition(":")
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range (1-65535)")
    return (host.strip("[]") or "127.0.0.1"), number


class _Handler:
    def __init__(self, mailbox_id: int, on_stored: Callable[[], None] | None) -> None:
        self.mailbox_id = mailbox_id
        self.on_stored = on_stored

    def _store(self, raw: bytes) -> None:
        close_old_connections()
        mailbox = Mailbox.objects.get(pk=self.mailbox_id)
        ingest.store(mailbox, [(None, raw)])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._store, bytes(raw))
        except Exception:
            log.exception("could not store a received mail")
            return "451 4.3.0 could not store the mail, try again later"
        if self.on_stored is not None:
            self.on_stored()
        return "250 2.0.0 stored"


class _LmtpController(Controller):
    def __init__(self, *args: Any, lmtp: bool, **kwargs: Any) -> None:
        self.lmtp = lmtp
        super().__init__(*args, **kwargs)

    def factory(self) -> SMTP:
        cls = LMTP if self.lmtp else SMTP
        return cls(self.handler, data_size_limit=MAX_BYTES, enable_SMTPUTF8=True)


class Receiver:
    """One listening receiver for one mailbox (LMTP by default, ``lmtp=False``: SMTP)."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        listen: str | None = None,
        lmtp: bool = True,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        host, port = parse_listen(listen or mailbox.listen)
        self.host, self.port = host, port
        self.controller = _LmtpController(
            _Handler(mailbox.pk, on_stored), hostname=host, port=port, lmtp=lmtp
        )
        self._lock = threading.Lock()

    def start(self) -> Receiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
