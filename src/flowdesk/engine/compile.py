"""Validation and compilation of a rule set: everything is checked and built here, once.

The walk is hand-written rather than one big pydantic model so that it can collect *all* problems,
give each a path inside its rule and a line, and suggest the closest name for every typo. Handler
configs are still pydantic models (one per handler), validated here piece by piece.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .actions import ACTIONS, Action
from .catalog import Catalog
from .conditions import CONDITION_OPERATORS, Operator, operators_for_kind
from .context import EngineContext
from .errors import Issue, RuleSetError
from .limits import check_ruleset_nesting
from .suggest import closest
from .tree import CompiledRule, CondGroup, CondLeaf, CondNode, Shared
from .triggers import TRIGGERS, Trigger
from .types import Event, Snapshot, TriggerContext

if TYPE_CHECKING:
    from .matcher import Matcher

TOP_KEYS = ("version", "templates", "rules")
RULE_KEYS = ("name", "description", "enabled", "triggers", "conditions", "actions")
TEMPLATE_KEYS = ("subject", "body")
GROUP_KEYS = ("all", "any", "none")
SUPPORTED_VERSIONS = (1,)


def join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


class Collector:
    """Accumulates issues, resolving YAML lines from full paths (nearest known ancestor)."""

    def __init__(self, source: str, lines: Mapping[str, int] | None) -> None:
        self.source = source
        self.lines = lines or {}
        self.issues: list[Issue] = []

    def line_of(self, full: str, key: bool = False) -> int | None:
        if key and full + "#key" in self.lines:
            return self.lines[full + "#key"]
        probe = full
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""

    def add(
        self,
        rule: str | None,
        prefix: str,
        path: str,
        message: str,
        suggestion: str | None = None,
        key: bool = False,
    ) -> None:
        full = join(prefix, path) if path else prefix
        line = self.line_of(full, key)
        self.issues.append(Issue(self.source, rule, path, line, message, suggestion))


def _unknown_keys(
    col: Collector,
    rule: str | None,
    prefix: str,
    path: str,
    data: Mapping[str, Any],
    allowed: tuple[str, ...],
) -> None:
    for k in data:
        if k not in allowed:
            hint = closest(str(k), allowed)
            col.add(rule, prefix, join(path, str(k)), f"unknown key {k!r}", hint, key=True)


def own(value: Any) -> Any:
    """A copy of a JSON-like value whose strings, lists and mappings are new objects.

    What the compiled set keeps must not be the caller's parsed JSON: one kept string (a rule
    name, a needle) pins the whole 1 MiB allocator arena it lives in, so the parsed definition
    (136 MB for 50,000 rules) stayed resident after it was dropped. Copies made here are
    allocated among the compiled set's own objects instead."""
    if type(value) is str:
        return value[:1] + value[1:] if len(value) > 1 else value  # 1 char: a shared singleton
    if isinstance(value, Mapping):
        return {own(k): own(v) for k, v in value.items()}
    if isinstance(value, list):
        return [own(v) for v in value]
    return value


def _validate_config(
    col: Collector,
    rule: str | None,
    prefix: str,
    path: str,
    model: type[BaseModel],
    data: Mapping[str, Any],
) -> BaseModel | None:
    try:
        return model.model_validate(own(dict(data)))
    except ValidationError as exc:
        names = set(model.model_fields) | {
            f.alias for f in model.model_fields.values() if f.alias is not None
        }
        for err in exc.errors():
            loc = [p for p in err["loc"] if p != "__root__"]
            sub = path
            for part in loc:
                sub = join(sub, part if isinstance(part, int) else str(part))
            if err["type"] == "extra_forbidden":
                name = str(loc[-1])
                col.add(rule, prefix, sub, f"unknown key {name!r}", closest(name, names), key=True)
            elif err["type"] == "missing":
                col.add(rule, prefix, sub, f"missing required key {loc[-1]!r}")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                col.add(rule, prefix, sub, msg)
        return None


def freeze(value: Any) -> str:
    """A key for a raw JSON-like item: its ``repr``, which tells apart what validation could tell
    apart (``1`` from ``1.0`` and ``True``, a date from its ISO text, a list from a mapping, an
    int key from a text key). Equal items written in another key order only miss the cache."""
    return repr(value)


