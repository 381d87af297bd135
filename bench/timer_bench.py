"""Timers: how late time rules fire with a million scheduled timers and 1,000 coming due a second.

    python bench/timer_bench.py --database postgres://postgres@127.0.0.1:5432/flowdesk_timers \\
        [--timers 1000000] [--rate 1000] [--seconds 30] [--workers 1|2]
    python bench/timer_bench.py --sqlite [--timers 100000] [--rate 1000] [--seconds 30]

PostgreSQL: the database named in ``--database`` is dropped and created again; ``--workers``
``flowdesk worker`` processes fire the timers. ``--sqlite``: a temporary data directory and the
embedded server (``flowdesk serve``: its in-process worker fires them).

The workload is real: an active rule set with a time rule (``since created 1 h`` on tickets in
status new: add a tag), ``--timers`` tickets each with its ``rules`` timer (inserted in bulk, as
the settle hook would have left them: due one hour after creation). The first ``rate x seconds``
come due at ``--rate`` per second from a few seconds after the workers started; the rest are due
in 30 days. Every firing is a full timer update: lock the ticket, build its snapshot, run the
cascade (the rule fires: a tag, its events, the update row), latch the rule and move the timer.

Reported: firings per second, how late each firing began after its due instant (p50, p99, max;
from each timer's ``last_late_seconds``), the visible lag (sampled every 0.1 s while the window
runs: how far the fired count trails the due count, in seconds at the rate), and whether every
timer of the window fired exactly once (each ticket's tag and its one ``rule_fired`` event).
The baseline, in the same run and on the same database: single-row update transactions per
second from one client (this machine's commit rate), so firings/s is also a ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

RULES = """
rules:
  - name: follow-up
    description: A new ticket nobody touched for an hour is tagged for follow-up.
    triggers:
      - {type: since, event: created, for: 1h}
    conditions:
      all:
        - {field: status, op: is, value: new}
    actions:
      - {type: add_tags, tags: [follow-up]}
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_timers")
    p.add_argument("--sqlite", action="store_true", help="SQLite and the embedded worker")
    p.add_argument("--timers", type=int, default=None, help="default 1,000,000 (SQLite 100,000)")
    p.add_argument("--rate", type=int, default=1000, help="timers coming due per second")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the due window")
    p.add_argument("--workers", type=int, default=1, help="flowdesk worker processes (PG)")
    p.add_argument("--lead", type=float, default=8.0, help="seconds from start to first due")
    args = p.parse_args()
    total = args.timers or (100_000 if args.sqlite else 1_000_000)
    window = int(args.rate * args.seconds)
    if window > total:
        raise SystemExit("--timers must be at least --rate x --seconds")

    env = dict(os.environ)
    tmp = tempfile.TemporaryDirectory(prefix="flowdesk-timer-bench-")
    if args.sqlite:
        env["FLOWDESK_DATABASE_URL"] = ""
        env["FLOWDESK_DATA_DIR"] = tmp.name
    else:
        _recreate_database(args.database)
        env["FLOWDESK_DATABASE_URL"] = args.database
    env.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    env["FLOWDESK_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    os.environ.update(env)
    setup = "SQLite, embedded server" if args.sqlite else f"PostgreSQL, {args.workers} worker(s)"
    print(f"timers: {total:,} scheduled, {args.rate}/s due for {args.seconds:g} s ({setup})")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    t = time.monotonic()
    baseline = _commit_rate(connection)
    start_at = datetime.now(UTC) + timedelta(seconds=args.lead + _insert_estimate(total))
    _populate(connection, total, window, args.rate, start_at)
    print(f"setup: {total:,} tickets and timers in {time.monotonic() - t:.1f} s")
    connections.close_all()

    procs = _start(args, env)
    try:
        lag = _watch(window, args.rate, start_at, args.seconds)
    finally:
        for proc in procs:
            _stop(proc)
    _report(window, args.rate, args.seconds, start_at, lag, baseline)
    tmp.cleanup()


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _commit_rate(connection: Any, seconds: float = 3.0) -> float:
    """Baseline: single-row update transactions per second from one client."""
    from django.db import transaction

    from flowdesk.accounts.models import Organization

    org = Organization.objects.create(name="baseline")
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with transaction.atomic():
            Organization.objects.filter(pk=org.pk).update(attributes={"n": n})
        n += 1
    org.delete()
    return n / seconds


def _insert_estimate(total: int) -> float:
    return total / 40_000  # seconds the bulk insert takes, roughly, so the window starts later


def _populate(connection: Any, total: int, window: int, rate: int, start_at: datetime) -> None:
    from django.db import transaction

    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import do_create_user
    from flowdesk.automation.services import check_import_yaml
    from flowdesk.tickets.models import Ticket
    from flowdesk.timers.models import Timer

    admin = do_create_user("bench-admin@flowdesk.test", role=Role.ADMIN)
    customer = do_create_user("bench-customer@flowdesk.test")
    check_import_yaml(RULES, source="timer-bench.yaml", author=admin)
    far = start_at + timedelta(days=30)
    t_table, r_table = Ticket._meta.db_table, Timer._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"""INSERT INTO {t_table} (subject, status, priority, channel, requester_id,
                    tags, custom_fields, message_count, created_at, updated_at,
                    status_changed_at, version)
                SELECT 'bench ticket ' || i, 'new', 'normal', 'api', %s, '[]', '{{}}', 1,
                    t - interval '1 hour', t - interval '1 hour', t - interval '1 hour', 1
                FROM (SELECT i, CASE WHEN i <= %s
                        THEN %s::timestamptz + (i - 1) * interval '1 second' / %s
                        ELSE %s::timestamptz + i * interval '1 millisecond' END AS t
                      FROM generate_series(1, %s) AS i) AS s""",
                [customer.pk, window, start_at, rate, far, total],
            )
            cur.execute(
                f"""INSERT INTO {r_table} (ticket_id, purpose, due_at, state, lease_owner,
                    fired_count, updated_at, last_error)
                SELECT id, 'rules', created_at + interval '1 hour', '{{}}', '', 0, now(), ''
                FROM {t_table}"""
            )
            cur.execute(f"ANALYZE {t_table}")
            cur.execute(f"ANALYZE {r_table}")
            return

        # Django's SQLite format, microseconds included: SQLite's datetime() would cut them,
        # and a timer stored a fraction of a second early fires before its rule is due.
        def text(at: datetime) -> str:
            return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

        dues = [
            start_at + timedelta(seconds=(i - 1) / rate)
            if i <= window
            else far + timedelta(milliseconds=i)
            for i in range(1, total + 1)
        ]
        rows = []
        for i, due in enumerate(dues, start=1):
            created = text(due - timedelta(hours=1))
            rows.append((f"bench ticket {i}", customer.pk, created, created, created))
        cur.executemany(
            f"""INSERT INTO {t_table} (subject, status, priority, channel, requester_id, tags,
                custom_fields, message_count, created_at, updated_at, status_changed_at, version)
            VALUES (%s, 'new', 'normal', 'api', %s, '[]', '{{}}', 1, %s, %s, %s, 1)""",
            rows,
        )
        cur.execute(f"SELECT id FROM {t_table} ORDER BY id")
        ids = [row[0] for row in cur.fetchall()]
        cur.executemany(
            f"""INSERT INTO {r_table} (ticket_id, purpose, due_at, state, lease_owner,
                fired_count, updated_at, last_error)
            VALUES (%s, 'rules', %s, '{{}}', '', 0, %s, '')""",
            [(pk, text(due), text(due)) for pk, due in zip(ids, dues, strict=True)],
        )


