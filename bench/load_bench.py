"""HTTP load: tickets created per second through the real server, from N concurrent clients.

    python bench/load_bench.py --setup embedded [--clients 8] [--seconds 20]
    python bench/load_bench.py --setup production --web 3 --threads 4 --workers 1 \\
        --database postgres://postgres@127.0.0.1:5432/flowdesk_scale [--clients 8]
    python bench/load_bench.py --setup embedded --extra-rules 50000     # a large rule set

embedded: `flowdesk serve` on SQLite (a temporary data directory) with its in-process worker.
production: gunicorn (`--web` processes of `--threads` threads) on PostgreSQL, plus `--workers`
`flowdesk worker` processes; the database named in `--database` is dropped and created again.
Both serve on 127.0.0.1 only; every phase is bounded by `--seconds`.

Each client is a thread with one keep-alive connection, sending as fast as answers come. First the
baseline: the same clients against a trivial authenticated endpoint (`GET /api/me`), so that the
figure is a ratio that survives this shared machine's drift; then ticket creates (`POST
/api/tickets` as an agent, for demo customers, with the demo rule set: every ticket fires 2-4 rules
and queues 1-2 outbox items). Reported: requests/s, p50/p95/p99 latency of both phases, and how
long the created tickets' outbox items waited for delivery (`delivered_at - created_at`, e-mail to
Django's dummy backend).

With `--extra-rules N`, N generated rules (bench/engine_bench.py's shape, none able to fire) are
imported through `POST /api/rules` first; the import's time, the sizes of the default answers and
the server's resident memory are reported.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--setup", choices=["embedded", "production"], default="embedded")
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_scale")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0, help="per phase")
    p.add_argument("--web", type=int, default=3, help="gunicorn processes (production)")
    p.add_argument("--threads", type=int, default=4, help="threads per web process")
    p.add_argument("--workers", type=int, default=1, help="flowdesk worker processes")
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--extra-rules", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    tmp = tempfile.TemporaryDirectory()
    env = server_env(args, tmp.name, FLOWDESK_RULES_MAX_BYTES=str(256 * 1024 * 1024))
    sys.path.insert(0, str(ROOT / "bench"))
    token, admin_token, customers = _prepare()
    from flowdesk.demo.seed import CHANNELS, REQUESTS

    port = args.port or _free_port()
    procs = _start(args, env, port)
    try:
        _wait_ready(port)
        server = procs[0]
        print(f"setup: {_describe(args)}; clients: {args.clients}; {args.seconds:.0f} s per phase")
        if args.extra_rules:
            _large(port, admin_token, args.extra_rules, args.seed, server)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        rng = random.Random(args.seed)

        def create(conn: http.client.HTTPConnection) -> int:
            subject, body = rng.choice(REQUESTS)
            payload = {
                "subject": subject,
                "body": body,
                "channel": rng.choice(CHANNELS),
                "requester_email": rng.choice(customers),
            }
            conn.request("POST", "/api/tickets", json.dumps(payload), headers)
            r = conn.getresponse()
            r.read()
            return r.status

        def me(conn: http.client.HTTPConnection) -> int:
            conn.request("GET", "/api/me", headers=headers)
            r = conn.getresponse()
            r.read()
            return r.status

        db = None if args.setup == "embedded" else urlsplit(args.database).path.lstrip("/")
        _phase(port, args.clients, 2.0, me, expect=200)  # warm-up: connections, caches
        _phase(port, args.clients, 2.0, create, expect=201)
        cpu0 = _cpu(procs, db)
        base = _phase(port, args.clients, args.seconds, me, expect=200)
        cpu1 = _cpu(procs, db)
        since = _now_db()
        load = _phase(port, args.clients, args.seconds, create, expect=201)
        cpu2 = _cpu(procs, db)
        _report("baseline GET /api/me", base)
        _report("POST /api/tickets", load)
        print(f"tickets/s / baseline requests/s: {load['rate'] / base['rate']:.3f}")
        _cpu_report("GET /api/me", cpu0, cpu1, base["n"])
        _cpu_report("POST /api/tickets", cpu1, cpu2, load["n"])
        _delivery(since, timeout=max(30.0, args.seconds))
        _cpu_report("POST /api/tickets, until delivered", cpu1, _cpu(procs, db), load["n"])
        print(f"web server resident memory: {_rss_mb(server):.0f} MB (peak {_hwm_mb(server):.0f})")
    finally:
        for proc in reversed(procs):
            _stop(proc)
        tmp.cleanup()


def _describe(args: argparse.Namespace) -> str:
    if args.setup == "embedded":
        return "embedded (flowdesk serve, SQLite, in-process worker, waitress 8 threads)"
    return (
        f"production (gunicorn {args.web} processes x {args.threads} threads, "
        f"{args.workers} flowdesk worker process(es), PostgreSQL)"
    )


def server_env(args: argparse.Namespace, data_dir: str, **extra: str) -> dict[str, str]:
    """The server's environment (also set in this process): embedded on SQLite in ``data_dir``,
    or production on ``args.database``, dropped and created again."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="flowdesk.config.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")])),
        FLOWDESK_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        FLOWDESK_LOG_LEVEL="ERROR",
        **extra,
    )
    if args.setup == "embedded":
        env["FLOWDESK_DATA_DIR"] = data_dir
        env.pop("FLOWDESK_DATABASE_URL", None)
    else:
        _recreate_database(args.database)
        env["FLOWDESK_DATABASE_URL"] = args.database
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "src"))
    return env


