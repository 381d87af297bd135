"""One field's share of the index, and the per-event steps built from all fields.

A field's literals (from every rule) become a few big-integer masks over DNF terms, so one look
at the field's value answers all of them: "which terms does this value falsify?". Operators say
what they need through the ``FieldSink`` methods (``conditions.Operator.index_into``); this module
knows only those primitives (equality, ranges, presence, tag sets, needles), never operator names.

Several tag-set or needle literals of one term on one field each take a *slot*: slot k of every
term lives in bit region k (bits k*n .. k*n+n-1) of one mask per tag / needle, so each present
tag or found needle costs one OR however many slots there are; ``_unmet`` folds the regions back.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import pairwise
from typing import Any

import ahocorasick
from gmpy2 import mpz

from .conditions import is_blank
from .dnf import Lit

_COLLECTIONS = (frozenset, set, list, tuple)
MEMO_MAX = 4096  # distinct values remembered per field


class FieldIndex:
    """All indexed literals on one field (a ``FieldSink``), turned into falsified-term masks."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.folds = kind == "text"
        self.kind = kind
        self.all = 0  # terms with a literal here: the step can be skipped when none is alive
        self.eq_all = 0
        self.eq_map: dict[Any, int] = {}
        self.neq_map: dict[Any, int] = {}
        self.pres_all = 0
        self.blank_all = 0
        self.anyof_all = 0
        self.anyof_slots: list[tuple[int, dict[Any, int]]] = []
        self.noneof_map: dict[Any, int] = {}
        self.text_all = 0  # terms needing a needle (false on an unset text)
        self.text_slots: list[tuple[int, dict[tuple[bool, str], int]]] = []
        self.text_kill: dict[str, int] = {}  # not_contains: a found needle falsifies these
        self.range_all = 0
        self.range_raw: dict[str, dict[Any, int]] = {}
        self.ranges: list[tuple[str, list[Any], list[int]]] = []
        # Range / tag / text literals, evaluated one by one when a value has a type the index
        # cannot handle (so they raise and the error is recorded like rule-by-rule evaluation).
        self.fallback: list[tuple[Lit, int]] = []
        self._fallback: dict[int, list[Any]] = {}
        self._lit: Lit | None = None
        self._term = 0  # the term whose literals are being added, for slots and equalities
        self._set_slot = self._text_slot = 0
        self._eq_keys: frozenset[Any] = frozenset()
        # Built by finish().
        self.n = 0
        self.full: Any = 0
        self.set_vals: dict[Any, Any] = {}
        self.set_slots_all: Any = 0
        self.set_shifts: tuple[int, ...] = ()  # bit offsets of the regions after the first
        self.set_top: int | None = None  # where the has_none region starts, if any
        self.text_auto: Any = None  # ahocorasick.Automaton: needle -> masks (see finish)
        self.text_always: Any = 0  # empty needles: found in every text
        self.text_plain = True
        self.text_slots_all: Any = 0
        self.text_shifts: tuple[int, ...] = ()
        self.text_top: int | None = None  # where the not_contains region starts, if any

    def index(self, lit: Lit, bit: int) -> bool:
        """Let the literal's operator describe itself; True if the index now decides it."""
        assert lit.op is not None
        assert not lit.negated
        if bit != self._term:
            self._term, self._set_slot, self._text_slot = bit, 0, 0
            self._eq_keys = frozenset()
        self._lit = lit
        return lit.op.index_into(self, bit)

    def _use(self, bit: int, fallback: bool) -> None:
        self.all |= bit
        if fallback and self._lit is not None:
            entry = self._fallback.setdefault(self._lit.id, [self._lit, 0])
            entry[1] |= bit

    # -- FieldSink -------------------------------------------------------------------------

    def add_eq(self, keys: frozenset[Any], bit: int) -> None:
        self._use(bit, False)
        if self.eq_all & bit:  # a second equality in this term: the value must satisfy both
            for k in self._eq_keys - keys:
                self.eq_map[k] &= ~bit
            self._eq_keys &= keys
            return
        self.eq_all |= bit
        self._eq_keys = keys
        for k in keys:
            self.eq_map[k] = self.eq_map.get(k, 0) | bit

    def add_neq(self, keys: frozenset[Any], bit: int) -> None:
        self._use(bit, False)
        for k in keys:
            self.neq_map[k] = self.neq_map.get(k, 0) | bit

    def add_range(self, cmp: str, bound: Any, bit: int) -> None:
        self._use(bit, True)
        raw = self.range_raw.setdefault(cmp, {})
        raw[bound] = raw.get(bound, 0) | bit
        self.range_all |= bit

    def add_presence(self, present: bool, bit: int) -> None:
        self._use(bit, False)
        if present:
            self.pres_all |= bit
        else:
            self.blank_all |= bit

    def add_any_of(self, keys: Iterable[Any], bit: int) -> None:
        self._use(bit, True)
        slot = self._set_slot
        self._set_slot += 1
        while len(self.anyof_slots) <= slot:
            self.anyof_slots.append((0, {}))
        all_m, amap = self.anyof_slots[slot]
        for k in keys:
            amap[k] = amap.get(k, 0) | bit
        self.anyof_slots[slot] = (all_m | bit, amap)
        self.anyof_all |= bit

    def add_none_of(self, keys: Iterable[Any], bit: int) -> None:
        self._use(bit, True)
        for k in keys:
            self.noneof_map[k] = self.noneof_map.get(k, 0) | bit

    def add_needles(self, needles: Iterable[str], bit: int, at_start: bool = False) -> None:
        self._use(bit, True)
        slot = self._text_slot
        self._text_slot += 1
        while len(self.text_slots) <= slot:
            self.text_slots.append((0, {}))
        all_m, amap = self.text_slots[slot]
        for needle in needles:
            key = (at_start, needle)
            amap[key] = amap.get(key, 0) | bit
        self.text_slots[slot] = (all_m | bit, amap)
        self.text_all |= bit

    def add_absent_needle(self, needle: str, bit: int) -> None:
        self._use(bit, True)
        self.text_kill[needle] = self.text_kill.get(needle, 0) | bit

    # -- built once all rules are in ---------------------------------------------------------

    def finish(self, n_terms: int) -> None:
        n = self.n = n_terms
        self.full = mpz((1 << n) - 1)
        for cmp, raw in self.range_raw.items():
            cs = sorted(raw)
            masks = [raw[c] for c in cs]
            acc = [0] * (len(cs) + 1)
            if cmp in ("gt", "ge"):  # suffix ORs: failures are thresholds >= / > value
                for i in range(len(cs) - 1, -1, -1):
                    acc[i] = acc[i + 1] | masks[i]
            else:  # prefix ORs: failures are thresholds <= / < value
                for i, m in enumerate(masks):
                    acc[i + 1] = acc[i] | m
            self.ranges.append((cmp, cs, acc))
        self.fallback = [(entry[0], entry[1]) for entry in self._fallback.values()]
        self._finish_sets(n)
        self._finish_text(n)

    def _finish_sets(self, n: int) -> None:
        vals: dict[Any, int] = {}
        slots_all = 0
        for k, (all_m, amap) in enumerate(self.anyof_slots):
            slots_all |= all_m << (k * n)
            for key, m in amap.items():
                vals[key] = vals.get(key, 0) | (m << (k * n))
        nslots = len(self.anyof_slots)
        self.set_shifts = tuple(k * n for k in range(1, nslots))
        for key, m in self.noneof_map.items():  # one more region: has_none hits
            vals[key] = vals.get(key, 0) | (m << (nslots * n))
        if self.noneof_map:
            self.set_top = nslots * n
        self.set_vals = {key: mpz(m) for key, m in vals.items()}
        self.set_slots_all = mpz(slots_all)

    def _finish_text(self, n: int) -> None:
        nslots = len(self.text_slots)
        top = nslots * n  # region of the not_contains needles
        per_needle: dict[str, list[int]] = {}  # needle -> [anywhere | absent << top, at start]
        slots_all = 0
        for k, (all_m, tmap) in enumerate(self.text_slots):
            slots_all |= all_m << (k * n)
            for (at_start, needle), m in tmap.items():
                per_needle.setdefault(needle, [0, 0])[1 if at_start else 0] |= m << (k * n)
        for needle, m in self.text_kill.items():
            per_needle.setdefault(needle, [0, 0])[0] |= m << top
        self.text_top = top if self.text_kill else None
        self.text_shifts = tuple(k * n for k in range(1, nslots))
        self.text_slots_all = mpz(slots_all)
        empty = per_needle.pop("", None)
        if empty is not None:  # "" is found in (and at the start of) every text
            self.text_always = mpz(empty[0] | empty[1])
        if per_needle:
            # All needles in one Aho-Corasick automaton: one C pass over the text finds every
            # occurrence (nested and overlapping ones too) instead of one `in` test per needle.
            # Without starts_with needles a needle's value is just its mask.
            self.text_plain = not any(sv for _, sv in per_needle.values())
            auto = ahocorasick.Automaton()
            for needle, (cv, sv) in per_needle.items():
                value = mpz(cv) if self.text_plain else (mpz(cv), mpz(sv), len(needle) - 1)
                auto.add_word(needle, value)
            auto.make_automaton()
            self.text_auto = auto

    def pure_range(self) -> bool:
        """Only numeric range (and presence) literals: the answer is constant between thresholds."""
        return bool(self.ranges) and not (
            self.eq_all
            or self.neq_map
            or self.anyof_all
            or self.noneof_map
            or self.text_all
            or self.text_kill
        )

    def intervals(self) -> tuple[list[Any], list[int], list[int]]:
        """(thresholds, keep-mask exactly at each threshold, keep-mask below/between/above them),
        computed with failed() itself on one representative value per piece, so it is exact."""
        cuts = sorted({c for _, cs, _ in self.ranges for c in cs})
        at = [~self.failed(c)[0] for c in cuts]
        reps = [cuts[0] - 1] + [(a + b) / 2 for a, b in pairwise(cuts)]
        between = [~self.failed(r)[0] for r in [*reps, cuts[-1] + 1]]
        return cuts, at, between

    def failed(self, v: Any) -> tuple[int, bool]:
        """Terms falsified by ``v``, and whether range/tag/text literals need one-by-one
        evaluation because ``v`` has a type the index cannot handle (then they raise and are
        recorded)."""
        out = 0
        bad = False
        if self.eq_all or self.neq_map:
            key = v.casefold() if self.folds and type(v) is str else v
            try:
                if self.eq_all:
                    out |= self.eq_all & ~self.eq_map.get(key, 0)
                if self.neq_map:
                    out |= self.neq_map.get(key, 0)
            except TypeError:  # unhashable: equals nothing, so every equality fails
                out |= self.eq_all
        if self.pres_all or self.blank_all:
            out |= self.pres_all if is_blank(v) else self.blank_all
        if self.ranges:
            if v is None:
                out |= self.range_all
            elif type(v) is int or (type(v) is float and v == v):
                for cmp, cs, acc in self.ranges:
                    if cmp == "ge" or cmp == "lt":
                        out |= acc[bisect_right(cs, v)]
                    else:
                        out |= acc[bisect_left(cs, v)]
            else:
                bad = True
        if self.anyof_all or self.noneof_map:
            if v is None:
                out |= self.anyof_all
            elif isinstance(v, _COLLECTIONS):
                try:
                    out |= self.set_unmet(v)
                except TypeError:  # an unhashable member
                    return out, True
            else:
                bad = True
        if self.text_all or self.text_kill:
            if v is None:
                out |= self.text_all  # needles are absent from a missing text
            elif type(v) is str:
                out |= self.text_unmet(v)
            else:
                bad = True
        return out, bad

    def set_unmet(self, v: Iterable[Any]) -> Any:
        """Terms whose has_any / has_all / has_none literals the collection ``v`` falsifies
        (TypeError on an unhashable member)."""
        vals = self.set_vals
        hits: Any = 0
        for m in v:
            hits |= vals.get(m, 0)
        return _unmet(hits, self.set_slots_all, self.set_shifts, self.set_top, self.full)

    def text_unmet(self, v: str) -> Any:
        """Terms whose needle literals the text ``v`` falsifies. (fastpath.py inlines the same
        loop in the generated function.)"""
        hits = self.text_always
        if self.text_plain and self.text_auto is not None:
            for _, cv in self.text_auto.iter(v.casefold()):
                hits |= cv
        elif self.text_auto is not None:
            for end, (cv, sv, last) in self.text_auto.iter(v.casefold()):
                hits |= cv
                if end == last:  # the occurrence starts at 0: starts_with holds
                    hits |= sv
        return _unmet(hits, self.text_slots_all, self.text_shifts, self.text_top, self.full)


