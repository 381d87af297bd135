"""Input limits checked without recursion, before anything recursive touches the input.

Rule sets, snapshots and events are nested data; the compiler, the YAML composer, ``json`` and
pydantic all recurse over it, so data nested deeply enough ends in ``RecursionError``. Every entry
point checks the nesting here first, with an explicit stack, and reports the path of the first
container past the limit instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import RuleSetError

#: How many levels of mappings/lists a rule set, snapshot or event may nest (the value itself is
#: level 1). Real rule sets use about ten; condition groups nest two levels per group.
MAX_NESTING = 64


def nesting_path(value: Any, limit: int = MAX_NESTING) -> list[str | int] | None:
    """The path (keys and indexes) of the first container nested deeper than ``limit`` levels,
    else None. Iterative; a container reached again at a depth it was already checked at (YAML
    aliases share nodes) is not walked again, and a cycle ends at the limit."""
    seen: dict[int, int] = {}
    stack: list[tuple[Any, int, list[str | int]]] = [(value, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, Mapping):
            children: list[tuple[str | int, Any]] = [(str(k), v) for k, v in node.items()]
        elif isinstance(node, list | tuple):
            children = list(enumerate(node))
        else:
            continue
        if depth > limit:
            return path
        if seen.get(id(node), 0) >= depth:
            continue
        seen[id(node)] = depth
        # Reversed, so the first child is checked first and the first offender is reported.
        stack.extend(
            (child, depth + 1, [*path, key])
            for key, child in reversed(children)
            if isinstance(child, Mapping | list | tuple)
        )
    return None


def format_path(parts: list[str | int]) -> str:
    """``["rules", 0, "conditions"]`` -> ``rules[0].conditions`` (the engine's path format)."""
    from .compile import join

    path = ""
    for part in parts:
        path = join(path, part)
    return path


def too_deep_message(limit: int = MAX_NESTING) -> str:
    return f"nested deeper than {limit} levels (the limit for mappings and lists)"


def check_nesting(
    value: Any,
    error: Callable[[str, str], Exception],
    *,
    levels_above: int = 0,
    limit: int = MAX_NESTING,
) -> None:
    """Raise ``error(path, message)`` when ``value`` nests too deeply. ``levels_above`` is how many
    levels of ``value`` are an envelope around the checked values (a request object: 1)."""
    parts = nesting_path(value, limit + levels_above)
    if parts is not None:
        raise error(format_path(parts), too_deep_message(limit))


def check_ruleset_nesting(data: Any, source: str, lines: Mapping[str, int] | None = None) -> None:
    """Raise RuleSetError when a rule-set definition nests deeper than MAX_NESTING levels."""
    from .compile import Collector

    def issue(path: str, message: str) -> RuleSetError:
        col = Collector(source, lines)
        col.add(None, "", path, message)
        return RuleSetError(col.issues)

    check_nesting(data, issue)


_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}\n]')


def json_nesting_position(text: str, limit: int = MAX_NESTING) -> tuple[int, int] | None:
    """(line, column), 1-based, of the first bracket that opens level ``limit + 1`` of JSON text,
    else None. For text too deep for ``json.loads`` itself, so it scans and never parses."""
    depth = 0
    line, line_start = 1, 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token == "\n":
            line, line_start = line + 1, match.end()
        elif token in "[{":
            depth += 1
            if depth > limit:
                return line, match.start() - line_start + 1
        elif token in "]}":
            depth -= 1
    return None
