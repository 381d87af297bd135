"""The delivery pool of one worker process: several deliveries at once, a limit per destination,
a circuit breaker per destination, and a heartbeat that keeps this worker's leases alive.

A slow or dead receiver occupies at most ``OUTBOX_DESTINATION_CONCURRENCY`` threads; after
``OUTBOX_BREAKER_FAILURES`` consecutive failures its items wait ``OUTBOX_BREAKER_SECONDS`` (then
one round is let through: success closes the circuit, failure opens it again) instead of
occupying threads, so replies to customers and other receivers keep flowing. The limits and the
breaker are per process: N workers allow N times the per-destination limit.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connections

from flowdesk.core.clock import utcnow
from flowdesk.outbox.services import Claim, claim_due, deliver_claimed, do_heartbeat, drain

log = logging.getLogger(__name__)

# Outcomes that say something about the destination (not about one item's payload).
_DESTINATION_FAILURES = frozenset({"timeout", "unreachable", "rejected"})


def worker_id(label: str = "worker") -> str:
    return f"{label}:{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Breaker:
    """Consecutive failures per destination; open for a while after ``threshold`` of them."""

    def __init__(self, threshold: int, seconds: float) -> None:
        self.threshold = threshold
        self.seconds = seconds
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, destination: str, ok: bool, now: float) -> None:
        with self._lock:
            if ok:
                self._failures.pop(destination, None)
                self._open_until.pop(destination, None)
                return
            n = self._failures.get(destination, 0) + 1
            self._failures[destination] = n
            if self.threshold > 0 and n >= self.threshold:
                self._open_until[destination] = now + self.seconds

    def open_destinations(self, now: float) -> set[str]:
        with self._lock:
            return {d for d, until in self._open_until.items() if until > now}


class OutboxRunner:
    def __init__(
        self,
        owner: str | None = None,
        *,
        concurrency: int | None = None,
        per_destination: int | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        conf = settings.FLOWDESK
        self.owner = owner or worker_id()
        self.concurrency = max(1, int(concurrency or conf["OUTBOX_CONCURRENCY"]))
        self.per_destination = max(
            1, int(per_destination or conf["OUTBOX_DESTINATION_CONCURRENCY"])
        )
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else conf["OUTBOX_POLL_SECONDS"]
        )
        self.lease_seconds = float(conf["OUTBOX_LEASE_SECONDS"])
        self.breaker = Breaker(
            int(conf["OUTBOX_BREAKER_FAILURES"]), float(conf["OUTBOX_BREAKER_SECONDS"])
        )
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="flowdesk-delivery")
        self._held: dict[int, Claim] = {}
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> OutboxRunner:
        global _CURRENT
        for target, name in ((self._dispatch, "dispatch"), (self._heartbeat, "heartbeat")):
            thread = threading.Thread(target=target, name=f"flowdesk-outbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        _CURRENT = self
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming and let the deliveries in flight finish (each is bounded by its
        timeout); what is left unfinished keeps its lease, which expires."""
        global _CURRENT
        if _CURRENT is self:
            _CURRENT = None
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=timeout is None or timeout > 0)

    def wake(self) -> None:
        self._wake.set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._held)

    # --- threads -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._fill()
            except Exception:  # a database hiccup: log, reconnect, poll again
                log.exception("outbox worker %s: claiming failed", self.owner)
                close_old_connections()
            self._wake.wait(self.poll_seconds)
        connections.close_all()

    def _fill(self) -> None:
        with self._lock:
            free = self.concurrency - len(self._held)
            busy = dict(self._busy)
        if free <= 0:
            return
        full = {d for d, n in busy.items() if n >= self.per_destination}
        exclude = full | self.breaker.open_destinations(time.monotonic())
        claims = claim_due(
            self.owner,
            utcnow(),
            free,
            busy=busy,
            per_destination=self.per_destination,
            exclude=exclude,
        )
        for claim in claims:
            with self._lock:
                self._held[claim.item.pk] = claim
                dest = claim.item.destination
                self._busy[dest] = self._busy.get(dest, 0) + 1
            self._pool.submit(self._run, claim)

    def _run(self, claim: Claim) -> None:
        dest = claim.item.destination
        try:
            close_old_connections()
            result = deliver_claimed(claim)
            if result.outcome in _DESTINATION_FAILURES or result.ok:
                self.breaker.record(dest, result.ok, time.monotonic())
        except Exception:  # the lease expires and another attempt follows
            log.exception("outbox item %s: delivery crashed", claim.item.pk)
        finally:
            close_old_connections()
            with self._lock:
                self._held.pop(claim.item.pk, None)
                left = self._busy.get(dest, 1) - 1
                if left > 0:
                    self._busy[dest] = left
                else:
                    self._busy.pop(dest, None)
            self._wake.set()

    def _heartbeat(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self._held)
            try:
                do_heartbeat(self.owner, ids, utcnow())
            except Exception:
                log.exception("outbox worker %s: heartbeat failed", self.owner)
                close_old_connections()
        connections.close_all()


_CURRENT: OutboxRunner | None = None


def wake_or_drain() -> str:
    """The wake-up task: hand the work to this process's pool, or do it here when there is none."""
    runner = _CURRENT
    if runner is not None:
        runner.wake()
        return "woken"
    return f"delivered {drain(worker_id('inline'))}"