class RuleCompiler:
    """Validates and builds one rule set's handlers.

    Handlers are immutable once built, so equal ones are shared: a condition, trigger or action
    whose raw definition equals an earlier *valid* one reuses that instance (and its pydantic
    config) instead of validating and building it again. In generated rule sets most of the
    ~1.2 million handler and config objects of 50,000 rules are such repeats. Invalid ones are
    never cached, so every problem is still reported at its own path.
    """

    def __init__(self, catalog: Catalog, col: Collector, templates: Mapping[str, Any]) -> None:
        self.catalog = catalog
        self.col = col
        self.templates = templates
        self._ops: dict[str, Operator[Any]] = {}
        self._triggers: dict[str, Trigger[Any]] = {}
        self._actions: dict[str, Action[Any]] = {}
        self._paths: dict[str, str] = {}  # "conditions.all[0]" is one string, not one per rule

    def path(self, text: str) -> str:
        return self._paths.setdefault(text, text)

    def triggers(self, label: str, prefix: str, raw: Any) -> tuple[Trigger[Any], ...] | None:
        if not isinstance(raw, list) or not raw:
            self.col.add(label, prefix, "triggers", "a rule needs at least one trigger (a list)")
            return None
        out: list[Trigger[Any]] = []
        ok = True
        for i, item in enumerate(raw):
            key = freeze(item)
            shared = self._triggers.get(key)
            if shared is not None:
                out.append(shared)
                continue
            path = f"triggers[{i}]"
            spec = {"type": item} if isinstance(item, str) else item
            t = self._handler(label, prefix, path, spec, TRIGGERS, "trigger")
            if t is None:
                ok = False
                continue
            cls, data = t
            cfg = _validate_config(self.col, label, prefix, path, cls.Config, data)
            if cfg is None:
                ok = False
                continue
            problems = cls.problems(self.catalog, cfg)
            for sub, msg, hint in problems:
                self.col.add(label, prefix, join(path, sub), msg, hint)
            if problems:
                ok = False
                continue
            trigger = self._triggers[key] = cls(cfg)
            out.append(trigger)
        return tuple(out) if ok else None

    def _handler(
        self, label: str, prefix: str, path: str, spec: Any, registry: Any, what: str
    ) -> tuple[Any, dict[str, Any]] | None:
        if not isinstance(spec, Mapping) or "type" not in spec:
            self.col.add(label, prefix, path, f"a {what} is a name or a mapping with 'type'")
            return None
        name = spec["type"]
        if name not in registry:
            self.col.add(
                label,
                prefix,
                join(path, "type"),
                f"unknown {what} type {name!r}",
                closest(str(name), registry.names()),
            )
            return None
        return registry.get(name), {k: v for k, v in spec.items() if k != "type"}

    def condition(self, label: str, prefix: str, path: str, raw: Any) -> CondNode | None:
        col = self.col
        if not isinstance(raw, Mapping):
            col.add(
                label,
                prefix,
                path,
                "a condition is a mapping: {field, op, value} or {all|any|none: [...]}",
            )
            return None
        groups = [k for k in raw if k in GROUP_KEYS]
        if groups:
            if len(raw) != 1:
                col.add(label, prefix, path, "a group has exactly one key: all, any or none")
                return None
            kind = groups[0]
            items = raw[kind]
            gpath = join(path, kind)
            if not isinstance(items, list) or not items:
                col.add(label, prefix, gpath, f"'{kind}' needs a non-empty list of conditions")
                return None
            children = [
                self.condition(label, prefix, join(gpath, i), c) for i, c in enumerate(items)
            ]
            if any(c is None for c in children):
                return None
            kids = tuple(c for c in children if c is not None)
            return CondGroup(path=self.path(path), kind=kind, children=kids)
        if "field" not in raw or "op" not in raw:
            hint = None
            for k in raw:
                hint = hint or closest(str(k), (*GROUP_KEYS, "field", "op", "value"))
            missing = "field" if "field" not in raw else "op"
            col.add(
                label, prefix, path, f"condition is missing {missing!r} (or is not a group)", hint
            )
            return None
        key = freeze(raw)
        shared = self._ops.get(key)
        if shared is not None:
            return CondLeaf(path=self.path(path), field=shared.fname, op=shared)
        fname, opname = raw["field"], raw["op"]
        spec = self.catalog.field(fname) if isinstance(fname, str) else None
        ok = True
        if spec is None:
            col.add(
                label,
                prefix,
                join(path, "field"),
                f"unknown field {fname!r}",
                self.catalog.suggest_field(str(fname)),
            )
            ok = False
        if not isinstance(opname, str) or opname not in CONDITION_OPERATORS:
            col.add(
                label,
                prefix,
                join(path, "op"),
                f"unknown operator {opname!r}",
                closest(str(opname), CONDITION_OPERATORS.names()),
            )
            return None
        cls = CONDITION_OPERATORS.get(opname)
        if spec is not None and spec.kind not in cls.kinds:
            allowed = ", ".join(operators_for_kind(spec.kind))
            col.add(
                label,
                prefix,
                join(path, "op"),
                f"operator {opname!r} cannot be used on field {fname!r} ({spec.kind}); "
                f"allowed: {allowed}",
            )
            ok = False
        rest = {k: v for k, v in raw.items() if k not in ("field", "op")}
        cfg = _validate_config(col, label, prefix, path, cls.Config, rest)
        if cfg is None or spec is None or not ok:
            return None
        problems = cls.problems(self.catalog, spec, cfg)
        for sub, msg, hint in problems:
            col.add(label, prefix, join(path, sub), msg, hint)
        if problems:
            return None
        op = self._ops[key] = cls(spec, cfg)
        return CondLeaf(path=self.path(path), field=op.fname, op=op)

    def actions(self, label: str, prefix: str, raw: Any) -> tuple[Action[Any], ...] | None:
        if not isinstance(raw, list) or not raw:
            self.col.add(label, prefix, "actions", "a rule needs at least one action (a list)")
            return None
        out: list[Action[Any]] = []
        ok = True
        for i, item in enumerate(raw):
            key = freeze(item)
            shared = self._actions.get(key)
            if shared is not None:
                out.append(shared)
                continue
            path = f"actions[{i}]"
            found = self._handler(label, prefix, path, item, ACTIONS, "action")
            if found is None:
                ok = False
                continue
            cls, data = found
            cfg = _validate_config(self.col, label, prefix, path, cls.Config, data)
            if cfg is None:
                ok = False
                continue
            problems = cls.problems(self.catalog, cfg, self.templates)
            for sub, msg, hint in problems:
                self.col.add(label, prefix, join(path, sub), msg, hint)
            if problems:
                ok = False
                continue
            action = self._actions[key] = cls(cfg)
            out.append(action)
        return tuple(out) if ok else None


