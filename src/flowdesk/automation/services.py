"""Rule-set storage: validate whole, store as a new version, restore an old one, compile once."""

from __future__ import annotations

import gc
import json
import threading
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from flowdesk.accounts.models import User
from flowdesk.automation.catalog import build_catalog, custom_field_specs
from flowdesk.automation.models import RuleSetVersion, definition_digest
from flowdesk.core.errors import NotFound
from flowdesk.core.rows import first, sql
from flowdesk.engine import (
    CompiledRuleSet,
    compile_ruleset,
    dump_ruleset_yaml,
    lint,
    load_ruleset_yaml,
)
from flowdesk.engine.compile import Collector
from flowdesk.engine.lint import LintWarning, _duplicates, _Facts, _never_matches, _placeholders
from flowdesk.engine.yamlio import line_map
from flowdesk.tickets.fields import custom_spec
from flowdesk.tickets.models import CustomFieldDef


@dataclass(frozen=True)
class ActiveRuleSet:
    number: int
    ruleset: CompiledRuleSet
    fields: tuple[str, ...]  # catalogued fields, so snapshots always carry every key


#: compiled rule sets kept per process (the active one and a few recent ones)
CACHE_SIZE = 4
#: ...and at most this many rules in all besides the newest version's: a compiled set of 50,000
#: rules is over a gigabyte, so a large older version is compiled for its explanation and freed
CACHE_RULES = 20_000
_cache: dict[tuple[str, str], tuple[CompiledRuleSet, tuple[str, ...]]] = {}
_cache_lock = threading.Lock()


def _fingerprint() -> str:
    return repr(sorted((k, s.kind, s.choices) for k, s in custom_field_specs().items()))


def _fingerprint_of(defs: list[Any] | None) -> str:
    """``_fingerprint()`` from the [key, kind, choices] triples the head statement returns."""
    specs = {key: custom_spec(key, kind, choices) for key, kind, choices in defs or ()}
    return repr(sorted((k, s.kind, s.choices) for k, s in specs.items()))


def _head_sql() -> str:
    """The newest version's (number, digest) and the custom-field layout, in one statement: both
    are read on every update, and the layout is part of the compile-cache key."""
    q = connection.ops.quote_name
    versions, defs = q(RuleSetVersion._meta.db_table), q(CustomFieldDef._meta.db_table)
    if connection.vendor == "postgresql":
        layout = (
            f"(SELECT json_agg(json_build_array(key, kind, choices) ORDER BY key) FROM {defs})"
            "::text"
        )
    else:
        layout = (
            "(SELECT json_group_array(json_array(key, kind, json(choices))) "
            f"FROM (SELECT key, kind, choices FROM {defs} ORDER BY key))"
        )
    return f"SELECT number, digest, {layout} FROM {versions} ORDER BY number DESC LIMIT 1"


def _compiled(
    version: RuleSetVersion | tuple[int, str], fingerprint: str | None = None
) -> tuple[CompiledRuleSet, tuple[str, ...]]:
    """Compiled once per process per definition (and custom-field layout), never per event.

    ``version`` may be just (number, digest): the cache is checked with those alone, and the
    definition (megabytes for a large rule set) is loaded only on a miss."""
    number, digest = version if isinstance(version, tuple) else (version.number, version.digest)
    if not digest:  # a row stored before digests existed
        digest = definition_digest(RuleSetVersion.objects.get(number=number).definition)
    key = (digest, fingerprint if fingerprint is not None else _fingerprint())
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache[key] = _cache.pop(key)  # most recently used last
    if cached is not None:
        return cached
    loaded = isinstance(version, tuple)
    if isinstance(version, tuple):
        version = RuleSetVersion.objects.get(number=number)
    catalog = build_catalog(check_names=False)
    # A row read here is ours: its definition is emptied once compiled (compile_ruleset's
    # consume), so it is freed now, not kept beside the compiled set. A caller's row is left.
    source = f"v{version.number}"
    ruleset = compile_ruleset(version.definition, catalog=catalog, source=source, consume=loaded)
    head = RuleSetVersion.objects.aggregate(m=Max("number"))["m"]
    return _remember(key, ruleset, newest=version.number == head)


