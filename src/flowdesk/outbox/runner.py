"""The delivery pool of one worker process: several deliveries at once, a limit per destination,
a circuit breaker per destination, and a heartbeat that keeps this worker's leases alive.

Work goes in runs: a run is a few items of one destination, claimed together and delivered one
after the other by one thread (``Pace`` sizes it to about a second of that destination's
deliveries). One thread, the dispatcher, does the pool's writes in rounds: each round records
every attempt finished since the last, gives back what a run did not start, and claims runs for
the free threads, in one transaction. So a busy worker takes the database's write lock a few
times per second whatever the number of items, and an idle one only reads. The embedded
server's commits wake the dispatcher directly (core.oncommit, ``handle_locally``); other
processes' wake it through the ``deliver_outbox`` task, and it polls anyway.

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
from queue import SimpleQueue

from django.conf import settings
from django.db import close_old_connections, connections

from flowdesk.core.clock import utcnow
from flowdesk.core.oncommit import handle_locally
from flowdesk.outbox import wakeup
from flowdesk.outbox.services import (
    Attempt,
    Claim,
    ClaimRequest,
    attempt,
    do_heartbeat,
    drain,
    record_and_claim,
)
from flowdesk.outbox.tasks import deliver_outbox

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


class Pace:
    """How long one attempt to a destination takes lately (a moving average), and so how many
    of its items one run should take: about ``RUN_SECONDS`` of deliveries, at most ``MAX_RUN``.
    A fast receiver gets long runs (one claim and one record transaction for many items); a
    slow one short runs, so its leases are not held long and other workers share its items."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def observe(self, destination: str, seconds: float) -> None:
        with self._lock:
            before = self._seconds.get(destination)
            self._seconds[destination] = seconds if before is None else 0.7 * before + 0.3 * seconds

    def run_sizes(self) -> dict[str, int]:
        with self._lock:
            return {
                d: max(1, min(MAX_RUN, int(RUN_SECONDS / max(s, 1e-4))))
                for d, s in self._seconds.items()
            }


