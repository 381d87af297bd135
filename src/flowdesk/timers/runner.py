"""The timer loop of one worker process (``flowdesk worker``; a thread of the embedded server).

It claims due timers in batches (``services.claim_due``), fires each batch in one transaction
(``services.fire_claimed``), and when nothing is due sleeps until the next due instant, at most
``TIMER_POLL_SECONDS``: timers fire within a fraction of a second of their due time, not in an
hourly sweep. Timers that came due while no worker ran are fired at start-up, marked late.
Every few seconds it writes its heartbeat (``WorkerBeat``). A database error (PostgreSQL gone
for a moment, SQLite's "database is locked") is logged and retried after a short pause: the
loop never dies of it, and an interrupted batch is rolled back whole, its leases running out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections

from flowdesk.core.clock import utcnow
from flowdesk.timers.models import WorkerBeat
from flowdesk.timers.services import claim_due, fire_claimed, next_due_at

log = logging.getLogger(__name__)

BEAT_SECONDS = 5.0
ERROR_PAUSE_SECONDS = 1.0


class TimerRunner:
    def __init__(self, owner: str, *, batch: int | None = None, poll: float | None = None) -> None:
        conf = settings.FLOWDESK
        self.owner = owner
        self.batch = batch or int(conf["TIMER_BATCH"])
        self.poll = poll if poll is not None else float(conf["TIMER_POLL_SECONDS"])
        self.fired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0
        self._last_error = ""

    def start(self) -> TimerRunner:
        self._thread = threading.Thread(target=self.run, name="flowdesk-timers", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    busy = self.step()
                except Exception as exc:  # the loop outlives any database trouble
                    log.exception("timer loop of %s", self.owner)
                    self._last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    close_old_connections()
                    self._stop.wait(ERROR_PAUSE_SECONDS)
                    continue
                if not busy:
                    self._stop.wait(self._idle_wait())
        finally:
            connections.close_all()

    def step(self) -> bool:
        """One round: beat if due, claim and fire one batch. True if it fired something."""
        self._beat()
        claims = claim_due(self.owner, utcnow(), self.batch)
        if not claims:
            return False
        firings = fire_claimed(self.owner, claims)
        self.fired += sum(1 for f in firings if f.fired)
        return True

    def _idle_wait(self) -> float:
        due = next_due_at()
        if due is None:
            return self.poll
        return min(self.poll, max(0.0, (due - utcnow()).total_seconds()))

    def _beat(self, force: bool = False) -> None:
        now_mono = time.monotonic()
        if not force and now_mono - self._last_beat < BEAT_SECONDS:
            return
        self._last_beat = now_mono
        now = utcnow()
        updated = WorkerBeat.objects.filter(owner=self.owner).update(
            beat_at=now, timers_fired=self.fired, last_error=self._last_error
        )
        if not updated:
            WorkerBeat.objects.create(
                owner=self.owner,
                host=socket.gethostname()[:100],
                pid=os.getpid(),
                started_at=now,
                beat_at=now,
                timers_fired=self.fired,
                last_error=self._last_error,
            )
