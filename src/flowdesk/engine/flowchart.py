"""Rule sets as graphs: one rule (trigger -> conditions -> actions) or the whole set (rules and
the cascades between them), as JSON (nodes, edges) and as a mermaid ``flowchart`` definition.

A cascade edge A -> B says that a change A's actions make can make B fire in the same update
(docs/automation.md, "Rule studio"). It is computed from what the handlers declare, never from
names: ``Action.writes()`` / ``writes_members()`` for what A writes, ``Trigger.reads()`` /
``reads_members()`` and the condition leaves' fields / ``Operator.reads_members()`` for what B
reads, and ``Trigger.event_kinds`` for whether both can fire on one event at all.

Every label is data (rule names, values, regexes): ``mermaid_text`` escapes all but a few safe
characters as mermaid entity codes, so no label can end its quotes, open a node or a comment,
or carry HTML.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .tree import CompiledRule, CondGroup, CondLeaf, CondNode

if TYPE_CHECKING:
    from .compile import CompiledRuleSet

#: characters a label keeps as they are; every other one becomes an entity code (``#35;``)
SAFE = frozenset(" .,:_-/=+*?!@'()")
#: a label longer than this is cut (with an ellipsis): a 2,000-character regex is no diagram
LABEL_MAX = 120
#: neighbours a one-rule chart shows on each side (the JSON counts them all)
NEIGHBOURS_MAX = 20
GROUP_WORDS = {"all": "all of", "any": "any of", "none": "none of"}
ALL_KINDS = frozenset({"created", "updated", "timer"})

#: field -> the members read or written (None: any member, or a field that has none)
Touches = dict[str, frozenset[str] | None]


def clip(text: str, limit: int = LABEL_MAX) -> str:
    """One line, at most ``limit`` characters: whitespace runs (newlines too) become a space."""
    one = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return one if len(one) <= limit else one[: limit - 1] + "\u2026"


def mermaid_text(text: str) -> str:
    """``text`` as the inside of a quoted mermaid label: letters, digits and ``SAFE`` stay,
    anything else (quotes, brackets, ``#``, ``<``, ``;``, ``|``, ``%``, backticks ...) is an
    entity code, which mermaid shows as the character and never parses."""
    return "".join(c if c.isalnum() or c in SAFE else f"#{ord(c)};" for c in clip(text))


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # rule | trigger | group | condition | action | neighbour
    label: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, **self.data}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # trigger | condition | match | then | cascade
    label: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "label": self.label,
            **self.data,
        }


#: node kind -> mermaid shape (open, close) around the quoted label
SHAPES = {
    "rule": ("[", "]"),
    "trigger": ("([", "])"),
    "group": ("{", "}"),
    "condition": ("[", "]"),
    "action": ("[/", "/]"),
    "neighbour": ("(", ")"),
}
#: edge kind -> mermaid arrow
ARROWS = {"trigger": "-->", "condition": "---", "match": "-->", "then": "-->", "cascade": "-.->"}
CLASSES = (
    "classDef time stroke-dasharray:4 3,stroke-width:2px",
    "classDef disabled opacity:0.5,stroke-dasharray:2 2",
)


@dataclass(frozen=True)
class Flowchart:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    direction: str = "TD"

    def mermaid(self) -> str:
        lines = [f"flowchart {self.direction}"]
        for n in self.nodes:
            open_, close = SHAPES[n.kind]
            lines.append(f'  {n.id}{open_}"{mermaid_text(n.label)}"{close}')
        for e in self.edges:
            arrow = ARROWS[e.kind]
            text = f'|"{mermaid_text(e.label)}"|' if e.label else ""
            lines.append(f"  {e.source} {arrow}{text} {e.target}")
        lines += [f"  {c}" for c in CLASSES]
        for cls in ("time", "disabled"):
            ids = [n.id for n in self.nodes if n.data.get(cls)]
            if ids:
                lines.append(f"  class {','.join(ids)} {cls}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mermaid": self.mermaid(),
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }


# -- what rules read and write ------------------------------------------------------------


def _merge(into: Touches, key: str, members: frozenset[str] | None) -> None:
    if key not in into:
        into[key] = members
        return
    held = into[key]
    into[key] = None if held is None or members is None else held | members


def _leaves(node: CondNode | None) -> Iterator[CondLeaf]:
    if node is None:
        return
    if isinstance(node, CondLeaf):
        yield node
        return
    for child in node.children:
        yield from _leaves(child)


def rule_reads(rule: CompiledRule) -> Touches:
    """The fields (and members of set-valued ones) whose change can make ``rule`` fire."""
    out: Touches = {}
    for t in rule.triggers:
        for f in sorted(t.reads()):
            _merge(out, f, t.reads_members())
    for leaf in _leaves(rule.conditions):
        _merge(out, leaf.field, leaf.op.reads_members())
    return out


def rule_writes(rule: CompiledRule) -> Touches:
    """The fields (and members of set-valued ones) ``rule``'s actions may change."""
    out: Touches = {}
    for a in rule.actions:
        for f in a.writes():
            _merge(out, f, a.writes_members(f))
    return out


def rule_event_kinds(rule: CompiledRule) -> frozenset[str]:
    kinds: frozenset[str] = frozenset()
    for t in rule.triggers:
        kinds |= t.event_kinds
    return kinds


def is_time_rule(rule: CompiledRule) -> bool:
    return any(t.time_based for t in rule.triggers)


def _overlap(writes: frozenset[str] | None, reads: frozenset[str] | None) -> list[str] | None:
    """The members both sides name ([]: any member), or None when they share none."""
    if writes is None:
        return [] if reads is None else sorted(reads)
    if reads is None:
        return sorted(writes)
    common = writes & reads
    return sorted(common) if common else None


def _key_label(field_name: str, members: list[str]) -> str:
    return f"{field_name}: {', '.join(members)}" if members else field_name


@dataclass(frozen=True)
class Cascade:
    source: CompiledRule
    target: CompiledRule
    keys: tuple[str, ...]  # "priority", "tags: billing", ...


class _Readers:
    """Who reads what, indexed once: the edges of one writer cost its readers, not all rules."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.reads = {r.index: rule_reads(r) for r in self.rules}
        self.kinds = {r.index: rule_event_kinds(r) for r in self.rules}
        self.by_field: dict[str, list[CompiledRule]] = defaultdict(list)
        for r in self.rules:
            for f in self.reads[r.index]:
                self.by_field[f].append(r)

    def from_rule(self, rule: CompiledRule) -> list[Cascade]:
        if not rule.enabled:
            return []
        kinds = rule_event_kinds(rule)
        found: dict[int, list[str]] = {}
        for f, members in rule_writes(rule).items():
            for reader in self.by_field.get(f, ()):
                if reader.index == rule.index or not kinds & self.kinds[reader.index]:
                    continue  # a rule fires once per update; no common event, no cascade
                common = _overlap(members, self.reads[reader.index][f])
                if common is not None:
                    found.setdefault(reader.index, []).append(_key_label(f, common))
        by_index = {r.index: r for r in self.rules}
        return [Cascade(rule, by_index[i], tuple(found[i])) for i in sorted(found)]


def cascades(ruleset: CompiledRuleSet) -> list[Cascade]:
    """Every cascade edge of the set, by source then target in rule order."""
    readers = _Readers(ruleset.rules)
    return [c for r in ruleset.rules for c in readers.from_rule(r)]


# -- the charts ---------------------------------------------------------------------------


def _triggers_text(rule: CompiledRule) -> str:
    return ", ".join(t.name for t in rule.triggers)


def _rule_node(rule: CompiledRule, node_id: str, kind: str = "rule") -> Node:
    data = {
        "rule": rule.name,
        "index": rule.index,
        "enabled": rule.enabled,
        "time": is_time_rule(rule),
        "disabled": not rule.enabled,
        "triggers": [t.name for t in rule.triggers],
        "event_kinds": sorted(rule_event_kinds(rule)),
    }
    prefix = "time rule: " if data["time"] else ""
    return Node(node_id, kind, f"{prefix}{rule.name} ({_triggers_text(rule)})", data)


def ruleset_flowchart(ruleset: CompiledRuleSet) -> Flowchart:
    """One node per rule (time rules and disabled ones marked) and the cascade edges."""
    nodes = tuple(_rule_node(r, f"r{r.index}") for r in ruleset.rules)
    edges = tuple(
        Edge(
            f"r{c.source.index}",
            f"r{c.target.index}",
            "cascade",
            " + ".join(c.keys),
            {"from_rule": c.source.name, "to_rule": c.target.name, "keys": list(c.keys)},
        )
        for c in cascades(ruleset)
    )
    return Flowchart(nodes, edges)


def _config_text(normalised: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in normalised.items() if k != "type")


class _RuleChart:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []

    def condition(self, node: CondNode, number: list[int]) -> str:
        node_id = f"c{number[0]}"
        number[0] += 1
        if isinstance(node, CondGroup):
            label = f"{GROUP_WORDS[node.kind]} ({len(node.children)})"
            self.nodes.append(Node(node_id, "group", label, {"path": node.path, "op": node.kind}))
            for child in node.children:
                self.edges.append(Edge(node_id, self.condition(child, number), "condition"))
            return node_id
        data = {"path": node.path, "field": node.field, "op": node.op.name}
        label = f"{node.field} {node.op.expected()}"
        self.nodes.append(Node(node_id, "condition", label, data))
        return node_id


def rule_flowchart(ruleset: CompiledRuleSet, name: str) -> Flowchart:
    """One rule: its triggers, its condition tree (groups and leaves), its actions in order,
    and the rules it can cascade from and into (up to NEIGHBOURS_MAX each side)."""
    rule = ruleset.by_name[name]
    chart = _RuleChart()
    for i, t in enumerate(rule.triggers):
        data = {"trigger": t.name, "time": t.time_based, "config": t.normalised()}
        chart.nodes.append(Node(f"t{i}", "trigger", t.describe(), data))
    entry = [f"t{i}" for i in range(len(rule.triggers))]
    if rule.conditions is not None:
        root = chart.condition(rule.conditions, [0])
        chart.edges += [Edge(t, root, "trigger") for t in entry]
        entry = [root]
    for i, a in enumerate(rule.actions):
        normalised = a.normalised()
        text = _config_text(normalised)
        label = f"{a.name}: {text}" if text else a.name
        chart.nodes.append(Node(f"a{i}", "action", label, {"action": a.name, "config": normalised}))
        kind = "then" if i else ("match" if rule.conditions is not None else "trigger")
        chart.edges += [
            Edge(src, f"a{i}", kind, "match" if kind == "match" else "") for src in entry
        ]
        entry = [f"a{i}"]
    from_, into = _links(_Readers(ruleset.rules), ruleset, rule)
    anchor = "t0" if rule.triggers else entry[0]
    last = entry[-1] if entry else anchor
    for side, found in (("from", from_), ("to", into)):
        for c in found[:NEIGHBOURS_MAX]:
            other = c.source if side == "from" else c.target
            node = _rule_node(other, f"n{side}{other.index}", "neighbour")
            chart.nodes.append(node)
            data = {"from_rule": c.source.name, "to_rule": c.target.name, "keys": list(c.keys)}
            src, dst = (node.id, anchor) if side == "from" else (last, node.id)
            chart.edges.append(Edge(src, dst, "cascade", " + ".join(c.keys), data))
    return Flowchart(tuple(chart.nodes), tuple(chart.edges), "LR")


def _links(
    readers: _Readers, ruleset: CompiledRuleSet, rule: CompiledRule
) -> tuple[list[Cascade], list[Cascade]]:
    """The cascade edges into ``rule`` and out of it."""
    from_ = [c for r in ruleset.rules for c in readers.from_rule(r) if c.target is rule]
    return from_, readers.from_rule(rule)


def neighbours(ruleset: CompiledRuleSet, name: str) -> dict[str, list[str]]:
    """The names of the rules ``name`` can cascade from and into (all of them)."""
    from_, into = _links(_Readers(ruleset.rules), ruleset, ruleset.by_name[name])
    return {
        "cascades_from": [c.source.name for c in from_],
        "cascades_to": [c.target.name for c in into],
    }