def _remember(
    key: tuple[str, str], ruleset: CompiledRuleSet, *, newest: bool
) -> tuple[CompiledRuleSet, tuple[str, ...]]:
    """Cache a compiled set. The newest version's set evicts the least recently used others
    beyond CACHE_SIZE sets or CACHE_RULES rules; an older version's set is cached only if it
    fits (else its caller uses it once and it is freed)."""
    entry = (ruleset, tuple(ruleset.catalog.fields))
    with _cache_lock:
        others = sum(len(rs) for k, (rs, _) in _cache.items() if k != key)
        if not newest and others + len(ruleset) > CACHE_RULES and _cache:
            return entry
        _cache[key] = entry
        while len(_cache) > 1 and (
            len(_cache) > CACHE_SIZE
            or sum(len(rs) for k, (rs, _) in _cache.items() if k != key) > CACHE_RULES
        ):
            del _cache[next(k for k in _cache if k != key)]  # the least recently used
        _freeze_heap()
    return entry


def _freeze_heap() -> None:
    """Keep the cyclic garbage collector away from compiled rule sets.

    A compiled set of 10,000 rules is millions of long-lived objects; every full collection
    would walk all of them, so ticket writes slowed down with the size of the rule set alone.
    Frozen objects are skipped by the collector (refcounting still frees them). A new version is
    rare: unfreeze, collect what the evicted sets left, and freeze the heap again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def compiled_version(version: RuleSetVersion | tuple[int, str]) -> CompiledRuleSet:
    """``version`` may be a (number, digest) pair: the definition is then read only on a miss."""
    return _compiled(version)[0]


def compiled_number(number: int) -> CompiledRuleSet:
    """The compiled version ``number`` without loading its definition when it is cached."""
    head = RuleSetVersion.objects.filter(number=number).values_list("number", "digest").first()
    if head is None:
        raise NotFound(f"rule-set version {number} not found")
    return _compiled(head)[0]


def active_version() -> RuleSetVersion | None:
    return RuleSetVersion.objects.order_by("-number").first()


def active_ruleset() -> ActiveRuleSet | None:
    """The compiled active rule set; per update this reads the newest version's number only."""
    row = first(sql(("ruleset_head",), _head_sql), [])
    if row is None:
        return None
    head = (int(row[0]), str(row[1]))
    layout = json.loads(row[2]) if row[2] else None
    ruleset, fields = _compiled(head, _fingerprint_of(layout))
    return ActiveRuleSet(head[0], ruleset, fields)


def validate_yaml(text: str, source: str) -> CompiledRuleSet:
    """Raises engine.RuleSetError naming file, rule, path, line and a suggestion."""
    return load_ruleset_yaml(text, catalog=build_catalog(check_names=True), source=source)


def validate_definition(data: Any, source: str, *, consume: bool = False) -> CompiledRuleSet:
    """Compiled without its index (built by ``_store`` once the set is stored, or on first use).
    ``consume``: the caller hands ``data`` over, and it is emptied once compiled (see
    ``compile_ruleset``), so the parsed input is not kept beside the compiled set."""
    catalog = build_catalog(check_names=True)
    return compile_ruleset(data, catalog=catalog, source=source, consume=consume, index=False)


def _store(
    ruleset: CompiledRuleSet,
    *,
    source_text: str,
    source_name: str,
    author: User | None,
    comment: str,
    restored_from: int | None = None,
) -> RuleSetVersion:
    # Rebuilt from the compiled rules (it is not kept beside them), once, with the parts that
    # rules share as one object each: it is only serialised here.
    definition = ruleset.stored_definition()
    digest = definition_digest(definition)
    for _ in range(3):
        try:
            with transaction.atomic():
                top = RuleSetVersion.objects.aggregate(m=Max("number"))["m"] or 0
                version = RuleSetVersion.objects.create(
                    number=top + 1,
                    digest=digest,
                    definition=definition,
                    source_text=source_text,
                    source_name=source_name,
                    author=author,
                    comment=comment,
                    restored_from=restored_from,
                )
        except IntegrityError:
            continue  # another admin stored a version at the same moment: take the next number
        # Tens of megabytes at 50,000 rules: not kept on the instance. It is a deferred field now,
        # read back from the database if someone asks for it.
        del version.__dict__["definition"]
        del definition
        # The index last: storing a large definition is the import's peak (SQLite's JSON_VALID
        # check alone takes about 6x the JSON text), and the index is a third of the compiled set.
        ruleset.index()
        # What validation compiled is what the runtime would compile (names are not checked at
        # run time, which changes no compiled rule): keep it instead of compiling it again. The
        # key is the content's digest, so a rolled-back import leaves only a harmless entry.
        ruleset.source = f"v{version.number}"
        _remember((digest, _fingerprint()), ruleset, newest=True)
        return version
    raise RuntimeError("could not allocate a rule-set version number")