def normalise_condition(node: CondNode) -> dict[str, Any]:
    return node.normalised()


def compile_ruleset(
    data: Any,
    *,
    catalog: Catalog,
    source: str = "<input>",
    lines: Mapping[str, int] | None = None,
    consume: bool = False,
    index: bool = True,
) -> CompiledRuleSet:
    """Validate and compile; raises RuleSetError listing every problem found.

    ``consume``: the caller hands ``data`` over, and ``data["rules"]`` is emptied once every rule
    is compiled (also on an error), so the parsed input is freed however many references to its
    list there are. Not rule by rule: the compiled objects would then be allocated in the input's
    freed memory, which could no longer be given back (at 50,000 rules, the input is 190 MB).

    ``index=False``: the index (``CompiledRuleSet.matcher``, about a third of the compiled set's
    memory and time) is built on first use or by ``index()``, e.g. once a validated set is
    stored, or never when it was only validated."""
    check_ruleset_nesting(data, source, lines)  # before anything below recurses into it
    col = Collector(source, lines)
    if not isinstance(data, Mapping):
        col.add(None, "", "", "a rule set is a mapping with 'version' and 'rules'")
        raise RuleSetError(col.issues)
    _unknown_keys(col, None, "", "", data, TOP_KEYS)
    version = data.get("version", 1)
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        col.add(None, "", "version", f"unsupported version {version!r} (supported: 1)")

    templates: dict[str, dict[str, str]] = {}
    raw_templates = data.get("templates") or {}
    if not isinstance(raw_templates, Mapping):
        col.add(None, "", "templates", "templates is a mapping: name -> {subject?, body}")
        raw_templates = {}
    for tname, tpl in raw_templates.items():
        tpath = join("templates", str(tname))
        if not isinstance(tpl, Mapping) or not isinstance(tpl.get("body"), str):
            col.add(None, "", tpath, "a template needs a 'body' (text) and optionally a 'subject'")
            continue
        _unknown_keys(col, None, "", tpath, tpl, TEMPLATE_KEYS)
        from .actions import placeholder_problems

        for key in TEMPLATE_KEYS:
            if key in tpl and not isinstance(tpl[key], str):
                col.add(None, "", join(tpath, key), f"template {key} must be text")
            for sub, msg, hint in placeholder_problems(catalog, tpl.get(key), key):
                col.add(None, "", join(tpath, sub), msg, hint)
        templates[own(str(tname))] = {k: own(tpl[k]) for k in TEMPLATE_KEYS if k in tpl}

    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        col.add(None, "", "rules", "'rules' must be a list")
        raw_rules = []
    compiler = RuleCompiler(catalog, col, templates)
    rules: list[CompiledRule] = []
    seen: dict[str, int] = {}
    shared_reads: dict[frozenset[str], frozenset[str]] = {}
    for i, raw in enumerate(raw_rules):
        prefix = f"rules[{i}]"
        label = f"rules[{i}]"
        if not isinstance(raw, Mapping):
            col.add(label, prefix, "", "a rule is a mapping")
            continue
        name = own(raw.get("name"))
        if isinstance(name, str) and name.strip():
            label = name
            if name in seen:
                col.add(
                    label,
                    prefix,
                    "name",
                    f"duplicate rule name {name!r} (also rules[{seen[name]}])",
                )
            seen.setdefault(name, i)
        else:
            col.add(label, prefix, "name", "a rule needs a non-empty 'name'")
        _unknown_keys(col, label, prefix, "", raw, RULE_KEYS)
        desc = own(raw.get("description"))
        if desc is not None and not isinstance(desc, str):
            col.add(label, prefix, "description", "description must be text")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            col.add(label, prefix, "enabled", "enabled must be true or false")
        triggers = compiler.triggers(label, prefix, raw.get("triggers"))
        cond: CondNode | None = None
        cond_ok = True
        if raw.get("conditions") is not None:
            cond = compiler.condition(label, prefix, "conditions", raw["conditions"])
            cond_ok = cond is not None
        actions = compiler.actions(label, prefix, raw.get("actions"))
        if triggers is None or actions is None or not cond_ok or label != name:
            continue
        reads = set().union(*(t.reads() for t in triggers))
        if cond is not None:
            reads |= cond.fields()
        frozen = frozenset(reads)
        rules.append(
            CompiledRule(
                name=name,
                index=len(rules),
                enabled=bool(enabled),
                description=desc,
                triggers=triggers,
                conditions=cond,
                actions=actions,
                reads=shared_reads.setdefault(frozen, frozen),
            )
        )
    del compiler, shared_reads  # its caches (a key per distinct item) before the index is built
    if consume:
        raw = None  # the last rule's reference too
        raw_rules.clear()
    if col.issues:
        raise RuleSetError(col.issues)
    return CompiledRuleSet(rules, templates, catalog, source, index=index)


