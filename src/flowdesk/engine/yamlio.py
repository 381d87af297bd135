"""Rules as YAML: load with line numbers for every node, dump the normalised definition.

Lines come from PyYAML's composed node tree (a path -> line map), so every compile issue points at
the line of the offending node, or of the key itself for unknown keys. PyYAML composes and
constructs recursively, so the nesting is checked first on the event stream, which its parser
produces with an explicit stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from .catalog import Catalog
from .compile import CompiledRuleSet, compile_ruleset, join
from .errors import Issue, RuleSetError
from .limits import MAX_NESTING, too_deep_message

# libyaml's parser when PyYAML has it (the check then costs next to nothing), else PyYAML's own.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
# libyaml's emitter likewise (about 10x faster than PyYAML's for a large rule set).
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def check_yaml_nesting(text: str, *, source: str, limit: int = MAX_NESTING) -> None:
    """Raise RuleSetError at the line of the first mapping/list nested deeper than ``limit``
    levels, counting what aliases repeat; an alias inside the node it names is refused too.
    A syntax error raises yaml.YAMLError, as PyYAML's own parser reports it."""
    if _FAST_LOADER is not None:
        try:
            _walk_events(yaml.parse(text, Loader=_FAST_LOADER), source, limit)
            return
        except yaml.YAMLError:
            pass  # libyaml words errors (and limits depth) differently: let PyYAML say it
    _walk_events(yaml.parse(text, Loader=yaml.SafeLoader), source, limit)


def _walk_events(events: Iterator[yaml.Event], source: str, limit: int) -> None:
    open_nodes: list[list[Any]] = []  # per open collection: [anchor, height of its children]
    heights: dict[str, int] = {}  # anchor -> levels of the node it names

    def fail(event: yaml.Event, message: str) -> RuleSetError:
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        return RuleSetError([Issue(source, None, "", line, message)])

    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append([event.anchor, 0])
            if len(open_nodes) > limit:
                raise fail(event, too_deep_message(limit))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, height = open_nodes.pop()
            if anchor is not None:
                heights[anchor] = height + 1
            if open_nodes:
                open_nodes[-1][1] = max(open_nodes[-1][1], height + 1)
        elif isinstance(event, yaml.AliasEvent):
            if any(node[0] == event.anchor for node in open_nodes):
                raise fail(event, f"alias *{event.anchor} is inside the node it names")
            height = heights.get(str(event.anchor), 0)
            if len(open_nodes) + height > limit:
                raise fail(event, too_deep_message(limit) + f", through alias *{event.anchor}")
            if open_nodes:
                open_nodes[-1][1] = max(open_nodes[-1][1], height)


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
        check_yaml_nesting(text, source=source)
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
        compiled = compile_ruleset(data, catalog=catalog, source=source, lines=lines, consume=True)
    except RuleSetError as exc:
        raise RuleSetError(issues + exc.issues) from None
    if issues:
        raise RuleSetError(issues)
    return compiled


def dump_ruleset_yaml(definition: dict[str, Any]) -> str:
    """YAML text of a (normalised) definition; loads back to the same definition.

    Written one top-level key and one rule at a time: PyYAML represents the whole document as
    nodes before emitting any (50,000 rules: 900 MB for 24 MB of text), and the entries of a
    block mapping and the items of a block sequence are emitted independently, so the text is
    the same (a test compares both)."""
    parts: list[str] = []
    for key, value in definition.items():
        if key == "rules" and isinstance(value, list) and value:
            parts.append("rules:\n")
            parts += [_dump([rule]) for rule in value]
        else:
            parts.append(_dump({key: value}))
    return "".join(parts)


def _dump(data: Any) -> str:
    text: str = yaml.dump(
        data,
        Dumper=_DUMPER,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
    return text