def _unmet(acc: Any, slots_all: Any, shifts: tuple[int, ...], top: int | None, full: Any) -> Any:
    """Terms with a slot that ``acc`` (the OR of the present keys' region masks) leaves unmet,
    plus the terms in the region at ``top`` (a has_none tag / not_contains needle was found)."""
    x = slots_all ^ (acc & slots_all)
    if shifts:  # fold the regions of the second, third, ... slot onto the first
        u = x
        for sh in shifts:
            u |= x >> sh
        x = u & full
    if top is not None:
        x |= acc >> top
    return x


Fallback = list[tuple[Lit, int]]
FastStep = Callable[[Callable[[str], Any]], int | None]
GeneralStep = Callable[[Mapping[str, Any]], tuple[int, Fallback | None]]


class Step:
    """One per-event step: the terms that one field (or the enum fields together) leave alive.

    ``fast(snapshot.get)`` returns that keep-mask, or None for a value it does not handle; then
    ``general(snapshot)`` answers exactly, and names the literals to evaluate one by one when a
    value has a type the index cannot handle. A non-zero ``need`` lets the matcher skip the step
    when no surviving term tests the field. ``consts`` are what the generated match function
    (fastpath.py) inlines for this ``kind`` of step.
    """

    __slots__ = ("consts", "fast", "general", "kind", "need")

    def __init__(
        self, kind: str, fast: FastStep, general: GeneralStep, need: int, **consts: Any
    ) -> None:
        self.kind = kind
        self.fast = fast
        self.general = general
        self.need = mpz(need) if need else 0
        self.consts = consts


