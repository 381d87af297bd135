"""Workspace pages: server time of the inbox and the ticket page with a million tickets.

    python bench/page_bench.py --database postgres://postgres@127.0.0.1:5432/flowdesk_pages \\
        [--tickets 1000000] [--requests 40]
    python bench/page_bench.py --sqlite [--tickets 100000]

The database named in ``--database`` is dropped and created again (``--sqlite``: a temporary
data directory). Seeded:

- 4 teams of 10 agents, 20,000 customers in 200 organizations;
- ``--tickets`` tickets inserted in bulk, as the services leave them (tag index rows too): the
  subjects are real customer requests (Banking77), statuses and priorities in the shares of a
  working help desk (60 % solved or closed, 5 % urgent), 90 % on a team, 70 % assigned,
  created over a year and updated since;
- 300 tickets made through the ticket services with real conversations of 2 to 40 messages
  (the Mendeley help-desk tickets: customer messages, agent replies and internal notes, with
  the field changes and events of a real history), the ticket pages opened.

Measured in-process with Django's test client, signed in as an agent of two teams (server
time: URL routing, session, the view, its SQL and the template; no network): every inbox view
(mine, unassigned, my teams, urgent, pending, solved) with each sort, a second page (keyset
``after=``), a search, the views menu with its counts (``/agent/counts``: the page's second
request, made by htmx once the list is shown; reported on its own line, not in the inbox
figures) and the ticket pages of the 300 conversations. Reported per page: p50
and p95 in ms and the SQL statements of one request (at two page sizes, to show the count does
not grow with it). Baseline in the same run: the sign-in page (a template, no query), so each
figure is also a ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "support-datasets"
SAMPLE = 300
AGENT = "bench-agent@flowdesk.test"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_pages")
    p.add_argument("--sqlite", action="store_true")
    p.add_argument("--tickets", type=int, default=None, help="default 1,000,000 (SQLite 100,000)")
    p.add_argument("--requests", type=int, default=40, help="requests per inbox page")
    p.add_argument("--data", type=Path, default=DATA, help="the support-datasets folder")
    p.add_argument(
        "--reuse", action="store_true", help="PostgreSQL: measure a database seeded by a run before"
    )
    args = p.parse_args()
    total = args.tickets or (100_000 if args.sqlite else 1_000_000)
    tmp = tempfile.TemporaryDirectory(prefix="flowdesk-page-bench-")
    if args.sqlite:
        os.environ["FLOWDESK_DATABASE_URL"] = ""
        os.environ["FLOWDESK_DATA_DIR"] = tmp.name
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from timer_bench import _recreate_database

        if not args.reuse:
            _recreate_database(args.database)
        os.environ["FLOWDESK_DATABASE_URL"] = args.database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    os.environ["FLOWDESK_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    where = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"pages: {total:,} tickets on {where}")
    t = time.monotonic()
    if args.reuse and not args.sqlite:
        from flowdesk.tickets.models import Message

        conversations = sorted(set(Message.objects.values_list("ticket_id", flat=True)))
    else:
        people = _people()
        _bulk_tickets(total, people, _subjects(args.data))
        conversations = _conversations(args.data, people)
    print(
        f"setup: {total:,} tickets + {len(conversations)} conversations in "
        f"{time.monotonic() - t:.0f} s"
    )
    _measure(args.requests, conversations)
    tmp.cleanup()


def _subjects(data: Path) -> list[str]:
    with (data / "banking77" / "train.csv").open(encoding="utf-8") as f:
        return [row["text"].strip()[:200] for row in csv.DictReader(f) if row["text"].strip()]


def _people() -> dict[str, Any]:
    from flowdesk.accounts.models import Organization, Role, Team, User

    orgs = Organization.objects.bulk_create(
        [
            Organization(
                name=f"Org {i}", attributes={"tier": "enterprise" if i % 10 == 0 else "free"}
            )
            for i in range(200)
        ]
    )
    agents = User.objects.bulk_create(
        [
            User(email=f"agent{i}@flowdesk.test", name=f"Agent {i}", role=Role.AGENT)
            for i in range(40)
        ]
    )
    me = User.objects.create_user(AGENT, "bench", name="Bench Agent", role=Role.AGENT)
    teams = []
    for i in range(4):
        team = Team.objects.create(name=f"Team {i}")
        team.members.add(*agents[i * 10 : (i + 1) * 10])
        teams.append(team)
    teams[0].members.add(me)
    teams[1].members.add(me)
    customers = User.objects.bulk_create(
        [
            User(
                email=f"customer{i}@example.org",
                name=f"Customer {i}",
                role=Role.CUSTOMER,
                organization=orgs[i % len(orgs)],
            )
            for i in range(20_000)
        ],
        batch_size=2000,
    )
    return {"agents": agents, "me": me, "teams": teams, "customers": customers}


STATUSES = [
    ("closed", 40),
    ("solved", 20),
    ("new", 10),
    ("open", 15),
    ("pending", 10),
    ("on-hold", 5),
]
PRIORITIES = [("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)]
TAGS = ["billing", "card", "refund", "vip", "bug", "howto", "transfer", "account"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _bulk_tickets(total: int, people: dict[str, Any], subjects: list[str]) -> None:
    """The tickets as the services leave them: the row, its tag index rows. In chunks of
    plain multi-row INSERTs (the ORM's bulk_create is far slower at a million rows)."""
    from django.db import connection, transaction

    from flowdesk.tickets.models import Ticket, TicketTag

    rng = random.Random(7)
    now = datetime.now(UTC)
    agents, teams, customers = people["agents"], people["teams"], people["customers"]
    members = {
        t.pk: [
            a
            for a in agents
            if a.email.startswith("agent") and int(a.email[5:].split("@")[0]) // 10 == i
        ]
        for i, t in enumerate(teams)
    }
    members[teams[0].pk].append(people["me"])
    members[teams[1].pk].append(people["me"])
    t_table, g_table = Ticket._meta.db_table, TicketTag._meta.db_table
    cols = (
        "subject, status, priority, channel, requester_id, organization_id, assignee_id, "
        "team_id, tags, custom_fields, message_count, created_at, updated_at, solved_at, "
        "status_changed_at, version"
    )
    chunk = 2000  # 16 parameters a row: under PostgreSQL's 65,535 per statement
    sqlite = connection.vendor == "sqlite"

    def at(value: datetime | None) -> Any:
        if value is None or not sqlite:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    import json

    with connection.cursor() as cur:
        for start in range(0, total, chunk):
            rows, tag_rows = [], []
            for _ in range(min(chunk, total - start)):
                customer = rng.choice(customers)
                status, priority = _pick(rng, STATUSES), _pick(rng, PRIORITIES)
                team = rng.choice(teams) if rng.random() < 0.9 else None
                pool = members[team.pk] if team is not None else agents
                assignee = rng.choice(pool) if rng.random() < 0.7 else None
                created = now - timedelta(seconds=rng.randint(0, 365 * 86400))
                updated = created + timedelta(
                    seconds=rng.randint(0, int((now - created).total_seconds()))
                )
                solved = updated if status in ("solved", "closed") else None
                tags = sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2])))
                rows.append(
                    (
                        rng.choice(subjects),
                        status,
                        priority,
                        "email",
                        customer.pk,
                        customer.organization_id,
                        assignee.pk if assignee else None,
                        team.pk if team else None,
                        json.dumps(tags),
                        "{}",
                        rng.randint(1, 12),
                        at(created),
                        at(updated),
                        at(solved),
                        at(updated),
                        rng.randint(1, 9),
                    )
                )
                tag_rows.append(tags)
            one = "(" + ", ".join(["%s"] * 16) + ")"
            with transaction.atomic():
                cur.execute(
                    f"INSERT INTO {t_table} ({cols}) VALUES {', '.join([one] * len(rows))} "
                    "RETURNING id",
                    [v for row in rows for v in row],
                )
                ids = [r[0] for r in cur.fetchall()]
                pairs = [
                    (pk, name) for pk, tags in zip(ids, tag_rows, strict=True) for name in tags
                ]
                if pairs:
                    cur.execute(
                        f"INSERT INTO {g_table} (ticket_id, name) VALUES "
                        + ", ".join(["(%s, %s)"] * len(pairs)),
                        [v for pair in pairs for v in pair],
                    )
        if connection.vendor == "postgresql":
            cur.execute(f"ANALYZE {t_table}")
            cur.execute(f"ANALYZE {g_table}")
        else:
            cur.execute("ANALYZE")


def _conversations(data: Path, people: dict[str, Any]) -> list[int]:
    """SAMPLE real help-desk conversations, made through the ticket services."""
    from flowdesk.tickets.cause import Cause, CauseKind
    from flowdesk.tickets.services import (
        ChangeSet,
        NewMessage,
        check_create_ticket,
        check_update_ticket,
    )

    comments: dict[str, dict[int, list[tuple[str, bool, str]]]] = defaultdict(dict)
    with (data / "mendeley-helpdesk-tickets" / "sample_utterances.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            seq = int(float(row["comment_seq"]))
            body = row["actionbody"].strip()
            if not body or body == ".":
                continue
            entry = comments[row["issueid"]].setdefault(seq, [])
            entry.append((row["author_role"], row["is_private"].startswith("1"), body))
    issues = [c for c in comments.values() if 2 <= len(c) <= 40]
    rng = random.Random(11)
    me, customers, teams = people["me"], people["customers"], people["teams"]
    made = []
    now = datetime.now(UTC)
    for issue in issues[:SAMPLE]:
        parts = [issue[k] for k in sorted(issue)]
        first = " ".join(u for _, _, u in parts[0])
        customer = rng.choice(customers)
        ticket = check_create_ticket(
            actor=me,
            requester=customer,
            subject=first[:120],
            message=NewMessage(body_text=first, channel="email"),
            channel="email",
            changes=ChangeSet(values={"team": teams[0].name, "priority": "high"}),
            cause=Cause(CauseKind.AGENT, actor=me),
            now=now,
        )
        for n, utterances in enumerate(parts[1:]):
            role, private, _ = utterances[0]
            body = " ".join(u for _, _, u in utterances)
            agent = role != "reporter"
            actor = me if agent else customer
            changes = (
                ChangeSet(values={"status": "pending" if n % 2 else "open"})
                if agent
                else (ChangeSet())
            )
            ticket = check_update_ticket(
                ticket,
                changes=changes,
                message=NewMessage(body_text=body, public=not (agent and private), channel="email"),
                expected_version=None,
                cause=Cause(CauseKind.AGENT if agent else CauseKind.CUSTOMER, actor=actor),
                now=now,
            )
        made.append(ticket.pk)
    return made


def _timed(client: Any, url: str, n: int) -> tuple[list[float], int]:
    """n timed requests, after one that counts the statements (an execute wrapper: Django
    clears its query log when a request starts)."""
    from django.db import connection

    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return times, len(statements)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _measure(n: int, conversations: list[int]) -> None:
    from django.test import Client

    from flowdesk.accounts.models import User

    base, _ = _timed(Client(), "/login", n)  # anonymous: the sign-in form
    client = Client()
    client.force_login(User.objects.get(email=AGENT))
    b50 = statistics.median(base)
    print(f"baseline (sign-in page, no query): p50 {b50:.2f} ms, p95 {_pct(base, 0.95):.2f} ms")
    print(f"{'page':<42} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7} {'SQL':>4} {'SQL@100':>7}")

    def line(name: str, url: str, times: list[float], statements: int, wide: int | None) -> None:
        p50 = statistics.median(times)
        extra = f"{wide:>7}" if wide is not None else f"{'':>7}"
        print(
            f"{name:<42} {p50:>8.1f} {_pct(times, 0.95):>8.1f} {p50 / b50:>7.0f} "
            f"{statements:>4} {extra}"
        )

    worst = 0.0
    for view in ("mine", "unassigned", "teams", "urgent", "pending", "solved"):
        for sort in ("updated", "priority", "created"):
            url = f"/agent/?view={view}&sort={sort}"
            times, statements = _timed(client, url, n)
            _, wide = _timed(client, url + "&size=100", 1)
            line(f"inbox {view} by {sort}", url, times, statements, wide)
            worst = max(worst, _pct(times, 0.95))
    page2 = _second_page(client)
    if page2:
        times, statements = _timed(client, page2, n)
        line("inbox mine, page 2 (keyset)", page2, times, statements, None)
    times, statements = _timed(client, "/agent/?view=teams&q=card", n)
    line("inbox my teams, search 'card'", "", times, statements, None)
    times, statements = _timed(client, "/agent/counts?view=teams", n)
    _, wide = _timed(client, "/agent/counts?view=teams&size=100", 1)
    line("view counts (/agent/counts, 7 views)", "", times, statements, wide)
    ticket_times: list[float] = []
    counts = []
    for pk in conversations:
        t, statements = _timed(client, f"/agent/tickets/{pk}", 2)
        ticket_times += t
        counts.append(statements)
    p50 = statistics.median(ticket_times)
    print(
        f"{'ticket page (300 real conversations)':<42} {p50:>8.1f} "
        f"{_pct(ticket_times, 0.95):>8.1f} {p50 / b50:>7.0f} "
        f"{min(counts)}-{max(counts)}"
    )
    print(f"worst inbox p95: {worst:.1f} ms")


def _second_page(client: Any) -> str:
    import re

    body = client.get("/agent/?view=teams").content.decode()
    found = re.search(r'href="(/agent/\?[^"]*after=[^"]+)"', body)
    return found.group(1).replace("&amp;", "&") if found else ""


if __name__ == "__main__":
    main()
