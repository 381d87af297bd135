"""End-to-end: tickets created per second through the service layer, with the demo rule set and
with a large rule set, plus the SQL statements one create and one update cost.

    python bench/e2e_bench.py [--tickets 300] [--extra-rules 10000]     # embedded SQLite (temp)
    FLOWDESK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/flowdesk_bench \\
        python bench/e2e_bench.py                                        # PostgreSQL

Each ticket goes through check_create_ticket: validation, the ticket row, its first message,
events, the automation cascade, outbox rows, one transaction (their delivery tasks are enqueued
after commit). The large rule set is the demo rules plus N generated rules of the engine
benchmark's shape, each guarded by a requester no ticket has, so they are compiled, indexed and
considered on every event but none fires: what is measured is what a large rule set costs by its
size alone. The two rule sets are timed in alternating rounds (demo, large, demo, large, ...)
because this shared machine's speed drifts; the ratio of the medians is the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=300, help="tickets per rule set")
    parser.add_argument("--extra-rules", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile the large set's creates")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    if not os.environ.get("FLOWDESK_DATABASE_URL"):
        os.environ["FLOWDESK_DATA_DIR"] = tmp.name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if _has_tables():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    from flowdesk.accounts.models import Role, User
    from flowdesk.automation.services import active_ruleset, check_import_definition
    from flowdesk.core.clock import utcnow
    from flowdesk.demo.seed import CHANNELS, REQUESTS, demo_rules_yaml, seed_demo
    from flowdesk.engine import load_ruleset_yaml
    from flowdesk.engine.catalog import default_catalog
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import (
        Cause,
        ChangeSet,
        NewMessage,
        check_create_ticket,
        check_update_ticket,
    )

    seed_demo(tickets=0, now=utcnow())
    customers = list(User.objects.filter(role=Role.CUSTOMER))
    rng = random.Random(args.seed)

    def create() -> Ticket:
        customer = rng.choice(customers)
        subject, body = rng.choice(REQUESTS)
        return check_create_ticket(
            actor=customer,
            requester=customer,
            subject=subject,
            message=NewMessage(body_text=body),
            channel=rng.choice(CHANNELS),
            changes=ChangeSet(),
            cause=Cause.for_user(customer),
            now=utcnow(),
        )

    demo = load_ruleset_yaml(demo_rules_yaml(), catalog=default_catalog()).definition
    large = _large(demo, args.extra_rules, args.seed)
    t0 = time.perf_counter()
    demo_v = check_import_definition(demo, source="demo", author=None).number
    large_v = check_import_definition(large, source="large", author=None).number
    print(f"imported {len(large['rules']):,} rules in {time.perf_counter() - t0:.1f} s")

    from flowdesk.automation.models import RuleSetVersion

    def activate(number: int) -> None:
        """Make `number` the newest version again (a restore), then warm its compile cache."""
        version = RuleSetVersion.objects.get(number=number)
        check_import_definition(version.definition, source=version.source_name, author=None)
        if connection.vendor == "sqlite":
            # Importing wrote megabytes to the WAL; without this the first commits after the
            # switch would pay its checkpoint, which is the import's cost, not a ticket's.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        active_ruleset()

    timings: dict[str, list[float]] = {"demo": [], "large": []}
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.rounds):
        for label, number in (("demo", demo_v), ("large", large_v)):
            activate(number)
            for _ in range(5):  # the first creates after a switch warm caches; not timed
                create()
            for _ in range(args.tickets // args.rounds):
                if profiler is not None and label == os.environ.get("PROFILE_SET", "large"):
                    profiler.enable()
                t = time.perf_counter()
                create()
                timings[label].append(time.perf_counter() - t)
                if profiler is not None:
                    profiler.disable()
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)

    for label, number in (("demo", demo_v), ("large", large_v)):
        activate(number)
        t = time.perf_counter()
        for _ in range(200):
            active_ruleset()
        per_call = (time.perf_counter() - t) / 200 * 1e6
        print(f"active_ruleset() with the {label} set: {per_call:.0f} us per call")
    activate(demo_v)
    create()
    with CaptureQueriesContext(connection) as q_create:
        ticket = create()
    agent = User.objects.filter(role=Role.AGENT).first()
    assert agent is not None
    ticket.refresh_from_db()
    with CaptureQueriesContext(connection) as q_update:
        check_update_ticket(
            ticket,
            changes=ChangeSet(values={"status": "pending"}),
            message=NewMessage(body_text="Could you send a screenshot?"),
            expected_version=ticket.version,
            cause=Cause.for_user(agent),
            now=utcnow(),
        )

    print(f"database: {connection.vendor}  tickets per rule set: {len(timings['demo'])}")
    medians = {}
    for label in ("demo", "large"):
        ts = sorted(timings[label])
        medians[label] = statistics.median(ts)
        rules = len(demo["rules"]) if label == "demo" else len(large["rules"])
        print(
            f"{label:>5} ({rules:,} rules): {len(ts) / sum(ts):.1f} tickets/s  "
            f"median {medians[label] * 1000:.2f} ms  p95 {ts[int(len(ts) * 0.95)] * 1000:.2f} ms"
        )
    print(f"large / demo median latency: {medians['large'] / medians['demo']:.3f}")
    print(
        f"SQL statements: create {len(q_create.captured_queries)}, "
        f"agent reply + status change {len(q_update.captured_queries)}"
    )
    tmp.cleanup()


def _large(demo: dict[str, Any], extra: int, seed: int) -> dict[str, Any]:
    """The demo rules plus `extra` generated rules that no bench ticket can match."""
    from engine_bench import gen_rules, generated_corpus

    r = random.Random(seed)
    generated = gen_rules(extra, r, generated_corpus(r))["rules"]
    for i, rule in enumerate(generated):
        guard = {"field": "requester.email", "op": "is", "value": f"nobody{i}@example.invalid"}
        cond = rule.get("conditions")
        rule["conditions"] = {"all": [guard, cond]} if cond else {"all": [guard]}
    return {**demo, "rules": [*demo["rules"], *generated]}


def _has_tables() -> bool:
    from django.db import connection

    return "tickets_ticket" in connection.introspection.table_names()


if __name__ == "__main__":
    main()