def check_import_yaml(
    text: str, *, source: str, author: User | None, comment: str = ""
) -> RuleSetVersion:
    """All or nothing: an invalid rule set raises and the active version stays as it was."""
    ruleset = validate_yaml(text, source)
    return _store(ruleset, source_text=text, source_name=source, author=author, comment=comment)


def check_import_definition(
    data: Any, *, source: str, author: User | None, comment: str = "", consume: bool = False
) -> RuleSetVersion:
    """The YAML source is kept only when an admin sent YAML; export dumps the definition.
    ``consume``: ``data`` is handed over and emptied once compiled (``validate_definition``)."""
    ruleset = validate_definition(data, source, consume=consume)
    return _store(
        ruleset,
        source_text="",
        source_name=source,
        author=author,
        comment=comment,
    )


def get_version(number: int) -> RuleSetVersion:
    version = RuleSetVersion.objects.filter(number=number).first()
    if version is None:
        raise NotFound(f"rule-set version {number} not found")
    return version


def check_restore_version(number: int, *, author: User | None) -> RuleSetVersion:
    """Restoring never rewrites history: it stores the old definition as the newest version."""
    old = get_version(number)
    ruleset = validate_definition(old.definition, f"v{number}", consume=True)  # ours: see _compiled
    return _store(
        ruleset,
        source_text=old.source_text,
        source_name=old.source_name,
        author=author,
        comment=f"restored from v{number}",
        restored_from=number,
    )


def export_yaml(number: int | None = None) -> str:
    version = get_version(number) if number is not None else active_version()
    if version is None:
        raise NotFound("no rule set has been imported yet")
    return dump_ruleset_yaml(version.definition)


#: rules up to which the static checks compare every pair of rules (their cost grows with the
#: square of the size: about 3 s at 1,000 rules); above it only the per-rule checks run, and a
#: note says which checks were left out
LINT_PAIRS_MAX = 1_000
PAIRS_SKIPPED = "pairwise-checks-skipped"


def _lint(ruleset: CompiledRuleSet) -> list[LintWarning]:
    if len(ruleset) <= LINT_PAIRS_MAX:
        return lint(ruleset)
    facts = _Facts(ruleset)
    out: list[LintWarning] = []
    for r in facts.rules:
        w = _never_matches(r, facts.terms[r.index])
        if w is not None:
            out.append(w)
    out += _duplicates(facts) + _placeholders(facts)
    out.sort(key=lambda w: ruleset.by_name[w.rule].index)  # stable: checks in lint's order
    note = (
        f"{len(ruleset):,} rules: the checks that compare pairs of rules (always-overwritten, "
        f"unreachable-after-stop) run up to {LINT_PAIRS_MAX:,} rules and were skipped"
    )
    return [LintWarning("", "", note, PAIRS_SKIPPED), *out]


def rule_warnings(
    ruleset: CompiledRuleSet, *, yaml_text: str | None = None, source: str = ""
) -> list[dict[str, Any]]:
    """The static checks' warnings (never blocking), located by rule, path and YAML line."""
    lines = line_map(yaml_text)[0] if yaml_text is not None else {}
    locate = Collector(source, lines)
    position = {r.name: i for i, r in enumerate(ruleset.rules)}
    out: list[dict[str, Any]] = []
    for w in _lint(ruleset):
        if w.rule not in position:  # a note on the whole rule set
            out.append({**w.to_dict(), "line": None, "text": f"note: {w.message}"})
            continue
        full = f"rules[{position[w.rule]}]" + (f".{w.path}" if w.path else "")
        line = locate.line_of(full) if lines else None
        where = f"{source}:{line}" if line is not None else source
        out.append(
            {
                **w.to_dict(),
                "line": line,
                "text": f"{where}: warning: {w}" if where else f"warning: {w}",
            }
        )
    return out
