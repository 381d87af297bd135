"""Write transactions that queue well on SQLite (one writer at a time)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

_LOCK_TRY_MS = 10


@contextmanager
def write_transaction() -> Iterator[None]:
    """``transaction.atomic()``, except that on SQLite the write lock is asked for every few ms.

    SQLite's own busy handler backs off to 100 ms sleeps, and a waiter that sleeps loses the
    lock to every newer writer: under a stream of web requests a worker's round could wait
    seconds while a dozen requests committed. A round writes once for many items, so it asks
    often (restarting the busy handler's short first sleeps) and holds the lock briefly."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    # As long as the connection's own timeout (Django's default is 5 s).
    timeout = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5))
    deadline = time.monotonic() + timeout
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {_LOCK_TRY_MS}")
    try:
        while True:
            atomic = transaction.atomic()
            try:
                atomic.__enter__()  # BEGIN IMMEDIATE
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                continue
            break
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    with _exit(atomic):
        yield


@contextmanager
def _exit(atomic: transaction.Atomic) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        atomic.__exit__(type(exc), exc, exc.__traceback__)
        raise
    atomic.__exit__(None, None, None)


@contextmanager
def pipelined() -> Iterator[None]:
    """On PostgreSQL, statements are sent without waiting for each answer (psycopg's pipeline
    mode): a statement whose result is read (a SELECT, an INSERT's RETURNING) waits for what was
    sent before it; an UPDATE or an INSERT nobody reads back costs no round trip of its own. An
    error surfaces at the next statement that waits, not at the one that caused it, so use it
    only where any error aborts the whole transaction. Elsewhere: nothing changes."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield
