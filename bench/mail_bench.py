"""Mail intake: mails fetched from a local Dovecot, parsed, threaded and stored per second.

    python bench/mail_bench.py --sqlite [--mails 3000]
    python bench/mail_bench.py --database postgres://postgres@127.0.0.1:5432/flowdesk_mailbench \\
        [--mails 3000] [--workers 1|2]

A fresh Dovecot (tests/mail/dovecot.py) on a free port gets ``--mails`` mails APPENDed to its
INBOX: the real client mails of shared/data/email-fixtures (talon's .eml from a dozen clients,
multipart with HTML; the reply-parser suites' texts, quoted threads and signatures; a quarter of
the texts carry a long quoted thread, one in twenty a 40-200 KB attachment), each with
its own Message-ID, from 300 customers, about 40% of them replies to an earlier mail of the run
(In-Reply-To a stored Message-ID: threaded into its ticket). The database is fresh, with the demo
help desk and its rule set (every new ticket runs the cascade; rules queue replies).

Measured, in the same run:
- the raw IMAP fetch rate (UID SEARCH + FETCH BODY.PEEK[] in batches, nothing stored);
- baseline: that fetch and then every mail parsed (``parse.parse``), nothing stored: what the
  intake would reach if storing, threading and the ticket services cost nothing;
- intake: one ``mailbox poll`` round (fetch, store raw, flag \\Seen) and ``--workers`` processes
  processing the stored mails (parse, guard, dedupe, thread, ticket services), from the first
  fetch to the last mail processed. Reported as mails/s and as a ratio to the baseline, with
  the 1-minute load average at the end (the figures are only comparable within a run), and the
  workers' CPU time per mail (user + system, not the database server's: less moved by load).
PostgreSQL: the database named in ``--database`` is dropped and created again.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "data" / "email-fixtures"
SUPPORT = "support@bench.test"


ATTRIBUTION = "On Mon, 2 Mar 2026 at 10:{m:02d}, {who} <{addr}> wrote:"


def _quoted(history: list[str], depth: int) -> str:
    """A long thread as clients write it: each earlier message under an attribution, quoted one
    level deeper than the one after it."""
    out: list[str] = []
    for level, text in enumerate(history[:depth], start=1):
        who = ("Support", SUPPORT) if level % 2 else ("Customer", "customer@bench.test")
        out.append("> " * (level - 1) + ATTRIBUTION.format(m=level, who=who[0], addr=who[1]))
        out += [("> " * level + line).rstrip() for line in text.splitlines()]
    return "\n".join(out)


def mails(n: int, seed: int, fixtures: Path) -> list[bytes]:
    """Real client mails (half talon's .eml, half the reply-parser texts), a quarter of the texts
    with a long quoted thread below them, one in twenty with a 40-200 KB attachment; about 40%
    are replies to an earlier mail of the run (In-Reply-To a stored Message-ID)."""
    rng = random.Random(seed)
    emls = [p.read_bytes() for p in sorted((fixtures / "talon" / "standard_replies").glob("*.eml"))]
    texts = [
        p.read_text(errors="replace")
        for sub in ("zapier-email-reply-parser", "crisp-email-reply-parser", "mail-parser-reply")
        for p in sorted((fixtures / sub).glob("*.txt"))
        if p.name != "pathological.txt"
    ]
    if not emls or not texts:
        raise SystemExit(f"no fixture mails under {fixtures} (--fixtures)")
    out: list[bytes] = []
    ids: list[str] = []
    for i in range(n):
        reply = ids and rng.random() < 0.4
        if rng.random() < 0.5:
            msg = message_from_bytes(rng.choice(emls), policy=policy.default)
            for name in ("From", "To", "Message-Id", "Message-ID", "Subject", "In-Reply-To"):
                del msg[name]
        else:
            msg = EmailMessage()
            body = rng.choice(texts)
            if rng.random() < 0.25:
                body += "\n\n" + _quoted(rng.sample(texts, 8), rng.randint(3, 8))
            msg.set_content(body)
            if rng.random() < 0.05:
                blob = rng.randbytes(rng.randint(40_000, 200_000))
                msg.add_attachment(blob, maintype="application", subtype="pdf", filename="scan.pdf")
        msg["From"] = f"Customer {i % 300} <customer{i % 300}@bench.test>"
        msg["To"] = SUPPORT
        msg["Message-ID"] = f"<bench.{seed}.{i}@client.test>"
        if reply:
            parent = rng.choice(ids[-200:])
            msg["In-Reply-To"] = parent
            msg["Subject"] = "Re: question"
        else:
            msg["Subject"] = f"Question {i}: {rng.choice(['login', 'invoice', 'export', 'api'])}"
        ids.append(f"<bench.{seed}.{i}@client.test>")
        out.append(msg.as_bytes())
    return out


def _recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = url.replace("postgres://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def child(owner: str, profile: bool, queries: bool) -> None:
    import django

    django.setup()
    from flowdesk.mail.ingest import process_pending

    if queries:
        from django.db import connection

        kinds: dict[str, int] = {}
        texts: dict[str, int] = {}

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            word = sql.split(None, 1)[0].upper()
            kinds[word] = kinds.get(word, 0) + 1
            texts[sql[:110]] = texts.get(sql[:110], 0) + 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            done = process_pending(owner)
        per = {k: round(v / max(done, 1), 1) for k, v in sorted(kinds.items())}
        total = sum(kinds.values()) / max(done, 1)
        print(f"statements per mail ({owner}): {total:.1f} {per}", file=sys.stderr)
        for text, n in sorted(texts.items(), key=lambda kv: -kv[1])[:25]:
            print(f"  {n / max(done, 1):5.2f}  {text}", file=sys.stderr)
    elif profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        done = prof.runcall(process_pending, owner)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
        if os.environ.get("MAIL_BENCH_PSTATS"):  # the raw profile, for pstats / snakeviz
            prof.dump_stats(f"{os.environ['MAIL_BENCH_PSTATS']}.{owner}")
    else:
        done = process_pending(owner)
    print(done, flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_mailbench")
    p.add_argument("--sqlite", action="store_true")
    p.add_argument("--mails", type=int, default=3000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fixtures", type=Path, default=FIXTURES)
    p.add_argument("--profile", action="store_true", help="cProfile the processing (stderr)")
    p.add_argument("--queries", action="store_true", help="count statements per mail (stderr)")
    p.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    sys.path.insert(0, str(ROOT / "src"))
    if args.child:
        child(args.child, args.profile, args.queries)
        return
    tmp = tempfile.TemporaryDirectory(prefix="flowdesk-mail-bench-")
    if args.sqlite:
        os.environ["FLOWDESK_DATABASE_URL"] = ""
        os.environ["FLOWDESK_DATA_DIR"] = tmp.name
    else:
        _recreate(args.database)
        os.environ["FLOWDESK_DATABASE_URL"] = args.database
    sys.path.insert(0, str(ROOT / "tests" / "mail"))
    import django
    from dovecot import dovecot_server, mailbox_fields

    django.setup()
    from django.core.management import call_command
    from imap_tools import MailBoxUnencrypted

    call_command("migrate", verbosity=0)
    from flowdesk.automation.services import check_import_definition
    from flowdesk.core.clock import utcnow
    from flowdesk.demo.seed import demo_rules_yaml, seed_demo
    from flowdesk.engine import load_ruleset_yaml
    from flowdesk.engine.catalog import default_catalog
    from flowdesk.mail import imap
    from flowdesk.mail.models import InboundMail, Mailbox
    from flowdesk.mail.parse import parse
    from flowdesk.mail.services import check_create_mailbox

    seed_demo(tickets=0, now=utcnow())
    rules = load_ruleset_yaml(demo_rules_yaml(), catalog=default_catalog()).definition
    check_import_definition(rules, source="demo", author=None)
    raws = mails(args.mails, args.seed, args.fixtures)
    size = sum(len(r) for r in raws) / len(raws)
    with dovecot_server() as server:
        box = MailBoxUnencrypted(server.host, server.port).login(server.user, server.password)
        t0 = time.perf_counter()
        for raw in raws:
            box.append(raw, "INBOX")
        print(
            f"appended {len(raws)} mails (mean {size:,.0f} bytes) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        mailbox = check_create_mailbox(
            mailbox_fields(server, name="bench", batch=500, addresses=[SUPPORT])
        )
        # Baseline: fetch everything raw, store nothing.
        t0 = time.perf_counter()
        client = imap.connect(mailbox)
        _, data = client.client.uid("SEARCH", "ALL")
        uids = [int(u) for u in data[0].split()]
        fetched: list[bytes] = []
        for i in range(0, len(uids), 500):
            fetched += [raw for _, raw in imap.fetch_raw(client, uids[i : i + 500])]
        client.logout()
        fetch_s = time.perf_counter() - t0
        # Baseline: the same fetch, then every mail parsed (no database).
        t0 = time.perf_counter()
        for raw in fetched:
            parse(raw, own_addresses={SUPPORT})
        base = len(fetched) / (fetch_s + time.perf_counter() - t0)
        # Intake: fetch + store + flag, then the workers process.
        t0 = time.perf_counter()
        client = imap.connect(mailbox)
        while imap.poll(mailbox, client).more:
            pass
        client.logout()
        stored_s = time.perf_counter() - t0
        env = dict(os.environ)
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--child", f"bench-{n}"]
                + (["--profile"] if args.profile else [])
                + (["--queries"] if args.queries else []),
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(args.workers)
        ]
        counts = [int((proc.communicate()[0] or "0").split()[-1]) for proc in procs]
        total_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The workers' own CPU time (user + system; not the database server's): less moved by
        # the machine's load than the wall-clock rate, so it compares runs at different loads.
        cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    statuses: dict[str, int] = {}
    for status in InboundMail.objects.values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    from flowdesk.tickets.models import Message, Ticket

    db = "SQLite" if args.sqlite else "PostgreSQL"
    rate = len(raws) / total_s
    load = os.getloadavg()[0]
    print(
        f"| {db} | {args.workers} | {len(raws)} | {len(fetched) / fetch_s:,.0f} | {base:,.0f} | "
        f"{len(raws) / stored_s:,.0f} | {rate:,.0f} | {rate / base:.3f} | {load:.1f} |"
    )
    print(
        f"per worker: {counts}; statuses {statuses}; {Ticket.objects.count()} tickets, "
        f"{Message.objects.count()} messages; "
        f"mailbox {Mailbox.objects.get(name='bench').last_uid} UIDs; "
        f"worker CPU {1000 * cpu_s / len(raws):.1f} ms per mail"
    )


if __name__ == "__main__":
    main()
