"""Engine matching benchmark: CompiledRuleSet.match() against a generated straight-line baseline.

    python bench/engine_bench.py [--rules 10,100,1000,10000,50000] [--events N] [--seed S]
                                 [--repeat R] [--corpus DIR]

The workload is built from real support text (``shared/data/support-datasets`` next to the
repository, or ``--corpus``): subjects from Banking77 customer queries, message bodies of 20-60
words from the Mendeley help-desk utterances, and rule needles drawn from that text's own word
frequencies, so needle hit rates are those of real messages. Without the folder a Zipf-like
generated vocabulary stands in (the table says which one was used).

The baseline is what one would write without an index: per distinct trigger, one generated
Python function evaluating every rule of that trigger in rule order with short-circuit
``and``/``or``. Both are checked to return the same names on a sample of events, then timed in
alternating passes over the same events (the machine is shared and its speed drifts, so the
ratio is only meaningful within one run). Not a timed test: record the table in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import platform
import random
import re
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowdesk.engine import Event, MessageInfo, compile_ruleset, default_catalog
from flowdesk.engine.catalog import CHANNELS, PRIORITIES, STATUSES
from flowdesk.engine.tree import CondGroup, CondLeaf, CondNode
from flowdesk.engine.types import TriggerContext

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "support-datasets"
TIERS = ("enterprise", "business", "free")
TAGS = [f"tag{i}" for i in range(40)]
TRIGGERS: list[Any] = [
    "created", "updated", "customer_replied", "agent_replied", "note_added", "tags_changed",
    {"type": "priority_changed"}, {"type": "status_changed"},
]  # fmt: skip
WORD = re.compile(r"[a-z][a-z']+")
TEXT_FIELDS = ("subject", "latest_message.body")


class Corpus:
    """Subjects, bodies and a frequency-ranked word list to draw needles from."""

    def __init__(self, subjects: list[str], bodies: list[str], source: str) -> None:
        self.subjects = subjects
        self.bodies = bodies
        self.source = source
        freq: Counter[str] = Counter()
        for text in subjects + bodies:
            freq.update(WORD.findall(text.casefold()))
        ranked = [w for w, _ in freq.most_common() if len(w) >= 3]
        # Skip the most common words (stop words every message contains); keep a long tail so
        # large rule sets use thousands of distinct needles, weighted by real frequency.
        self.needles = ranked[40:3040]
        self.weights = [freq[w] ** 0.8 for w in self.needles]

    def needle(self, r: random.Random) -> str:
        return r.choices(self.needles, self.weights)[0]


def load_corpus(folder: Path) -> Corpus | None:
    banking = folder / "banking77" / "train.csv"
    helpdesk = folder / "mendeley-helpdesk-tickets" / "sample_utterances.csv"
    if not banking.is_file() or not helpdesk.is_file():
        return None
    with banking.open(newline="", encoding="utf-8") as fh:
        subjects = [row["text"].strip() for row in csv.DictReader(fh) if row["text"].strip()]
    comments: dict[tuple[str, str], list[str]] = {}
    with helpdesk.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            comments.setdefault((row["issueid"], row["id"]), []).append(row["actionbody"])
    bodies: list[str] = []
    pending: list[str] = []
    for parts in comments.values():  # short comments are joined with the next ones
        pending += " ".join(parts).split()
        if len(pending) >= 20:
            bodies.append(" ".join(pending[:60]))
            pending = []
    return Corpus(
        subjects, bodies, f"support-datasets ({len(subjects)} subjects, {len(bodies)} bodies)"
    )


def generated_corpus(r: random.Random) -> Corpus:
    """Stand-in when the datasets are missing: 2,500 pseudo-words with Zipf frequencies."""
    syll = ["ka", "lo", "mi", "ne", "ro", "su", "ta", "vi", "ze", "pa", "do", "gu", "be", "fi"]
    words = sorted({"".join(r.choices(syll, k=r.randint(2, 4))) for _ in range(4000)})[:2500]
    r.shuffle(words)
    weights = [1 / (i + 1) for i in range(len(words))]

    def text(lo: int, hi: int) -> str:
        return " ".join(r.choices(words, weights, k=r.randint(lo, hi)))

    subjects = [text(4, 12) for _ in range(5000)]
    bodies = [text(20, 60) for _ in range(5000)]
    return Corpus(subjects, bodies, "generated Zipf vocabulary (datasets not found)")


def gen_leaf(r: random.Random, corpus: Corpus) -> dict[str, Any]:
    kind = r.random()
    if kind < 0.12:
        return {"field": "channel", "op": "in", "value": r.sample(CHANNELS, r.randint(1, 2))}
    if kind < 0.24:
        op = r.choice(["is", "is", "is", "is_not"])
        return {"field": "priority", "op": op, "value": r.choice(PRIORITIES)}
    if kind < 0.34:
        return {"field": "status", "op": "in", "value": r.sample(STATUSES, r.randint(1, 2))}
    if kind < 0.42:
        return {"field": "organization.tier", "op": "is", "value": r.choice(TIERS)}
    if kind < 0.52:
        op = r.choice(["has_any", "has_any", "has_any", "has_none"])
        return {"field": "tags", "op": op, "value": r.sample(TAGS, r.randint(1, 3))}
    if kind < 0.86:  # text: a third of all conditions
        field = r.choice(TEXT_FIELDS)
        t = r.random()
        if t < 0.64:
            return {"field": field, "op": "contains", "value": corpus.needle(r)}
        if t < 0.84:
            return {"field": field, "op": "not_contains", "value": corpus.needle(r)}
        if t < 0.95:
            return {"field": "subject", "op": "starts_with", "value": corpus.needle(r)}
        # Regexes are the rarest (a few % of text conditions) and the dearest to evaluate.
        words = "|".join(re.escape(corpus.needle(r)) for _ in range(r.randint(1, 3)))
        return {"field": field, "op": "matches", "value": rf"\b(?:{words})\b"}
    if kind < 0.94:
        op = r.choice(["greater_than", "less_than"])
        return {"field": "age_hours", "op": op, "value": r.choice([1, 4, 8, 24, 48, 72])}
    op = r.choice(["greater_or_equal", "less_or_equal"])
    return {"field": "message_count", "op": op, "value": r.randint(1, 10)}


def gen_rules(n: int, r: random.Random, corpus: Corpus) -> dict[str, Any]:
    rules = []
    for i in range(n):
        leaves = [gen_leaf(r, corpus) for _ in range(r.choice((2, 3, 3, 4, 4)))]
        if len(leaves) >= 3 and r.random() < 0.5:  # some rules have an any-group
            cond: dict[str, Any] = {"all": [*leaves[:-2], {"any": leaves[-2:]}]}
        else:
            cond = {"all": leaves}
        rules.append(
            {
                "name": f"rule-{i:05d}",
                "triggers": r.sample(TRIGGERS, r.randint(1, 3)),
                "conditions": cond,
                "actions": [{"type": "add_tags", "tags": [f"auto{i % 50}"]}],
            }
        )
    return {"version": 1, "rules": rules}


def gen_event(r: random.Random, i: int, corpus: Corpus) -> tuple[dict[str, Any], Event]:
    snap = {
        "id": i,
        "subject": r.choice(corpus.subjects),
        "status": r.choice(STATUSES),
        "priority": r.choice(PRIORITIES),
        "type": None,
        "channel": r.choice(CHANNELS),
        "tags": frozenset(r.sample(TAGS, r.randint(0, 3))),
        "assignee": None,
        "team": None,
        "followers": frozenset(),
        "requester.email": "c@example.com",
        "requester.name": "C",
        "organization.name": "Org",
        "organization.tier": r.choice(TIERS),
        "message_count": r.randint(1, 12),
        "age_hours": round(r.uniform(0, 100), 1),
        "hours_since_update": 1.0,
        "latest_message.body": r.choice(corpus.bodies),
        "latest_message.author_kind": "customer",
        "latest_message.public": True,
    }
    if r.random() < 0.3:
        return snap, Event("created")
    changes: dict[str, tuple[Any, Any]] = {}
    if r.random() < 0.3:
        old = r.choice([p for p in PRIORITIES if p != snap["priority"]])
        changes["priority"] = (old, snap["priority"])
    if r.random() < 0.3:
        changes["status"] = (r.choice([s for s in STATUSES if s != snap["status"]]), snap["status"])
    msgs: tuple[MessageInfo, ...] = ()
    if r.random() < 0.5:
        msgs = (MessageInfo(r.choice(["customer", "agent"]), r.random() < 0.8),)
    return snap, Event("updated", changes, msgs)


class Baseline:
    """Per distinct trigger, one generated straight-line function over that trigger's rules.

    Each function reads the fields it needs once, case-folds the text fields once, then tests
    every rule in rule order (``if <conditions>: out.append(i)``), short-circuiting like the
    rules' own evaluation. An event calls the functions of the triggers that match it and merges
    their rule indices in rule order.
    """

    def __init__(self, rs: Any) -> None:
        groups: dict[str, tuple[Any, list[Any]]] = {}
        for rule in rs.rules:
            if not rule.enabled:
                continue
            for trig in rule.triggers:
                key = json.dumps(trig.normalised(), sort_keys=True, default=str)
                groups.setdefault(key, (trig, []))[1].append(rule)
        self.names = [r.name for r in rs.rules]
        self.groups: list[tuple[Any, Callable[..., list[int]]]] = [
            (trig, self._function(rules)) for trig, rules in groups.values()
        ]

    def _function(self, rules: list[Any]) -> Callable[..., list[int]]:
        ns: dict[str, Any] = {}
        local: dict[str, str] = {}  # snapshot field -> local variable

        def const(value: Any) -> str:
            name = f"_c{len(ns)}"
            ns[name] = value
            return name

        def var(field: str, folded: bool) -> str:
            key = field + ("#f" if folded else "")
            if key not in local:
                local[key] = f"v{len(local)}"
            return local[key]

        def expr(node: CondNode) -> str:
            if isinstance(node, CondGroup):
                parts = [expr(c) for c in node.children]
                if node.kind == "all":
                    return "(" + " and ".join(parts) + ")"
                joined = "(" + " or ".join(parts) + ")"
                return joined if node.kind == "any" else f"(not {joined})"
            assert isinstance(node, CondLeaf)
            op = node.op
            name, folds = op.name, op.field.kind == "text"
            v = var(node.field, folds and name != "matches")
            if name in ("is", "is_not"):
                test = f"{v} == {const(op.key)}"
                return test if name == "is" else f"(not {test})"
            if name in ("in", "not_in"):
                return f"{'not ' if name == 'not_in' else ''}({v} in {const(op.keys)})"
            if name == "contains":
                return f"({v} is not None and {const(op.needle)} in {v})"
            if name == "not_contains":
                return f"({v} is None or {const(op.needle)} not in {v})"
            if name == "starts_with":
                return f"({v} is not None and {v}.startswith({const(op.needle)}))"
            if name == "matches":
                return f"({v} is not None and {const(op.pattern.search)}({v}) is not None)"
            if name == "has_any":
                return f"(not {v}.isdisjoint({const(op.tags)}))"
            if name == "has_none":
                return f"{v}.isdisjoint({const(op.tags)})"
            if name == "has_all":
                return f"({const(op.tags)} <= {v})"
            cmp = {"greater_than": ">", "greater_or_equal": ">=", "less_than": "<"}
            if name in cmp or name == "less_or_equal":
                sym = cmp.get(name, "<=")
                return f"({v} is not None and {v} {sym} {const(op.bound)})"
            return f"{const(op.test)}(s, changes)"  # anything else: the operator itself

        body = []
        for r in rules:
            test = expr(r.conditions) if r.conditions is not None else "True"
            body += [f"    if {test}:", f"        out.append({r.index})"]
        head = ["def f(s, changes):", "    get = s.get"]
        for key, v in local.items():
            field = const(key.removesuffix("#f"))
            if key.endswith("#f"):
                head.append(f"    {v} = get({field})")
                head.append(f"    {v} = {v}.casefold() if {v} is not None else None")
            else:
                head.append(f"    {v} = get({field})")
        source = "\n".join([*head, "    out = []", *body, "    return out"])
        exec(compile(source, "<baseline>", "exec"), ns)
        fn: Callable[..., list[int]] = ns["f"]
        return fn

    def match(self, snap: dict[str, Any], ev: Event) -> list[str]:
        ctx = TriggerContext(ev.kind, ev.changes, ev.messages)
        found: list[list[int]] = [
            fn(snap, ev.changes) for trig, fn in self.groups if trig.matches(ctx)
        ]
        if not found:
            return []
        idx = found[0] if len(found) == 1 else sorted(set().union(*found))
        names = self.names
        return [names[i] for i in idx]


def naive(rs: Any, snap: dict[str, Any], ev: Event) -> list[str]:
    ctx = TriggerContext(ev.kind, ev.changes, ev.messages)
    return [
        rule.name
        for rule in rs.rules
        if rule.enabled and rule.trigger_hit(ctx) and rule.holds(snap, ev.changes)
    ]


def reference_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 3): how fast this shared machine is
    right now. Printed before and after the table, so runs in a slow phase can be recognised."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        acc = 0
        for i in range(1_000_000):
            acc += i & 7
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def workload(n_rules: int, n_events: int, seed: int, corpus: Corpus) -> tuple[Any, list[Any]]:
    """(rule definition, events) for one size; engine_instructions.py uses the same."""
    r = random.Random(seed * 1_000_003 + n_rules)
    return gen_rules(n_rules, r, corpus), [gen_event(r, i, corpus) for i in range(n_events)]


def timed(fn: Callable[[dict[str, Any], Event], list[str]], events: list[Any]) -> tuple[float, int]:
    matched = 0
    t0 = time.perf_counter()
    for snap, ev in events:
        matched += len(fn(snap, ev))
    return time.perf_counter() - t0, matched


def bench(n_rules: int, n_events: int, seed: int, repeat: int, corpus: Corpus) -> dict[str, Any]:
    data, events = workload(n_rules, n_events, seed, corpus)
    gc.collect()
    t0 = time.perf_counter()
    rs = compile_ruleset(data, catalog=default_catalog(), source="bench")
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = Baseline(rs)
    base_s = time.perf_counter() - t0
    sample = events[: min(200, n_events)]
    for snap, ev in sample:  # correctness: ALL matching rules, in order, on both sides
        got, want = rs.match(snap, ev), naive(rs, snap, ev)
        assert got == want, (n_rules, got, want)
        assert base.match(snap, ev) == want, (n_rules, "baseline")
    timed(rs.match, events)  # warm-up pass of both (memos, caches)
    timed(base.match, events)
    ours, theirs = [], []
    matched = 0
    for _ in range(repeat):  # alternate, so both sides see the same machine phases
        t, matched = timed(rs.match, events)
        ours.append(t)
        theirs.append(timed(base.match, events)[0])
    ours.sort()
    theirs.sort()
    mine, other = ours[len(ours) // 2], theirs[len(theirs) // 2]
    return {
        "rules": n_rules,
        "events": n_events,
        "terms": rs.matcher.n_terms,
        "compile_s": compile_s,
        "base_compile_s": base_s,
        "events_s": n_events / mine,
        "base_events_s": n_events / other,
        "ratio": other / mine,
        "us_event": mine / n_events * 1e6,
        "base_us_event": other / n_events * 1e6,
        "match_rate": matched / n_events / n_rules,
        "verified": len(sample),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", default="10,100,1000,10000,50000")
    ap.add_argument("--events", type=int, default=4000, help="events per size (see --budget)")
    ap.add_argument(
        "--budget",
        type=int,
        default=4_000_000,
        help="cap on events x rules per size, so big sizes stay minutes (at least 300 events)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5, help="timed passes of each side")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="support-datasets folder")
    args = ap.parse_args()
    corpus = load_corpus(args.corpus) or generated_corpus(random.Random(args.seed))
    print(f"Python {platform.python_version()} on {platform.machine()}, seed {args.seed}")
    print(f"corpus: {corpus.source}; {len(corpus.needles)} candidate needles")
    before = reference_ms()
    print(
        "| rules | events | DNF terms | compile (s) | flowdesk events/s | baseline events/s "
        "| ratio | flowdesk µs/event | baseline µs/event | match rate | verified |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.rules.split(",")]:
        n_events = max(300, min(args.events, args.budget // n))
        row = bench(n, n_events, args.seed, args.repeat, corpus)
        print(
            f"| {row['rules']:,} | {row['events']:,} | {row['terms']:,} | {row['compile_s']:.2f} "
            f"| {row['events_s']:,.0f} | {row['base_events_s']:,.0f} | {row['ratio']:.2f}x "
            f"| {row['us_event']:.1f} | {row['base_us_event']:.1f} | {row['match_rate']:.2%} "
            f"| {row['verified']} events |",
            flush=True,
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process max RSS: {rss / 1024:.0f} MB")
    print(
        f"machine reference loop: {before:.1f} ms before, {reference_ms():.1f} ms after "
        "(lower is faster; compare runs with similar values)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