class CompiledRuleSet:
    """An immutable, compiled, indexed rule set; share it freely between threads and events."""

    def __init__(
        self,
        rules: list[CompiledRule],
        templates: dict[str, dict[str, str]],
        catalog: Catalog,
        source: str,
        *,
        index: bool = True,
    ) -> None:
        self.rules = rules
        self.templates = templates
        self.catalog = catalog
        self.source = source
        self.names = [r.name for r in rules]
        self.by_name = {r.name: r for r in rules}
        self._matcher: Matcher | None = None
        self._lock = threading.Lock()
        if index:
            self.index()

    @property
    def matcher(self) -> Matcher:
        """The index every match goes through (built on first use if compiled without it)."""
        m = self._matcher
        return m if m is not None else self.index()

    def index(self) -> Matcher:
        """Build the index now if it is not built yet (one thread builds it, the others wait)."""
        with self._lock:
            if self._matcher is None:
                from .matcher import Matcher

                self._matcher = Matcher(self.rules)
            return self._matcher

    @property
    def definition(self) -> dict[str, Any]:
        """The normalised JSON-able definition (what is stored), rebuilt on each access from the
        compiled rules (see tree.py): hold on to the result rather than asking twice."""
        rules = [r.definition for r in self.rules]
        return {"version": 1, "templates": self.templates, "rules": rules}

    def stored_definition(self) -> dict[str, Any]:
        """``definition`` for serialising it (to store it, to digest it): equal to it, but a
        condition, trigger or action shared by many rules is one dict object, which about halves
        its size at 50,000 rules. Do not modify it, nor dump it as YAML (shared objects become
        anchors and aliases there); ``definition`` is for that."""
        shared: Shared = {}
        rules = [r.build_definition(shared) for r in self.rules]
        return {"version": 1, "templates": self.templates, "rules": rules}

    def match(
        self,
        snapshot: Snapshot,
        event: Event,
        *,
        now: dt.datetime | None = None,
        context: EngineContext | None = None,
        latched: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Names of all enabled rules whose trigger and conditions hold, in rule order. Time
        triggers match timer events only, given ``now`` (and not for rules in ``latched``)."""
        m = self._matcher  # (not the property: this is the per-event path)
        if m is None:
            m = self.index()
        if now is None or event.kind != "timer":
            return m.match_event(snapshot, event)
        time = TriggerContext("timer", {}, (), {}, now, context, latched)
        return m.match_event(snapshot, event, time)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"<CompiledRuleSet {self.source} rules={len(self.rules)}>"