def plan(fields: list[FieldIndex], full: Any) -> list[Step]:
    """Per-event steps, cheapest first:

    - enum fields together: one memo keyed by the tuple of their values (a few hundred
      combinations in practice), so four fields cost one dict lookup;
    - pure numeric-range fields: two bisects into precomputed keep-masks;
    - tag-like fields: a memo per value;
    - text fields tested only for equality / presence (an e-mail, a name): a hash lookup, before
      the free-text fields, so a selective equality can end the event before any needle search;
    - free text: every needle found in one automaton pass.
    """
    steps: list[Step] = []
    fields = [fi for fi in fields if fi.all]  # e.g. only a regex's field, without needles
    joint = [fi for fi in fields if fi.kind == "enum"]
    if joint:
        steps.append(_joint_step(joint, full))
    rest = [fi for fi in fields if fi not in joint]
    ranged = [fi for fi in rest if fi.pure_range()]
    steps += [_range_step(fi, full) for fi in ranged]
    steps += [_memo_step(fi, full) for fi in rest if fi not in ranged and not fi.folds]
    texts = [fi for fi in rest if fi not in ranged and fi.folds]
    texts.sort(key=lambda fi: bool(fi.text_all))  # stable: equality-only text fields first
    steps += [_text_step(fi, full) for fi in texts]
    return steps