def _start(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[Any]]:
    out = subprocess.DEVNULL
    if args.sqlite:
        cmd = [str(BIN / "flowdesk"), "serve", "--host", "127.0.0.1", "--port", str(_free_port())]
        return [subprocess.Popen(cmd, env=env, stdout=out, start_new_session=True)]
    return [
        subprocess.Popen(
            [str(BIN / "flowdesk"), "worker"],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        for _ in range(args.workers)
    ]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _fired(window: int) -> int:
    from flowdesk.timers.models import Timer

    return Timer.objects.filter(ticket_id__lte=window, fired_count__gt=0).count()


def _watch(window: int, rate: int, start_at: datetime, seconds: float) -> list[float]:
    """Sample the visible lag until the window has fired (or a minute after it ended)."""
    lag: list[float] = []
    end = start_at + timedelta(seconds=seconds)
    stop = threading.Event()
    while not stop.is_set():
        now = datetime.now(UTC)
        fired = _fired(window)
        if now >= start_at:
            due = min(window, int((now - start_at).total_seconds() * rate) + 1)
            lag.append(max(0.0, (due - fired) / rate))
        if fired >= window or now > end + timedelta(seconds=60):
            break
        time.sleep(0.1)
    return lag


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _report(
    window: int, rate: int, seconds: float, start_at: datetime, lag: list[float], baseline: float
) -> None:
    from django.db.models import Max, Min

    from flowdesk.tickets.models import TicketEvent
    from flowdesk.timers.models import Timer

    rows = Timer.objects.filter(ticket_id__lte=window)
    late = list(rows.filter(fired_count__gt=0).values_list("last_late_seconds", flat=True))
    late = [x for x in late if x is not None]
    fired_twice = rows.filter(fired_count__gt=1).count()
    span = rows.filter(fired_count__gt=0).aggregate(a=Min("last_fired_at"), b=Max("last_fired_at"))
    events = TicketEvent.objects.filter(ticket_id__lte=window, kind="rule_fired").count()
    elapsed = (span["b"] - span["a"]).total_seconds() if span["a"] and span["b"] else 0.0
    per_second = (len(late) - 1) / elapsed if elapsed > 0 else float("nan")
    print(f"baseline: {baseline:,.0f} single-row update transactions/s (one client)")
    print(
        f"fired: {len(late):,} of {window:,} due ({fired_twice} fired twice); "
        f"rule_fired events: {events:,}; {per_second:,.0f} firings/s "
        f"({per_second / baseline:.2f}x the baseline's commit rate)"
    )
    if late:
        print(
            f"lateness at firing: p50 {statistics.median(late) * 1000:.0f} ms, "
            f"p99 {_pct(late, 0.99) * 1000:.0f} ms, max {max(late) * 1000:.0f} ms"
        )
    if lag:
        print(
            f"visible lag (committed): p50 {statistics.median(lag) * 1000:.0f} ms, "
            f"p99 {_pct(lag, 0.99) * 1000:.0f} ms, max {max(lag) * 1000:.0f} ms "
            f"({len(lag)} samples)"
        )


if __name__ == "__main__":
    main()
