"""Generated match functions: one per compiled rule set, the matcher's steps unrolled.

``Matcher.match_terms_general`` loops over its steps (``fieldindex.plan``); per event that costs a
loop, attribute lookups and a call per field, which at 1,000 rules was a third of the time. Here
the same steps are written out as the source of one function whose constants (masks, memos, the
needle automaton, field names) are globals of that function, so nothing is looked up or called
that the loop did not need. Field names and other rule data are never pasted into the source:
every value is passed in the namespace under a generated identifier.

Whatever the generated code does not handle — a missing memo entry with a value of an odd type,
an unhashable value, a type the index cannot handle — returns the general function's answer, so
results never differ from it (the property tests compare both with rule-by-rule evaluation).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gmpy2 import xmpz

from .fieldindex import Ids

if TYPE_CHECKING:
    from .fieldindex import Step
    from .linear import Linear
    from .matcher import Matcher

TermsFn = Callable[..., int]
NamesFn = Callable[..., list[str]]


class _Source:
    def __init__(self) -> None:
        self.ns: dict[str, Any] = {
            "bisect_left": bisect_left,
            "bisect_right": bisect_right,
            "xmpz": xmpz,
            "Ids": Ids,
        }
        self.lines: list[str] = []

    def const(self, value: Any) -> str:
        """A fresh global name bound to ``value``."""
        name = f"_k{len(self.ns)}"
        self.ns[name] = value
        return name

    def emit(self, depth: int, *lines: str) -> None:
        self.lines.extend("    " * depth + line for line in lines)


def build(m: Matcher) -> tuple[TermsFn, NamesFn]:
    """(match_terms, match_event) for this matcher."""
    src = _Source()
    general = src.const(m.match_terms_general)
    names_of = src.const(m.names_of)
    _terms_fn(src, m, general)
    _event_fn(src, m, general, names_of)
    code = compile("\n".join(src.lines), f"<match functions of {m.n_terms} terms>", "exec")
    exec(code, src.ns)
    return src.ns["match_terms"], src.ns["match_event"]


def build_linear(m: Matcher, linear: Linear, index_event: NamesFn) -> NamesFn:
    """match_event for the straight-line strategy (linear.py): the trigger candidates as in
    the index, then the function written for exactly those candidates."""
    src = _Source()
    general, names_of = src.const(m.match_terms_general), src.const(m.names_of)
    src.emit(
        0,
        "def match_event(snapshot, event, time=None):",
        "    kind = event.kind",
        "    changes = event.changes",
        "    messages = event.messages",
    )
    _candidates(src, m)
    src.emit(
        1,
        "if not alive:",
        "    return []",
        f"fn = {src.const(linear.lookup)}(alive)",
        "if fn is None:",
        f"    fn = {src.const(linear.build)}(alive)",
        "    if fn is None:",  # the cache is full: the index answers
        f"        return {src.const(index_event)}(snapshot, event, time)",
        "try:",
        "    out = fn(snapshot, changes)",
        "except Exception:",  # the general path records nothing here, but answers exactly
        "    out = None",
        "if out is None:",
        f"    return {names_of}({general}(snapshot, kind, changes, messages, -1, None, time))",
        "return out",
    )
    code = compile("\n".join(src.lines), "<straight-line dispatch>", "exec")
    exec(code, src.ns)
    fn: NamesFn = src.ns["match_event"]
    return fn


def _terms_fn(src: _Source, m: Matcher, general: str) -> None:
    src.emit(
        0,
        "def match_terms(snapshot, kind, changes, messages, restrict=-1, errors=None, time=None):",
    )
    _candidates(src, m)
    src.emit(1, "alive &= restrict")
    fallback = f"return {general}(snapshot, kind, changes, messages, restrict, errors, time)"
    _body(src, m, fallback, "return 0")
    src.emit(1, "return alive")


def _event_fn(src: _Source, m: Matcher, general: str, names_of: str) -> None:
    src.emit(
        0,
        "def match_event(snapshot, event, time=None):",
        "    kind = event.kind",
        "    changes = event.changes",
        "    messages = event.messages",
        "    errors = None",
    )
    _candidates(src, m)
    fallback = f"return {names_of}({general}(snapshot, kind, changes, messages, -1, None, time))"
    _body(src, m, fallback, "return []")
    many, names_c = src.const(m.few), src.const(m.term_names.__getitem__)
    if m.tails:  # one bit per surviving rule (Matcher.collapse)
        tails, heads = src.const(m.tails), src.const(m.heads)
        src.emit(1, f"alive = (alive | ((alive & {tails}) + {tails})) & {heads}")
    src.emit(
        1,
        f"if alive.bit_count() > {many}:",
        f"    return {names_of}(alive)",
        f"return list(map({names_c}, xmpz(alive).iter_set()))",  # GMP walks the bits in C
    )


def _candidates(src: _Source, m: Matcher) -> None:
    """``alive`` = terms whose rule has a trigger matching the event (Matcher.candidates): the
    exact keys inlined, the other triggers checked only when the event can concern them."""
    src.emit(1, f"alive = {src.const(m.kind_exact)}.get(kind, 0)")
    if m.field_exact:
        fe = src.const(m.field_exact)
        src.emit(1, "for f in changes:", f"    alive |= {fe}.get(f, 0)")
    if m.msg_exact:
        me = src.const(m.msg_exact)
        src.emit(
            1, "for msg in messages:", f"    alive |= {me}.get((msg.public, msg.author_kind), 0)"
        )
    tests = []
    if m.kind_checks:
        tests.append(f"kind in {src.const(frozenset(m.kind_checks))}")
    if m.field_checks:
        tests.append(f"not {src.const(frozenset(m.field_checks))}.isdisjoint(changes)")
    if tests:
        checked = src.const(m.checked_candidates)
        src.emit(
            1,
            f"if {' or '.join(tests)}:",
            f"    alive = {checked}(kind, changes, messages, alive)",
        )
    if m.time_checks:  # time triggers: timer events only (Matcher.time_candidates)
        timed = src.const(m.time_candidates)
        src.emit(
            1,
            'if kind == "timer":',
            f"    alive = {timed}(snapshot, changes, messages, time, alive)",
        )


def _body(src: _Source, m: Matcher, fallback: str, empty: str) -> None:
    src.emit(1, "if not alive:", f"    {empty}", "get = snapshot.get", "try:")
    for step in m.steps:
        depth = 2
        if step.need:
            src.emit(2, f"if alive & {src.const(step.need)}:")
            depth = 3
        _step(src, step, depth, fallback)
        src.emit(depth, "if not alive:", f"    {empty}")
    src.emit(2, "pass")
    src.emit(1, "except TypeError:", f"    {fallback}")  # e.g. an unhashable value
    if m.residual_all:
        residuals = src.const(m.eval_residuals)
        src.emit(
            1,
            f"if alive & {src.const(m.residual_all)}:",
            f"    alive = {residuals}(alive, snapshot, changes, None, errors)",
            "    if not alive:",
            f"        {empty}",
        )


def _step(src: _Source, step: Step, d: int, fallback: str) -> None:
    c = step.consts
    general = src.const(step.general)
    exact = (
        f"keep, extra = {general}(snapshot)",
        "if extra:",  # literals to evaluate one by one: the general function does that
        f"    {fallback}",
    )
    if step.kind == "joint":
        src.emit(
            d,
            f"keep = {src.const(c['lookup'])}(tuple(map(get, {src.const(c['names'])})))",
            "if keep is None:",
        )
        src.emit(d + 1, *exact)
    elif step.kind == "range":
        cuts, pieces = src.const(c["cuts"]), src.const(c["pieces"])
        src.emit(
            d,
            f"v = get({src.const(c['name'])})",
            "if type(v) is int or (type(v) is float and v == v):",
            f"    keep = {pieces}[bisect_left({cuts}, v) + bisect_right({cuts}, v)]",
            "else:",
        )
        src.emit(d + 1, *exact)
    elif step.kind in ("set", "memo"):
        src.emit(d, f"keep = {src.const(c['lookup'])}(get({src.const(c['name'])}))")
        src.emit(d, "if keep is None:")
        if step.kind == "set":  # compute a tag set missing from the memo (and remember it)
            src.emit(d + 1, f"keep = {src.const(step.fast)}(get)", "if keep is None:")
            src.emit(d + 2, *exact)
        else:
            src.emit(d + 1, *exact)
    elif step.kind == "text":
        src.emit(d, f"v = get({src.const(c['name'])})", "if type(v) is str:")
        add: tuple[str, ...]
        if c["sparse"]:  # some needles keep term numbers (fieldindex.Bits): an xmpz collects
            src.emit(d + 1, f"hits = xmpz({src.const(c['always'])})")
            add = (
                "if type({v}) is Ids:",
                "    for i in {v}:",
                "        hits[i] = 1",
                "else:",
                "    hits |= {v}",
            )
        else:
            src.emit(d + 1, f"hits = {src.const(c['always'])}")
            add = ("hits |= {v}",)
        if c["iter"] is not None and c["plain"]:
            src.emit(d + 1, f"for _, cv in {src.const(c['iter'])}(v.casefold()):")
            src.emit(d + 2, *(line.format(v="cv") for line in add))
        elif c["iter"] is not None:
            src.emit(d + 1, f"for end, (cv, sv, last) in {src.const(c['iter'])}(v.casefold()):")
            src.emit(d + 2, *(line.format(v="cv") for line in add))
            src.emit(d + 2, "if end == last:")  # the occurrence starts at 0: starts_with holds
            src.emit(d + 3, *(line.format(v="sv") for line in add))
        slots_all = src.const(c["slots_all"])
        src.emit(d + 1, f"unmet = {slots_all} ^ (hits & {slots_all})")
        if c["shifts"]:  # fold the regions of the second, third, ... slot onto the first
            src.emit(d + 1, "u = unmet")
            src.emit(d + 1, *(f"u |= unmet >> {sh}" for sh in c["shifts"]))
            src.emit(d + 1, f"unmet = u & {src.const(c['full'])}")
        if c["top"] is not None:  # the not_contains region: a found needle falsifies these
            src.emit(d + 1, f"unmet |= hits >> {c['top']}")
        src.emit(d + 1, "alive ^= alive & unmet")
        src.emit(d, "else:")
        src.emit(d + 1, *exact, "alive &= keep")
        return
    else:
        src.emit(d, *exact)
    src.emit(d, "alive &= keep")