def _general(fi: FieldIndex, full: Any) -> GeneralStep:
    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        failed, bad = fi.failed(snapshot.get(fi.name))
        return full ^ (failed & full), fi.fallback if bad else None

    return general


def _memo_safe(v: Any) -> bool:
    """Values a memo may key on alone: nothing of another type compares equal to them (True == 1,
    but never == "1"), so a hit is always the answer for the same value."""
    if v is None or type(v) is str:
        return True
    return type(v) is frozenset and all(type(m) is str for m in v)


def _joint_step(joint: list[FieldIndex], full: Any) -> Step:
    names = tuple(fi.name for fi in joint)
    memo: dict[tuple[Any, ...], int] = {}
    lookup = memo.get

    def fast(get: Callable[[str], Any]) -> int | None:
        try:
            return lookup(tuple(map(get, names)))
        except TypeError:  # an unhashable value
            return None

    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        values = tuple(map(snapshot.get, names))
        failed = 0
        extra: Fallback | None = None
        for fi, v in zip(joint, values, strict=True):
            f, bad = fi.failed(v)
            failed |= f
            if bad:
                extra = (extra or []) + fi.fallback
        keep = full ^ (failed & full)
        if extra is None and len(memo) < MEMO_MAX and all(map(_memo_safe, values)):
            memo[values] = keep
        return keep, extra

    return Step("joint", fast, general, 0, lookup=lookup, names=names)