def _recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _prepare() -> tuple[str, str, list[str]]:
    """Migrate, seed the demo desk (no tickets); API tokens of an agent and of the admin."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from flowdesk.accounts.models import Role, User
    from flowdesk.accounts.services import do_create_token
    from flowdesk.core.clock import utcnow
    from flowdesk.demo.seed import ADMIN_EMAIL, seed_demo

    seed_demo(tickets=0, now=utcnow())
    agent = User.objects.filter(role=Role.AGENT).order_by("id").first()
    assert agent is not None
    customers = list(User.objects.filter(role=Role.CUSTOMER).values_list("email", flat=True))
    _, token = do_create_token(agent, "load-bench")
    _, admin_token = do_create_token(User.objects.get(email=ADMIN_EMAIL), "load-bench")
    from django.db import connections

    connections.close_all()
    return token, admin_token, customers


def _start(args: argparse.Namespace, env: dict[str, str], port: int) -> list[subprocess.Popen[Any]]:
    out = subprocess.DEVNULL
    if args.setup == "embedded":
        cmd = [str(BIN / "flowdesk"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        return [subprocess.Popen(cmd, env=env, stdout=out, start_new_session=True)]
    web = [
        str(BIN / "gunicorn"),
        "flowdesk.config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.web),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    procs = [subprocess.Popen(web, env=env, stdout=out, start_new_session=True)]
    for _ in range(args.workers):
        cmd = [str(BIN / "flowdesk"), "worker", "--interval", "0.2"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=out, start_new_session=True))
    return procs


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/rules/schema")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer on port {port} within {timeout:.0f} s")


def _phase(port: int, clients: int, seconds: float, call: Any, *, expect: int) -> dict[str, Any]:
    """``clients`` threads call ``call(conn)`` back to back for ``seconds``; latencies in s."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[Counter[int]] = [Counter() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        mine = latencies[i]
        while time.perf_counter() < stop_at[0]:
            t = time.perf_counter()
            try:
                status = call(conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = -1
            if status == expect:
                mine.append(time.perf_counter() - t)
            else:
                failures[i][status] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    done = sorted(x for xs in latencies for x in xs)
    failed: Counter[int] = sum(failures, Counter())
    return {"n": len(done), "rate": len(done) / elapsed, "lat": done, "failed": failed}


def _pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else float("nan")


def _failed(failed: Counter[int]) -> str:
    """Failures by status (-1: the connection failed)."""
    if not failed:
        return "0 failed"
    return "failed: " + ", ".join(f"{n} x {status}" for status, n in sorted(failed.items()))


def _report(label: str, r: dict[str, Any]) -> None:
    lat = r["lat"]
    med = statistics.median(lat) * 1000 if lat else float("nan")
    print(
        f"{label}: {r['rate']:.1f}/s ({r['n']} ok, {_failed(r['failed'])})  p50 {med:.1f} ms  "
        f"p95 {_pct(lat, 0.95):.1f} ms  p99 {_pct(lat, 0.99):.1f} ms"
    )


def _now_db() -> Any:
    from flowdesk.core.clock import utcnow

    return utcnow()


def _delivery(since: Any, timeout: float) -> None:
    """Wait (bounded) for the phase's outbox items, then report their delivery delay."""
    from django.db import connections

    from flowdesk.outbox.models import OutboxItem

    items = OutboxItem.objects.filter(created_at__gte=since)
    deadline = time.monotonic() + timeout
    while items.filter(status="pending").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = list(items.values_list("status", "created_at", "delivered_at"))
    delays = sorted(
        (d - c).total_seconds() for s, c, d in rows if s == "delivered" and d is not None
    )
    pending = sum(1 for s, _, _ in rows if s == "pending")
    print(
        f"outbox: {len(rows)} items, {len(delays)} delivered, {pending} still pending after "
        f"the wait; delay p50 {_pct(delays, 0.5) / 1000:.2f} s  "
        f"p99 {_pct(delays, 0.99) / 1000:.2f} s"
    )
    connections.close_all()


def _tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    pids, i = [root], 0
    while i < len(pids):
        pid = pids[i]
        i += 1
        try:
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            continue
    return pids


def _ticks(pid: int) -> int:
    """User + system CPU ticks of a process, its threads included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _cpu(procs: list[subprocess.Popen[Any]], db: str | None) -> dict[str, dict[int, int]]:
    """CPU ticks per process of the web server, the workers and (production) the PostgreSQL
    backends connected to the benchmark's database, whatever else runs on the machine."""
    groups: dict[str, dict[int, int]] = {"web": {}, "worker": {}, "postgres": {}}
    for i, proc in enumerate(procs):
        for pid in _tree(proc.pid):
            groups["web" if i == 0 else "worker"][pid] = _ticks(pid)
    if db:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("postgres: ") and f" {db} " in cmd:
                groups["postgres"][int(entry.name)] = _ticks(int(entry.name))
    return groups


def _cpu_report(
    label: str, a: dict[str, dict[int, int]], b: dict[str, dict[int, int]], n: int
) -> None:
    """CPU milliseconds per request on the server side: less sensitive to what else runs on a
    shared machine than requests per second (a process that exited between the samples is not
    counted; PostgreSQL backends persist across requests)."""
    hz = os.sysconf("SC_CLK_TCK")
    parts, total = [], 0.0
    for group in ("web", "worker", "postgres"):
        ms = sum(t - a[group].get(pid, 0) for pid, t in b[group].items()) * 1000 / hz / max(n, 1)
        total += ms
        if b[group]:
            parts.append(f"{group} {ms:.2f}")
    print(f"CPU ms per request, {label}: {total:.2f} ({', '.join(parts)})")


def _proc_status(proc: subprocess.Popen[Any], key: str) -> float:
    """The largest value of ``key`` among the process and its children (gunicorn's workers)."""
    pids = [proc.pid]
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    best = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    best = max(best, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return best


def _rss_mb(proc: subprocess.Popen[Any]) -> float:
    return _proc_status(proc, "VmRSS")


def _hwm_mb(proc: subprocess.Popen[Any]) -> float:
    return _proc_status(proc, "VmHWM")


def _large(port: int, token: str, extra: int, seed: int, server: subprocess.Popen[Any]) -> None:
    """Import the demo rules plus ``extra`` generated rules over HTTP and report what it costs."""
    from e2e_bench import _large as large_definition
    from flowdesk.demo.seed import demo_rules_yaml
    from flowdesk.engine import load_ruleset_yaml
    from flowdesk.engine.catalog import default_catalog

    demo = load_ruleset_yaml(demo_rules_yaml(), catalog=default_catalog()).definition
    body = json.dumps({"definition": large_definition(demo, extra, seed), "source": "large"})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method: str, path: str, data: str | None = None) -> tuple[int, bytes, float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
        t = time.perf_counter()
        conn.request(method, path, data, headers)
        r = conn.getresponse()
        content = r.read()
        conn.close()
        return r.status, content, time.perf_counter() - t

    print(f"server before the import: {_rss_mb(server):.0f} MB resident")
    status, content, took = call("POST", "/api/rules", body)
    assert status == 201, content[:300]
    print(
        f"import of {extra + len(demo['rules']):,} rules ({len(body) / 1e6:.1f} MB of JSON) "
        f"over HTTP: {took:.1f} s, answer {len(content) / 1e3:.1f} kB; server resident "
        f"{_rss_mb(server):.0f} MB, peak {_hwm_mb(server):.0f} MB"
    )
    for path in ("/api/rules", "/api/rules/versions", "/api/rules?full=true", "/api/rules/export"):
        status, content, took = call("GET", path)
        print(f"GET {path}: {status}, {len(content) / 1e3:,.1f} kB in {took:.2f} s")
    ticket_body = {"subject": "Refund please", "body": "Charged twice", "channel": "web"}
    ticket_body["requester_email"] = "load@example.org"
    status, content, took = call("POST", "/api/tickets", json.dumps(ticket_body))
    assert status == 201, content[:300]
    ticket = json.loads(content)["id"]
    print(f"first ticket create with the large set: {took * 1000:.0f} ms")
    explanation = f"/api/tickets/{ticket}/explanation"
    for path in (explanation, explanation + "?full=true"):
        status, content, took = call("GET", path)
        print(f"GET {path}: {status}, {len(content) / 1e3:,.1f} kB in {took:.2f} s")
    print(f"server resident after them: {_rss_mb(server):.0f} MB, peak {_hwm_mb(server):.0f} MB")


if __name__ == "__main__":
    main()
