"""What changed between two stored rule-set versions: a unified diff of their YAML exports and a
summary by rule name (added, removed, changed, moved) and by template name."""

from __future__ import annotations

import difflib
from itertools import islice
from typing import Any

from flowdesk.automation.models import RuleSetVersion
from flowdesk.engine import dump_ruleset_yaml

#: diff lines answered at most (the summary always covers every rule)
DIFF_LINES_MAX = 20_000


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {r.get("name", ""): r for r in items if isinstance(r, dict)}


def _compare(old: dict[str, Any], new: dict[str, Any], order: list[str]) -> dict[str, list[str]]:
    return {
        "added": [n for n in order if n in new and n not in old],
        "removed": [n for n in old if n not in new],
        "changed": [n for n in order if n in old and n in new and old[n] != new[n]],
    }


def _moved(old_names: list[str], new_names: list[str]) -> list[str]:
    """Rules kept in both whose place among the kept rules changed (rule order matters: later
    rules see earlier rules' changes)."""
    kept = set(old_names) & set(new_names)
    before = [n for n in old_names if n in kept]
    after = [n for n in new_names if n in kept]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    stayed = {
        n for block in matcher.get_matching_blocks() for n in after[block.b : block.b + block.size]
    }
    return [n for n in after if n not in stayed]


def version_diff(old: RuleSetVersion, new: RuleSetVersion, *, context: int = 3) -> dict[str, Any]:
    """``old`` -> ``new`` (either may be the newer one)."""
    a, b = old.definition, new.definition
    rules_a, rules_b = a.get("rules", []), b.get("rules", [])
    names_a = [r.get("name", "") for r in rules_a]
    names_b = [r.get("name", "") for r in rules_b]
    rules = _compare(_by_name(rules_a), _by_name(rules_b), names_b)
    templates_a, templates_b = a.get("templates") or {}, b.get("templates") or {}
    templates = _compare(templates_a, templates_b, list(templates_b))
    lines = difflib.unified_diff(
        dump_ruleset_yaml(a).splitlines(keepends=True),
        dump_ruleset_yaml(b).splitlines(keepends=True),
        fromfile=f"v{old.number}",
        tofile=f"v{new.number}",
        n=context,
    )
    shown = list(islice(lines, DIFF_LINES_MAX + 1))
    truncated = len(shown) > DIFF_LINES_MAX
    return {
        "rules": {**rules, "moved": _moved(names_a, names_b)},
        "templates": templates,
        "identical": not shown,
        "diff": "".join(shown[:DIFF_LINES_MAX]),
        "diff_truncated": truncated,
    }