def _range_step(fi: FieldIndex, full: Any) -> Step:
    cuts, at, between = fi.intervals()
    # pieces[bisect_left + bisect_right]: 2i is "between cuts i-1 and i", 2i+1 is "at cut i".
    pieces = [0] * (2 * len(cuts) + 1)
    for i, m in enumerate(between):
        pieces[2 * i] = m & full
    for i, m in enumerate(at):
        pieces[2 * i + 1] = m & full
    name = fi.name

    def fast(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        if type(v) is int or (type(v) is float and v == v):
            return pieces[bisect_left(cuts, v) + bisect_right(cuts, v)]
        return None  # None, NaN or a wrong type: the general path (errors recorded there)

    return Step("range", fast, _general(fi, full), 0, name=name, cuts=cuts, pieces=pieces)


def _memo_step(fi: FieldIndex, full: Any) -> Step:
    """Fields answered by a memo per value; tag sets missing from it are computed by ``fast``."""
    memo: dict[Any, int] = {}
    lookup = memo.get
    name = fi.name
    compute = _general(fi, full)

    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        keep, extra = compute(snapshot)
        v = snapshot.get(name)
        if extra is None and len(memo) < MEMO_MAX and _memo_safe(v):
            memo[v] = keep
        return keep, extra

    if fi.eq_all or fi.neq_map or fi.pres_all or fi.blank_all or fi.ranges:

        def fast(get: Callable[[str], Any]) -> int | None:
            try:
                return lookup(get(name))
            except TypeError:  # unhashable
                return None

        return Step("memo", fast, general, fi.all, name=name, lookup=lookup)
    set_unmet = fi.set_unmet

    def fast_set(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        if type(v) is not frozenset:
            return None
        keep = lookup(v)
        if keep is None:
            keep = full ^ set_unmet(v)
            if len(memo) < MEMO_MAX and _memo_safe(v):
                memo[v] = keep
        return keep

    return Step("set", fast_set, general, fi.all, name=name, lookup=lookup)


def _no_fast(get: Callable[[str], Any]) -> int | None:
    return None


def _text_step(fi: FieldIndex, full: Any) -> Step:
    general = _general(fi, full)
    mixed = fi.eq_all or fi.neq_map or fi.pres_all or fi.blank_all or fi.ranges or fi.anyof_all
    if mixed or fi.noneof_map:
        return Step("general", _no_fast, general, fi.all)  # mixed literals: the general path
    name = fi.name
    text_unmet = fi.text_unmet

    def fast(get: Callable[[str], Any]) -> int | None:
        v = get(name)
        return full ^ text_unmet(v) if type(v) is str else None

    return Step(
        "text",
        fast,
        general,
        fi.all,
        name=name,
        always=fi.text_always,
        slots_all=fi.text_slots_all,
        shifts=fi.text_shifts,
        iter=fi.text_auto.iter if fi.text_auto is not None else None,
        plain=fi.text_plain,
        top=fi.text_top,
        full=full,
    )
