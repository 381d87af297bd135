"""One field's share of the index, and the per-event steps built from all fields.

A field's literals (from every rule) become a few big-integer masks over DNF terms, so one look
at the field's value answers all of them: "which terms does this value falsify?". Operators say
what they need through the ``FieldSink`` methods (``conditions.Operator.index_into``); this module
knows only those primitives (equality, ranges, presence, tag sets, needles), never operator names.

Several tag-set or needle literals of one term on one field each take a *slot*: slot k of every
term lives in bit region k (bits k*n .. k*n+n-1) of one mask per tag / needle, so each present
tag or found needle costs one OR however many slots there are; ``_unmet`` folds the regions back.

Memory: while rules are added, each key collects term numbers, and ``finish`` turns them into the
masks and drops them. A key few terms use (most needles and e-mail addresses of a large rule set)
keeps its term numbers instead of a mask as wide as all terms (``Bits``): at 50,000 rules that
was 136 MB of needle masks, and it is about as fast to apply.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from itertools import pairwise
from typing import Any

import ahocorasick
from gmpy2 import mpz, xmpz

from .conditions import is_blank
from .dnf import Lit

_COLLECTIONS = (frozenset, set, list, tuple)
MEMO_MAX = 4096  # distinct values remembered per field...
#: ...and at most this many bytes of masks per memo: each entry is a mask as wide as all terms
#: (8 kB at 50,000 rules, where 4,096 entries would be 32 MB per field)
MEMO_BYTES = 8 * 1024 * 1024


def memo_cap(full: Any) -> int:
    """Entries a memo of keep-masks as wide as ``full`` may hold."""
    return max(64, min(MEMO_MAX, MEMO_BYTES * 8 // max(1, int(full).bit_length())))


class FieldIndex:
    """All indexed literals on one field (a ``FieldSink``), turned into falsified-term masks."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.folds = kind == "text"
        self.kind = kind
        self.all = 0  # terms with a literal here: the step can be skipped when none is alive
        self.eq_all = 0
        # value -> terms its equality literals accept / its is_not literals reject: a mask, or
        # for values few terms name (a requester's e-mail) their numbers (Bits); see eq_mask
        self.eq_map: dict[Any, Any] = {}
        self.neq_map: dict[Any, Any] = {}
        self.pres_all = 0
        self.blank_all = 0
        self.anyof_all = 0
        self.text_all = 0  # terms needing a needle (false on an unset text)
        self.range_all = 0
        self.ranges: list[tuple[str, list[Any], list[int]]] = []
        # Which kinds of literal the field has (the build-time maps below are dropped by finish).
        self.has_noneof = self.has_kill = False
        # Built while rules are added, as term numbers (a mask per key built by OR-ing one bit
        # at a time would copy the whole mask each time), and dropped once finish() built the
        # masks: keeping them doubled the index.
        self._anyof_slots: list[tuple[list[int], dict[Any, list[int]]]] = []
        self._noneof: dict[Any, list[int]] = {}
        self._text_slots: list[tuple[list[int], dict[tuple[bool, str], list[int]]]] = []
        self._text_kill: dict[str, list[int]] = {}  # not_contains: a found needle falsifies these
        self._range_raw: dict[str, dict[Any, list[int]]] = {}
        self._eq: dict[Any, list[int]] = {}
        self._neq: dict[Any, list[int]] = {}
        # Range / tag / text literals, evaluated one by one when a value has a type the index
        # cannot handle (so they raise and the error is recorded like rule-by-rule evaluation):
        # literal id -> (literal, its terms), the masks built only when that happens.
        self._fallback: dict[int, tuple[Lit, array[int]]] = {}
        self._lit: Lit | None = None
        self._term = 0  # the term whose literals are being added, for slots and equalities
        self._t = 0  # ... and its number
        self._set_slot = self._text_slot = 0
        self._eq_keys: frozenset[Any] = frozenset()  # the current term's accepted values
        self._eq_seen = False  # ... once it has an equality literal here
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
        self.text_sparse = False  # some needles' values are term numbers, not masks (Bits)
        self.text_slots_all: Any = 0
        self.text_shifts: tuple[int, ...] = ()
        self.text_top: int | None = None  # where the not_contains region starts, if any

    def index(self, lit: Lit, bit: int) -> bool:
        """Let the literal's operator describe itself; True if the index now decides it."""
        assert lit.op is not None
        assert not lit.negated
        if bit != self._term:
            self._term, self._set_slot, self._text_slot = bit, 0, 0
            self._t = bit.bit_length() - 1
            self._eq_keys, self._eq_seen = frozenset(), False
        self._lit = lit
        return lit.op.index_into(self, bit)

    def _use(self, bit: int, fallback: bool) -> None:
        self.all |= bit
        if fallback and self._lit is not None:
            entry = self._fallback.get(self._lit.id)
            if entry is None:
                entry = self._fallback[self._lit.id] = (self._lit, array("I"))
            if not entry[1] or entry[1][-1] != self._t:
                entry[1].append(self._t)

    def _mask(self, value: Any) -> Any:
        """A Bits value as a mask."""
        return mpz(from_ids(value, self.n)) if type(value) is Ids else value

    @property
    def fallback(self) -> list[tuple[Lit, Any]]:
        """(literal, its terms' mask) of the range / tag / text literals; built on request (only
        a value of a type the index cannot handle needs them)."""
        return [(lit, mpz(from_ids(ids, self.n))) for lit, ids in self._fallback.values()]

    # -- FieldSink -------------------------------------------------------------------------

    def add_eq(self, keys: frozenset[Any], bit: int) -> None:
        self._use(bit, False)
        t = self._t
        if self._eq_seen:  # a second equality in this term: the value must satisfy both
            for k in self._eq_keys - keys:
                terms = self._eq[k]
                if terms and terms[-1] == t:  # this term is the last one added for k
                    terms.pop()
            self._eq_keys &= keys
            return
        self.eq_all |= bit
        self._eq_keys, self._eq_seen = keys, True
        for k in keys:
            self._eq.setdefault(k, []).append(t)

    def add_neq(self, keys: frozenset[Any], bit: int) -> None:
        self._use(bit, False)
        for k in keys:
            self._neq.setdefault(k, []).append(self._t)

    def add_range(self, cmp: str, bound: Any, bit: int) -> None:
        self._use(bit, True)
        self._range_raw.setdefault(cmp, {}).setdefault(bound, []).append(self._t)
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
        while len(self._anyof_slots) <= slot:
            self._anyof_slots.append(([], {}))
        all_t, amap = self._anyof_slots[slot]
        all_t.append(self._t)
        for k in keys:
            amap.setdefault(k, []).append(self._t)
        self.anyof_all |= bit

    def add_none_of(self, keys: Iterable[Any], bit: int) -> None:
        self._use(bit, True)
        self.has_noneof = True
        for k in keys:
            self._noneof.setdefault(k, []).append(self._t)

    def add_needles(self, needles: Iterable[str], bit: int, at_start: bool = False) -> None:
        self._use(bit, True)
        slot = self._text_slot
        self._text_slot += 1
        while len(self._text_slots) <= slot:
            self._text_slots.append(([], {}))
        all_t, amap = self._text_slots[slot]
        all_t.append(self._t)
        for needle in needles:
            amap.setdefault((at_start, needle), []).append(self._t)
        self.text_all |= bit

    def add_absent_needle(self, needle: str, bit: int) -> None:
        self._use(bit, True)
        self.has_kill = True
        self._text_kill.setdefault(needle, []).append(self._t)

    # -- built once all rules are in ---------------------------------------------------------

    def finish(self, n_terms: int) -> None:
        n = self.n = n_terms
        self.full = mpz((1 << n) - 1)
        for cmp, raw in self._range_raw.items():
            cs = sorted(raw)
            masks = [from_ids(raw[c], n) for c in cs]
            acc = [0] * (len(cs) + 1)
            if cmp in ("gt", "ge"):  # suffix ORs: failures are thresholds >= / > value
                for i in range(len(cs) - 1, -1, -1):
                    acc[i] = acc[i + 1] | masks[i]
            else:  # prefix ORs: failures are thresholds <= / < value
                for i, m in enumerate(masks):
                    acc[i + 1] = acc[i] | m
            self.ranges.append((cmp, cs, acc))
        self._range_raw = {}
        bits = Bits(n)
        self.eq_map = {k: bits.of(ts) for k, ts in self._eq.items()}
        self.neq_map = {k: bits.of(ts) for k, ts in self._neq.items()}
        self._eq, self._neq = {}, {}
        # GMP from here on: the general path ANDs these with the GMP masks (no conversions)
        self.eq_all, self.pres_all, self.blank_all = (
            mpz(self.eq_all),
            mpz(self.pres_all),
            mpz(self.blank_all),
        )
        self.anyof_all, self.text_all, self.range_all = (
            mpz(self.anyof_all),
            mpz(self.text_all),
            mpz(self.range_all),
        )
        self._finish_sets(n)
        self._finish_text(n)

    def _finish_sets(self, n: int) -> None:
        nslots = len(self._anyof_slots)
        width = (nslots + 1) * n
        vals: dict[Any, list[int]] = {}  # key -> term numbers, slot k's shifted by k * n
        slots_all: list[int] = []
        for k, (all_t, amap) in enumerate(self._anyof_slots):
            slots_all += [t + k * n for t in all_t]
            for key, ts in amap.items():
                vals.setdefault(key, []).extend(t + k * n for t in ts)
        self.set_shifts = tuple(k * n for k in range(1, nslots))
        for key, ts in self._noneof.items():  # one more region: has_none hits
            vals.setdefault(key, []).extend(t + nslots * n for t in ts)
        if self._noneof:
            self.set_top = nslots * n
        self.set_vals = {key: mpz(from_ids(ts, width)) for key, ts in vals.items()}
        self.set_slots_all = mpz(from_ids(slots_all, width))
        self._anyof_slots, self._noneof = [], {}

    def _finish_text(self, n: int) -> None:
        nslots = len(self._text_slots)
        top = nslots * n  # region of the not_contains needles
        width = top + n
        # needle -> [term numbers anywhere (and absent << top), at start]
        per_needle: dict[str, tuple[list[int], list[int]]] = {}
        slots_all: list[int] = []
        for k, (all_t, tmap) in enumerate(self._text_slots):
            slots_all += [t + k * n for t in all_t]
            for (at_start, needle), ts in tmap.items():
                per_needle.setdefault(needle, ([], []))[1 if at_start else 0].extend(
                    t + k * n for t in ts
                )
        for needle, ts in self._text_kill.items():
            per_needle.setdefault(needle, ([], []))[0].extend(t + top for t in ts)
        self.text_top = top if self._text_kill else None
        self.text_shifts = tuple(k * n for k in range(1, nslots))
        self.text_slots_all = mpz(from_ids(slots_all, width))
        self._text_slots, self._text_kill = [], {}
        empty = per_needle.pop("", None)
        if empty is not None:  # "" is found in (and at the start of) every text
            self.text_always = mpz(from_ids(empty[0] + empty[1], width))
        if per_needle:
            # All needles in one Aho-Corasick automaton: one C pass over the text finds every
            # occurrence (nested and overlapping ones too) instead of one `in` test per needle.
            # Without starts_with needles a needle's value is just its mask.
            # A needle's terms are a mask, or (used by few terms: most needles, in large rule
            # sets) just their numbers, set one by one when the needle is found (see Bits).
            self.text_plain = not any(sv for _, sv in per_needle.values())
            bits = Bits(width)
            self.text_sparse = bits.sparse_max > 0
            auto = ahocorasick.Automaton()
            for needle, (cv_ids, sv_ids) in per_needle.items():
                if self.text_plain:
                    auto.add_word(needle, bits.of(cv_ids))
                else:
                    auto.add_word(needle, (bits.of(cv_ids), bits.of(sv_ids), len(needle) - 1))
            auto.make_automaton()
            self.text_auto = auto

    def pure_range(self) -> bool:
        """Only numeric range (and presence) literals: the answer is constant between thresholds."""
        return bool(self.ranges) and not (
            self.eq_all
            or self.neq_map
            or self.anyof_all
            or self.has_noneof
            or self.text_all
            or self.has_kill
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
                    out |= self.eq_all & ~self._mask(self.eq_map.get(key, 0))
                if self.neq_map:
                    out |= self._mask(self.neq_map.get(key, 0))
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
        if self.anyof_all or self.has_noneof:
            if v is None:
                out |= self.anyof_all
            elif isinstance(v, _COLLECTIONS):
                try:
                    out |= self.set_unmet(v)
                except TypeError:  # an unhashable member
                    return out, True
            else:
                bad = True
        if self.text_all or self.has_kill:
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
        if not self.text_sparse:
            return self._text_unmet_dense(v)
        hits = xmpz(self.text_always)
        if self.text_plain and self.text_auto is not None:
            for _, cv in self.text_auto.iter(v.casefold()):
                set_bits(hits, cv)
        elif self.text_auto is not None:
            for end, (cv, sv, last) in self.text_auto.iter(v.casefold()):
                set_bits(hits, cv)
                if end == last:  # the occurrence starts at 0: starts_with holds
                    set_bits(hits, sv)
        return _unmet(mpz(hits), self.text_slots_all, self.text_shifts, self.text_top, self.full)

    def _text_unmet_dense(self, v: str) -> Any:
        hits = self.text_always
        if self.text_plain and self.text_auto is not None:
            for _, cv in self.text_auto.iter(v.casefold()):
                hits |= cv
        elif self.text_auto is not None:
            for end, (cv, sv, last) in self.text_auto.iter(v.casefold()):
                hits |= cv
                if end == last:
                    hits |= sv
        return _unmet(hits, self.text_slots_all, self.text_shifts, self.text_top, self.full)


#: a needle used by at most (mask width / SPARSE_BITS) terms keeps their numbers, not a mask
SPARSE_BITS = 8192
Ids = array  # the type of a sparse value (array("I") of bit numbers)
_NO_IDS = array("I")


class Bits:
    """Chooses, for one index region of ``width`` bits, how a key's terms are kept: a mask
    (``width / 8`` bytes) or their bit numbers (4 bytes each).

    Measured (gmpy2, 2 cores): OR-ing a mask costs ~40 ns + width/200 ns, setting a bit ~38 ns, so
    up to about width / 8192 terms the numbers are as fast to apply as the mask and hundreds of
    times smaller. At 50,000 generated rules (width 196,000 bits for a field with 2 slots) a
    median needle has 3 terms: 12 bytes instead of 24 kB. Below 8,192 bits (about 5,000 rules)
    every key keeps a mask, so small rule sets run exactly the code they always ran.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.sparse_max = width // SPARSE_BITS

    def of(self, ids: list[int]) -> Any:
        """An mpz mask, or an ``array("I")`` of distinct bit numbers."""
        if not ids:
            return _NO_IDS if self.sparse_max else mpz(0)
        distinct = sorted(set(ids))
        if len(distinct) <= self.sparse_max:
            return array("I", distinct)
        return mpz(from_ids(distinct, self.width))


def set_bits(acc: Any, value: Any) -> None:
    """OR a Bits value into the xmpz ``acc`` in place."""
    if type(value) is Ids:
        for i in value:
            acc[i] = 1
    else:
        acc |= value


def from_ids(ids: Iterable[int], nbits: int) -> int:
    """The int with exactly the bits ``ids`` set (each below ``nbits``), in one pass: OR-ing
    ``1 << i`` one at a time would copy the growing int each time."""
    buf = bytearray((nbits + 8) // 8)
    for i in ids:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


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
    cap = memo_cap(full)

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
        if extra is None and len(memo) < cap and all(map(_memo_safe, values)):
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
    cap = memo_cap(full)
    name = fi.name
    compute = _general(fi, full)

    def general(snapshot: Mapping[str, Any]) -> tuple[int, Fallback | None]:
        keep, extra = compute(snapshot)
        v = snapshot.get(name)
        if extra is None and len(memo) < cap and _memo_safe(v):
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
            if len(memo) < cap and _memo_safe(v):
                memo[v] = keep
        return keep

    return Step("set", fast_set, general, fi.all, name=name, lookup=lookup)


def _no_fast(get: Callable[[str], Any]) -> int | None:
    return None


def _text_step(fi: FieldIndex, full: Any) -> Step:
    general = _general(fi, full)
    mixed = fi.eq_all or fi.neq_map or fi.pres_all or fi.blank_all or fi.ranges or fi.anyof_all
    if mixed or fi.has_noneof:
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
        sparse=fi.text_sparse,
        top=fi.text_top,
        full=full,
    )
