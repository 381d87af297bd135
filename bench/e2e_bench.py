"""End-to-end: tickets created per second through the service layer with the demo rule set.

    python bench/e2e_bench.py [--tickets 500]                       # embedded SQLite (temp file)
    FLOWDESK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowdesk_bench \
        python bench/e2e_bench.py                                    # PostgreSQL

Each ticket goes through check_create_ticket: validation, the ticket row, its first message,
events, the automation cascade over the demo rules, outbox rows and their tasks, one transaction.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if not os.environ.get("FLOWDESK_DATABASE_URL"):
        os.environ["FLOWDESK_DATA_DIR"] = tmp.name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("flush", interactive=False, verbosity=0) if _has_tables() else None
    call_command("migrate", verbosity=0)
    from flowdesk.accounts.models import Role, User
    from flowdesk.core.clock import utcnow
    from flowdesk.demo.seed import CHANNELS, REQUESTS, seed_demo
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_create_ticket

    seed_demo(tickets=0, now=utcnow())
    customers = list(User.objects.filter(role=Role.CUSTOMER))
    rng = random.Random(args.seed)
    timings = []
    start = time.perf_counter()
    for _ in range(args.tickets):
        customer = rng.choice(customers)
        subject, body = rng.choice(REQUESTS)
        t0 = time.perf_counter()
        check_create_ticket(
            actor=customer,
            requester=customer,
            subject=subject,
            message=NewMessage(body_text=body),
            channel=rng.choice(CHANNELS),
            changes=ChangeSet(),
            cause=Cause.for_user(customer),
            now=utcnow(),
        )
        timings.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    timings.sort()
    print(f"database: {connection.vendor}  tickets: {args.tickets}")
    print(f"tickets/s: {args.tickets / total:.1f}")
    print(
        f"latency ms: median {statistics.median(timings) * 1000:.2f}  "
        f"p95 {timings[int(len(timings) * 0.95)] * 1000:.2f}  max {timings[-1] * 1000:.2f}"
    )
    tmp.cleanup()


def _has_tables() -> bool:
    from django.db import connection

    return "tickets_ticket" in connection.introspection.table_names()


if __name__ == "__main__":
    main()
