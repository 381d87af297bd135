"""Instructions per match() call, counted by valgrind: a noise-free figure for comparing versions.

    python bench/engine_instructions.py [--rules 1000] [--events 3000] [--passes 2]

Wall-clock figures on a shared machine move with its load; an instruction count does not. The
script runs itself twice under `valgrind --tool=callgrind` on the workload of engine_bench.py: once
with the timed passes and once with only the setup (rule compilation, events, one warm-up
pass), and prints the difference divided by the number of matched events. Needs valgrind
(Debian: apt-get install valgrind); expect about a minute at 1,000 rules.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import DEFAULT_CORPUS, generated_corpus, load_corpus, workload


def child(n_rules: int, n_events: int, passes: int, seed: int, corpus_dir: Path) -> None:
    from flowdesk.engine import compile_ruleset, default_catalog

    corpus = load_corpus(corpus_dir) or generated_corpus(random.Random(seed))
    data, events = workload(n_rules, n_events, seed, corpus)
    rs = compile_ruleset(data, catalog=default_catalog(), source="bench")
    match = rs.match
    for _ in range(1 + passes):  # the warm-up pass fills the memos in both runs
        for snap, ev in events:
            match(snap, ev)


def count(args: argparse.Namespace, passes: int) -> int:
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(passes),
        "--rules", str(args.rules), "--events", str(args.events), "--seed", str(args.seed),
        "--corpus", str(args.corpus),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="support-datasets folder")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.rules, args.events, args.child, args.seed, args.corpus)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    total = count(args, args.passes) - count(args, 0)
    per_event = total / (args.events * args.passes)
    print(f"{args.rules:,} rules: {per_event:,.0f} instructions per match() call")


if __name__ == "__main__":
    main()
