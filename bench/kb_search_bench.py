"""Knowledge-base search benchmark (flowdesk.knowledge.search) on SQLite (FTS5) and PostgreSQL
(tsvector), next to a naive LIKE scan over the same rows, in one run.

    python bench/kb_search_bench.py [--articles N] [--repeat R] [--database URL]
                                    [--only sqlite|postgres]

Seeds ``--articles`` public articles (default 10,000) from the ABCD help center (the demo KB in
``flowdesk/knowledge/fixtures``, converted from ``support-datasets/abcd``; MIT) with its Filipino
translations: copy *i* of an ABCD article keeps its title (plus a variant word) and gets a long
body (its own text, two other ABCD articles, and about 40 real customer utterances from Banking77
and the Mendeley help-desk tickets), so bodies run to ~1,000 words and the vocabulary is that of
real support text. Rows are bulk-inserted with the fields ``do_put_translation`` derives
(sanitised HTML, folded search words); the index is filled by migration 0002's triggers
(SQLite) or generated column (PostgreSQL).

Timed per query, ``--repeat`` times, as a signed-out visitor reads: the help center's search
(``match="all"``, 20 results, the portal's page size asks for 100: both shown) for short queries,
and the new-ticket suggestions (``match="any"``, 5 results) for real customer first turns from
ABCD conversations and Banking77. Baseline: every word ``icontains`` the folded title or body
(AND for search, OR for suggestions), public articles, first rows by id: no ranking, so it does
strictly less work than the real search. Each database runs in a child process.
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
from pathlib import Path
from typing import Any

from search_bench import _data_dir, _pct, _time
from timer_bench import _recreate_database

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "src" / "flowdesk" / "knowledge" / "fixtures"
SEARCHES = ["refund", "password", "reset password", "shipping status", "promo code",
            "membership", "paano i-reset", "mabawi username", "pagkakakilanlan", "zip code",
            "subscr"]  # fmt: skip
VARIANTS = ["guide", "help", "steps", "faq", "policy", "tips", "notes", "basics", "update"]


def _utterances() -> tuple[list[str], list[str]]:
    """Customer texts for bodies, and the suggestion queries: first customer turns of the ABCD
    conversations (after greetings) and a sample of Banking77 test queries."""
    data = _data_dir()
    with open(data / "banking77" / "train.csv", encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    with open(data / "mendeley-helpdesk-tickets" / "sample_utterances.csv", encoding="utf-8") as f:
        texts += [r["actionbody"] for r in csv.DictReader(f) if len(r["actionbody"]) > 20]
    with open(data / "abcd" / "abcd_sample.json", encoding="utf-8") as f:
        convos = json.load(f)
    turns = [[t[1] for t in c["original"] if t[0] == "customer"] for c in convos]
    abcd = [next(t for t in ts if len(t.split()) > 4) for ts in turns]
    with open(data / "banking77" / "test.csv", encoding="utf-8") as f:
        tests = [r["text"] for r in csv.DictReader(f)]
    return texts, abcd + random.Random(3).sample(tests, 7)


def _seed(n: int) -> None:
    import yaml
    from django.db import transaction

    from flowdesk.core.clock import utcnow
    from flowdesk.knowledge.models import Article, ArticleTranslation, Category
    from flowdesk.knowledge.text import html_to_text, index_text, render_markdown

    kb = json.loads((FIXTURES / "abcd_kb.json").read_text(encoding="utf-8"))
    fil = {a["slug"]: a["translations"]["fil"] for a in yaml.safe_load(
        (FIXTURES / "fil.yaml").read_text(encoding="utf-8"))["articles"]}  # fmt: skip
    categories = {c["slug"]: Category.objects.create(slug=c["slug"], name=c["name"])
                  for c in kb["categories"]}  # fmt: skip
    source = kb["articles"]
    texts, _ = _utterances()
    rnd = random.Random(7)
    now = utcnow()
    batch = 500
    for start in range(0, n, batch):
        with transaction.atomic():
            made = Article.objects.bulk_create(
                Article(
                    category=categories[source[i % len(source)]["category"]],
                    slug=f"{source[i % len(source)]['slug']}-{i}",
                    visibility="public",
                )
                for i in range(start, min(n, start + batch))
            )
            rows = []
            for i, article in enumerate(made, start):
                base = source[i % len(source)]
                others = [rnd.choice(source)["translations"]["en"]["body"] for _ in range(2)]
                said = "\n\n".join(" ".join(rnd.choice(texts) for _ in range(8)) for _ in range(5))
                en = base["translations"]["en"]
                body = "\n\n".join([en["body"], *others, said])
                docs = {"en": (f"{en['title']} {rnd.choice(VARIANTS)}", body)}
                if base["slug"] in fil:
                    docs["fil"] = (fil[base["slug"]]["title"], fil[base["slug"]]["body"] + said)
                for lang, (title, body) in docs.items():
                    body_html = render_markdown(body)
                    rows.append(
                        ArticleTranslation(
                            article=article,
                            language=lang,
                            title=title,
                            body=body,
                            body_html=body_html,
                            search_title=index_text(title),
                            search_body=index_text(html_to_text(body_html)),
                            updated_at=now,
                        )
                    )
            ArticleTranslation.objects.bulk_create(rows)


def _baseline(q: str, match: str, limit: int) -> list[Any]:
    from django.db.models import Q

    from flowdesk.knowledge.models import ArticleTranslation
    from flowdesk.knowledge.search import query_terms

    cond = Q()
    for word in query_terms(q, "all" if match == "all" else "any"):
        one = Q(search_title__icontains=word) | Q(search_body__icontains=word)
        cond = (cond & one) if match == "all" else (cond | one)
    qs = ArticleTranslation.objects.filter(cond, article__visibility="public")
    return list(qs.order_by("id").values_list("id", "title")[:limit])


def run_one(kind: str, url: str, articles: int, repeat: int) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="flowdesk-kb-bench-")
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
    from django.db import connection

    from flowdesk.knowledge.models import ArticleTranslation
    from flowdesk.knowledge.search import search

    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    _seed(articles)
    seeded = time.perf_counter() - t
    if kind == "postgres":
        with connection.cursor() as cursor:
            # After a bulk load the GIN index's pending list is long and the planner scans the
            # table; autovacuum would soon flush it, the benchmark does it at once.
            cursor.execute("VACUUM ANALYZE")
    rows = ArticleTranslation.objects.count()
    words = sum(len(b.split()) for b in ArticleTranslation.objects.values_list(
        "search_body", flat=True)[:500]) // 500  # fmt: skip
    _, suggestions = _utterances()
    queries = [(q, "all", 20) for q in SEARCHES] + [("refund", "all", 100)]
    queries += [(q, "any", 5) for q in suggestions]
    out = []
    for q, match, limit in queries:
        hits = search(q, user=None, limit=limit, match=match)  # type: ignore[arg-type]

        def real(q: str = q, match: Any = match, limit: int = limit) -> None:
            search(q, user=None, limit=limit, match=match)

        def naive(q: str = q, match: str = match, limit: int = limit) -> None:
            _baseline(q, match, limit)

        fts = [_time(real) for _ in range(repeat)]
        like = [_time(naive) for _ in range(max(3, repeat // 4))]
        out.append(
            {"q": q, "match": match, "limit": limit, "hits": len(hits), "p50": _pct(fts, 50),
             "p95": _pct(fts, 95), "like_p50": _pct(like, 50), "like_p95": _pct(like, 95)}
        )  # fmt: skip
    tmp.cleanup()
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    return {"database": name, "rows": rows, "words": words, "seed_s": round(seeded, 1),
            "queries": out}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/flowdesk_kb_bench")
    p.add_argument("--only", choices=["sqlite", "postgres"])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_one(args.only, args.database, args.articles, args.repeat)))
        return
    for kind in [args.only] if args.only else ["sqlite", "postgres"]:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--only",
            kind,
            "--articles",
            str(args.articles),
        ]
        cmd += ["--repeat", str(args.repeat), "--database", args.database]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True)
                       .stdout.strip().splitlines()[-1])  # fmt: skip
        print(f"\n{r['database']}: {args.articles:,} articles, {r['rows']:,} translations, "
              f"~{r['words']} words a body, seeded in {r['seed_s']} s")  # fmt: skip
        print("| query | kind | hits | search p50 / p95 | LIKE scan p50 / p95 | p50 ratio |")
        print("| --- | --- | ---: | --- | --- | ---: |")
        for x in r["queries"]:
            kind_ = f"search {x['limit']}" if x["match"] == "all" else "suggest 5"
            print(f"| {x['q'][:60]} | {kind_} | {x['hits']} | {x['p50']:.1f} / {x['p95']:.1f} ms "
                  f"| {x['like_p50']:.0f} / {x['like_p95']:.0f} ms "
                  f"| {x['like_p50'] / max(x['p50'], 0.001):.1f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
