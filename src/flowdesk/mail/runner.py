"""The mail loop of one worker (``flowdesk worker``; threads of the embedded server): an IMAP
thread per active IMAP mailbox (IDLE when the server supports it, polling every
``poll_seconds`` otherwise; reconnecting with a growing pause after any failure), an LMTP
receiver per active LMTP mailbox, and a processing thread that claims stored mails and writes
their tickets (any number of workers share this work; one polls a given mailbox at a time).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from datetime import timedelta

from django.db import close_old_connections, connections
from django.db.models import Q
from imap_tools import BaseMailBox

from flowdesk.core.clock import utcnow
from flowdesk.mail import imap, ingest
from flowdesk.mail.lmtp import Receiver
from flowdesk.mail.models import Mailbox, MailboxKind

log = logging.getLogger(__name__)

ERROR_PAUSE_MAX = 300.0
PROCESS_POLL_SECONDS = 1.0
RESCAN_SECONDS = 30.0


def take_poll_lease(mailbox: Mailbox, owner: str, seconds: float) -> bool:
    """One worker polls a mailbox at a time: a lease on its row, renewed by every round."""
    now = utcnow()
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now) | Q(poll_owner=owner)
    return bool(
        Mailbox.objects.filter(free, pk=mailbox.pk).update(
            poll_owner=owner, poll_lease_until=now + timedelta(seconds=seconds)
        )
    )


class MailRunner:
    def __init__(self, owner: str, *, receivers: bool = True) -> None:
        self.owner = owner
        self.receivers_enabled = receivers
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._receivers: list[Receiver] = []
        self._clients: dict[int, BaseMailBox] = {}  # connected IMAP clients, by mailbox
        self._started: set[int] = set()  # mailboxes with a thread or a receiver
        self.processed = 0

    def start(self) -> MailRunner:
        self._start_mailboxes()
        self._spawn(self._process_loop, "process")
        return self

    def _start_mailboxes(self) -> None:
        """Start what the active mailboxes need and is not running yet (called again every
        ``RESCAN_SECONDS``: a mailbox added while the worker runs is picked up)."""
        try:
            mailboxes = list(Mailbox.objects.filter(active=True).exclude(pk__in=self._started))
        except Exception:  # no mail tables yet (an unmigrated database): nothing to run
            log.exception("mail runner: cannot read the mailboxes")
            mailboxes = []
        finally:
            close_old_connections()
        for mailbox in mailboxes:
            self._started.add(mailbox.pk)
            if mailbox.kind == MailboxKind.IMAP:
                self._spawn(lambda m=mailbox: self._imap_loop(m), f"imap-{mailbox.name}")
            elif mailbox.kind == MailboxKind.LMTP and mailbox.listen and self.receivers_enabled:
                try:
                    self._receivers.append(Receiver(mailbox, on_stored=self.wake).start())
                except Exception:
                    log.exception("mailbox %s: cannot listen on %s", mailbox.name, mailbox.listen)

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=f"flowdesk-mail-{name}", daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for receiver in self._receivers:
            receiver.stop()
        for client in list(self._clients.values()):  # wakes a thread waiting in IDLE
            with contextlib.suppress(OSError):
                client.client.sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout)

    def _process_loop(self) -> None:
        rescan = time.monotonic() + RESCAN_SECONDS
        try:
            while not self._stop.is_set():
                if time.monotonic() > rescan:
                    self._start_mailboxes()
                    rescan = time.monotonic() + RESCAN_SECONDS
                try:
                    self.processed += ingest.process_pending(self.owner)
                except Exception:
                    log.exception("mail processing of %s", self.owner)
                    close_old_connections()
                self._wake.wait(PROCESS_POLL_SECONDS)
                self._wake.clear()
        finally:
            connections.close_all()

    def _imap_loop(self, mailbox: Mailbox) -> None:
        pause = 1.0
        client = None
        try:
            while not self._stop.is_set():
                try:
                    mailbox.refresh_from_db()
                    if not mailbox.active:
                        self._started.discard(mailbox.pk)
                        return
                    lease = float(mailbox.poll_seconds) * 3 + 60
                    if not take_poll_lease(mailbox, self.owner, lease):
                        self._stop.wait(float(mailbox.poll_seconds))
                        continue
                    if client is None:
                        client = self._clients[mailbox.pk] = imap.connect(mailbox)
                    result = imap.poll(mailbox, client)
                    if result.stored:
                        self.wake()
                    pause = 1.0
                    if result.more:
                        continue
                    wait = float(mailbox.poll_seconds)
                    if imap.supports_idle(client):
                        client.idle.wait(timeout=min(wait, 29 * 60))
                    else:
                        self._stop.wait(wait)
                except Exception as exc:  # reconnect after a pause; the loop never dies
                    if self._stop.is_set():
                        return
                    log.warning("mailbox %s: %s; reconnecting in %.0f s", mailbox.name, exc, pause)
                    Mailbox.objects.filter(pk=mailbox.pk).update(
                        last_error=f"{type(exc).__name__}: {exc}"[:2000]
                    )
                    client = None
                    close_old_connections()
                    self._stop.wait(pause)
                    pause = min(pause * 2, ERROR_PAUSE_MAX)
        finally:
            self._clients.pop(mailbox.pk, None)
            connections.close_all()
