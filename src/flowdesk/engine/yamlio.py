"""Rules as YAML: load with line numbers for every node, dump the normalised definition.

Lines come from PyYAML's composed node tree (a path -> line map), so every compile issue points at
the line of the offending node, or of the key itself for unknown keys.
"""

from __future__ import annotations

from typing import Any

import yaml

from .catalog import Catalog
from .compile import CompiledRuleSet, compile_ruleset, join
from .errors import Issue, RuleSetError


def line_map(text: str) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Path -> 1-based line of the value node (``path#key`` -> line of the key); duplicate keys."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []
    if root is None:
        return lines, dups

    def walk(node: yaml.Node, path: str) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                sub = join(path, key)
                if key in seen:
                    dups.append((sub, key_node.start_mark.line + 1))
                seen.add(key)
                lines[sub + "#key"] = key_node.start_mark.line + 1
                walk(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, join(path, i))

    walk(root, "")
    return lines, dups


def load_ruleset_yaml(text: str, *, catalog: Catalog, source: str = "<yaml>") -> CompiledRuleSet:
    """Parse and compile; YAML syntax errors and duplicate keys become issues with lines."""
    try:
        lines, dups = line_map(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleSetError(
            [Issue(source, None, "", line, f"YAML syntax error: {problem}")]
        ) from None
    issues = [Issue(source, None, path, line, "duplicate key") for path, line in dups]
    try:
        compiled = compile_ruleset(data, catalog=catalog, source=source, lines=lines)
    except RuleSetError as exc:
        raise RuleSetError(issues + exc.issues) from None
    if issues:
        raise RuleSetError(issues)
    return compiled


def dump_ruleset_yaml(definition: dict[str, Any]) -> str:
    """YAML text of a (normalised) definition; loads back to the same definition."""
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, default_flow_style=False)
