"""Plain-text rendering of an explanation for the terminal (`flowdesk rules explain/dry-run`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def _v(value: Any) -> str:
    return json.dumps(value, default=str)


def explanation_lines(ex: dict[str, Any]) -> Iterator[str]:
    if "ruleset" in ex:
        yield f"rule set: {ex['ruleset']}"
    for rule in ex.get("rules", []):
        mark = "fired  " if rule.get("fired") else "-      "
        yield f"  {mark}{rule['name']}: {rule.get('reason', '')}"
        for field, (old, new) in (rule.get("changes") or {}).items():
            yield f"           {field}: {_v(old)} -> {_v(new)}"
        for effect in rule.get("effects") or []:
            yield f"           + {effect['type']}"
        if rule.get("caused_by"):
            yield f"           (because of {', '.join(rule['caused_by'])})"
    counts = ex.get("counts") or {}
    if counts:
        yield (
            f"rules: {counts.get('total', 0)}: {counts.get('fired', 0)} fired, "
            f"{counts.get('missed', 0)} triggered but did not match, "
            f"{counts.get('not_triggered', 0)} not triggered, {counts.get('disabled', 0)} disabled"
            + (f", {counts['not_evaluated']} not evaluated" if counts.get("not_evaluated") else "")
        )
        if not ex.get("full", True):
            listed = counts.get("listed_misses", 0)
            yield f"  (the {listed} closest misses are listed; --full lists every rule)"
    yield f"cascade: {ex.get('termination', '')}"
    for conflict in ex.get("conflicts", []):
        writes = ", ".join(f"{r} -> {_v(v)}" for r, v in conflict["writes"])
        yield f"conflict on {conflict['field']}: {writes}"
    for item in ex.get("suppressed", []):
        yield f"note: {item['sentence']}"
    for error in ex.get("errors", []):
        yield f"error in {error['rule']}: {error['message']}"


def backtest_lines(result: dict[str, Any]) -> Iterator[str]:
    """`flowdesk rules backtest`: one line per rule, then a few sample update references."""
    stop = "the limit" if result["stopped_by"] == "limit" else "the start of the window"
    yield (
        f"scanned {result['scanned']} update(s) of the last {result['days']} day(s), newest "
        f"first, up to {stop} (limit {result['limit']}); "
        f"{result['differing_updates']} would fire differently"
    )
    for r in result["rules"]:
        kind = " (time rule)" if r["time_rule"] else ""
        kind += "" if r["in_candidate"] else " (not in the candidate)"
        yield (
            f"  {r['rule']}{kind}: would fire {r['would_fire']}, fired {r['actually_fired']} "
            f"(+{r['only_backtest']} new, -{r['only_actual']} no longer)"
            + (f", {r['errors']} error(s)" if r["errors"] else "")
        )
        for which in ("only_backtest", "only_actual"):
            refs = r["samples"][which]
            if refs:
                sign = "+" if which == "only_backtest" else "-"
                shown = ", ".join(f"#{s['ticket_id']}/u{s['update_id']}" for s in refs)
                yield f"      {sign} {shown}"
