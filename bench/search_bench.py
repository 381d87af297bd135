"""Inbox full-text search benchmark (flowdesk.web.search) on SQLite and PostgreSQL, next to a
LIKE scan baseline, in one run.

    python bench/search_bench.py [--tickets N] [--repeat R] [--database URL]
                                 [--only sqlite|postgres]

Seeds ``--tickets`` tickets (default 100,000) from 2,000 customers (some with accented names),
each with one to three real support messages: Banking77 queries and the Mendeley help-desk
utterances (``FLOWDESK_SUPPORT_DATA``, by default ``../shared/data/support-datasets`` next to the
repository; see its PROVENANCE.md). The subject is the Banking77 intent of the first
message, in words. Tickets and messages are bulk-inserted (a benchmark fixture, not the ticket
services: 100,000 service updates would take most of an hour); the index is then built with
``search.rebuild()``, the code of ``manage.py search_index``, and its build time reported.

Timed, per query of QUERIES, ``--repeat`` times: the inbox's search, i.e. ``search()`` over the
admin's ``tickets_for`` and over a team-scoped agent's, ordered by rank, first page (26 rows);
and the baseline, what the inbox did before: every word ``icontains`` in the subject or any
message (an ``EXISTS`` over messages), newest first, first page. p50 and p95 over all runs.
Each database runs in a child process; the parent prints one table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from timer_bench import _recreate_database  # the same fresh PostgreSQL database

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "card",  # very common: thousands of hits
    "refund",
    "exchange rate",
    "transfer pending",
    "top up failed",
    "verify identity",
    "vulnerability",
    "password reset",
    "declined",
    "jose",  # a customer name, written without its accent
    "verif",  # a prefix, as typed
    "apple pay",
]
FIRST = ["José", "Zoë", "Ana", "Łukasz", "Maria", "Juan", "Chloé", "Ren", "Amara", "Noah"]
LAST = ["Muñoz", "Dubois", "Santos", "Reyes", "Nguyen", "Øberg", "Smith", "Bautista", "Kaya"]


def _data_dir() -> Path:
    env = os.environ.get("FLOWDESK_SUPPORT_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "support-datasets"


def _messages() -> tuple[list[tuple[str, str]], list[str]]:
    data = _data_dir()
    banking: list[tuple[str, str]] = []
    for name in ("train.csv", "test.csv"):
        with open(data / "banking77" / name, encoding="utf-8") as f:
            banking += [(r["text"], r["category"]) for r in csv.DictReader(f)]
    with open(data / "mendeley-helpdesk-tickets" / "sample_utterances.csv", encoding="utf-8") as f:
        helpdesk = [r["actionbody"] for r in csv.DictReader(f) if len(r["actionbody"]) > 20]
    return banking, helpdesk


def _seed(n: int) -> None:
    from django.db import transaction

    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import do_create_team, do_create_user
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.models import Message, Ticket

    rnd = random.Random(7)
    banking, helpdesk = _messages()
    admin = do_create_user("admin@bench.test", name="Admin", role=Role.ADMIN)
    agent = do_create_user("agent@bench.test", name="Agent", role=Role.AGENT)
    teams = [do_create_team("Tier 1", [agent]), do_create_team("Tier 2", [admin])]
    customers = [
        do_create_user(f"customer{i}@example.org", name=f"{rnd.choice(FIRST)} {rnd.choice(LAST)}")
        for i in range(2000)
    ]
    now = utcnow()
    batch = 5000
    for start in range(0, n, batch):
        with transaction.atomic():
            rows = []
            firsts = []
            for i in range(start, min(n, start + batch)):
                text, intent = rnd.choice(banking)
                at = now - timedelta(minutes=n - i)
                rows.append(
                    Ticket(
                        subject=intent.replace("_", " ").capitalize(),
                        requester=rnd.choice(customers),
                        team=rnd.choice([*teams, None]),
                        channel="email",
                        created_at=at,
                        updated_at=at,
                        message_count=0,
                    )
                )
                firsts.append(text)
            made = Ticket.objects.bulk_create(rows)
            messages = []
            for t, text in zip(made, firsts, strict=True):
                bodies = [text] + [
                    rnd.choice(helpdesk) if rnd.random() < 0.6 else rnd.choice(banking)[0]
                    for _ in range(rnd.randint(0, 2))
                ]
                for b in bodies:
                    messages.append(
                        Message(
                            ticket=t, author_kind="customer", body_text=b, created_at=t.created_at
                        )
                    )
            Message.objects.bulk_create(messages)


def _baseline(qs: Any, q: str) -> Any:
    from django.db.models import Exists, OuterRef, Q

    from flowdesk.tickets.models import Message

    for word in q.split():
        in_messages = Message.objects.filter(ticket=OuterRef("pk"), body_text__icontains=word)
        qs = qs.filter(Q(subject__icontains=word) | Exists(in_messages))
    return qs.order_by("-updated_at", "-id")


def _time(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run_one(kind: str, url: str, tickets: int, repeat: int) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="flowdesk-search-bench-")
    if kind == "sqlite":
        os.environ["FLOWDESK_DATABASE_URL"] = ""
        os.environ["FLOWDESK_DATA_DIR"] = tmp.name
    else:
        _recreate_database(url)
        os.environ["FLOWDESK_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from flowdesk.accounts.models import User
    from flowdesk.tickets.models import Message
    from flowdesk.tickets.selectors import tickets_for
    from flowdesk.web.search import rebuild, search

    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    _seed(tickets)
    seeded = time.perf_counter() - t
    t = time.perf_counter()
    with transaction.atomic():
        rebuild()
    indexed = time.perf_counter() - t
    if kind == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    messages = Message.objects.count()
    admin, agent = (
        User.objects.get(email="admin@bench.test"),
        User.objects.get(email="agent@bench.test"),
    )
    fts: list[float] = []
    like: list[float] = []
    hits: dict[str, int] = {}
    for q in QUERIES:
        for user in (admin, agent):
            page = list(search(tickets_for(user), q).order_by("-search_rank", "-id")[:26])
            assert page or q in ("jose",), q
            for _ in range(repeat):
                fts.append(
                    _time(
                        lambda u=user, q=q: list(
                            search(tickets_for(u), q).order_by("-search_rank", "-id")[:26]
                        )
                    )
                )
            for _ in range(max(1, repeat // 5)):
                like.append(_time(lambda u=user, q=q: list(_baseline(tickets_for(u), q)[:26])))
        hits[q] = search(tickets_for(admin), q).count()
    tmp.cleanup()
    return {
        "database": "SQLite" if kind == "sqlite" else "PostgreSQL",
        "tickets": tickets,
        "messages": messages,
        "seed_s": round(seeded, 1),
        "index_s": round(indexed, 1),
        "fts_p50": _pct(fts, 50),
        "fts_p95": _pct(fts, 95),
        "like_p50": _pct(like, 50),
        "like_p95": _pct(like, 95),
        "runs": [len(fts), len(like)],
        "hits": hits,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tickets", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_search")
    p.add_argument("--only", choices=["sqlite", "postgres"])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(args.only, args.database, args.tickets, args.repeat)))
        return
    results = []
    for kind in [args.only] if args.only else ["sqlite", "postgres"]:
        cmd = [sys.executable, __file__, "--child", "--only", kind, "--tickets", str(args.tickets)]
        cmd += ["--repeat", str(args.repeat), "--database", args.database]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(
        f"search: {args.tickets:,} tickets, {results[0]['messages']:,} messages, "
        f"{len(QUERIES)} queries x admin and agent scope"
    )
    print("| database | seed | index build | search p50 / p95 | LIKE scan p50 / p95 | p50 ratio |")
    print("| --- | ---: | ---: | --- | --- | ---: |")
    for r in results:
        print(
            f"| {r['database']} | {r['seed_s']} s | {r['index_s']} s "
            f"| {r['fts_p50']:.1f} / {r['fts_p95']:.1f} ms "
            f"| {r['like_p50']:.0f} / {r['like_p95']:.0f} ms "
            f"| {r['like_p50'] / r['fts_p50']:.0f}x |"
        )
    for r in results:
        print(f"{r['database']} hits per query (admin): {r['hits']} (runs {r['runs']})")


if __name__ == "__main__":
    main()