# A run: items of one destination claimed together and delivered one after the other by one
# thread (a destination not seen yet starts with runs of one item).
MAX_RUN = 32
RUN_SECONDS = 1.0
# The least time between two rounds (a round records what finished and claims what is due).
ROUND_SECONDS = 0.1


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
        self.pace = Pace()
        self._queue: SimpleQueue[list[Claim] | None] = SimpleQueue()  # runs for the threads
        self._held: dict[int, Claim] = {}  # leased by this worker: renewed by the heartbeat
        self._busy: dict[str, int] = {}  # runs in flight per destination
        self._runs = 0
        self._made: list[Attempt] = []  # attempts finished, for the next round to record
        self._back: list[Claim] = []  # claims a run did not start, for the next round
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listener: wakeup.Listener | None = None
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> OutboxRunner:
        global _CURRENT
        threads = [(self._dispatch, "dispatch"), (self._heartbeat, "heartbeat")]
        threads += [(self._deliver, f"delivery-{n}") for n in range(self.concurrency)]
        for target, name in threads:
            thread = threading.Thread(target=target, name=f"flowdesk-outbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        _CURRENT = self
        # Items this process queues wake this pool directly after commit, without a task row;
        # on PostgreSQL every process's commits wake it through NOTIFY.
        handle_locally(deliver_outbox, self.wake)
        if wakeup.by_notification():
            self._listener = wakeup.Listener(self.wake, self._stop).start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let the deliveries in flight finish (each is bounded by its timeout;
        a run gives back the items it has not started) and record them, waiting at most
        ``timeout``; what is left unfinished keeps its lease, which expires."""
        global _CURRENT
        if _CURRENT is self:
            _CURRENT = None
            handle_locally(deliver_outbox, None)
        self._stop.set()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._threads[0].join(timeout)  # the dispatcher: it ends when every run is recorded
        for _ in range(self.concurrency):
            self._queue.put(None)
        for thread in self._threads[1:]:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._listener is not None:  # it checks the stop event every second
            self._listener.join(2.0)

    def wake(self) -> None:
        self._wake.set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._held)

    # --- threads -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """The pool's one writer (besides the heartbeat): each round records the attempts the
        delivery threads finished since the last one, gives back what they did not start, and
        claims runs for the free threads, in one transaction. A round waits for the database's
        write lock while the threads keep delivering, so under load one round records many
        outcomes; when idle it is a read."""
        while True:
            stopping = self._stop.is_set()
            self._wake.clear()
            try:
                self._round(claim=not stopping)
            except Exception:  # a database hiccup: log, reconnect, poll again
                log.exception("outbox worker %s: claiming or recording failed", self.owner)
                close_old_connections()
            if stopping:
                with self._lock:
                    if self._runs == 0 and not self._made and not self._back:
                        break
            # At most one round per ROUND_SECONDS: under load, wake-ups (a commit, a finished
            # attempt) within that time are served by one round.
            started = time.monotonic()
            self._wake.wait(self.poll_seconds)
            self._stop.wait(max(0.0, ROUND_SECONDS - (time.monotonic() - started)))
        connections.close_all()

    def _round(self, *, claim: bool) -> None:
        with self._lock:
            made, self._made = self._made, []
            back, self._back = self._back, []
            free = self.concurrency - self._runs if claim else 0
            busy = dict(self._busy)
        request = None
        if free > 0:
            full = {d for d, n in busy.items() if n >= self.per_destination}
            request = ClaimRequest(
                self.owner,
                utcnow(),
                free,
                run_size=self.pace.run_sizes(),
                busy=busy,
                per_destination=self.per_destination,
                exclude=full | self.breaker.open_destinations(time.monotonic()),
            )
        try:
            _, runs = record_and_claim(made, back, request)
        finally:  # recorded, or not (their leases then expire and other attempts follow)
            self._forget([a.claim for a in made] + back)
        for run in runs:
            with self._lock:
                for c in run:
                    self._held[c.item.pk] = c
                dest = run[0].item.destination
                self._busy[dest] = self._busy.get(dest, 0) + 1
                self._runs += 1
            self._queue.put(run)

    def _deliver(self) -> None:
        while (run := self._queue.get()) is not None:
            self._run(run)
        connections.close_all()

    def _run(self, run: list[Claim]) -> None:
        """Deliver a run one item after another, handing each attempt to the next round. It
        stops early when the worker stops, when the destination's circuit is open or an attempt
        to it failed: the rest is given back unattempted, claimable again at once (the breaker
        has counted the failure)."""
        dest = run[0].item.destination
        left = list(run)
        try:
            close_old_connections()
            while left:
                if self._stop.is_set() or dest in self.breaker.open_destinations(time.monotonic()):
                    break
                claim = left.pop(0)
                try:
                    made = attempt(claim)
                except Exception:  # its lease expires and another attempt follows
                    log.exception("outbox item %s: delivery crashed", claim.item.pk)
                    self._forget([claim])
                    continue
                self.pace.observe(dest, made.seconds)
                if made.ok or made.outcome in _DESTINATION_FAILURES:
                    self.breaker.record(dest, made.ok, time.monotonic())
                with self._lock:
                    self._made.append(made)
                self._wake.set()
                if made.outcome in _DESTINATION_FAILURES:
                    break
        finally:
            close_old_connections()
            with self._lock:
                self._back.extend(left)
                runs_left = self._busy.get(dest, 1) - 1
                if runs_left > 0:
                    self._busy[dest] = runs_left
                else:
                    self._busy.pop(dest, None)
                self._runs -= 1
            self._wake.set()

    def _forget(self, claims: list[Claim]) -> None:
        with self._lock:
            for claim in claims:
                self._held.pop(claim.item.pk, None)

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
