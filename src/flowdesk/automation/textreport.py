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
