"""Condition operators: one small registered class per operator.

Each operator declares the field kinds it accepts, a pydantic ``Config`` (the leaf's keys besides
``field``/``op``), and how the matcher may index it (``index_into``): the operator knows what it
means, so it tells the field's index which primitive to use; the matcher has no table of operator
names, and adding an operator touches one class. Everything value-dependent (case folding, regex
compilation) happens in ``__init__``, i.e. once at compile time, never per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

import re2
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from flowdesk.core.registry import Registry

from .catalog import Catalog, FieldSpec, check_value, parse_date
from .prefilter import required_needles

ALL_KINDS = frozenset(
    {"enum", "text", "int", "number", "bool", "tags", "set", "ref", "date", "any"}
)
SCALAR_KINDS = frozenset({"enum", "text", "int", "number", "bool", "ref", "date", "any"})
TEXT_KINDS = frozenset({"text", "any"})
ORDERED_KINDS = frozenset({"int", "number", "date", "any"})
COLLECTION_KINDS = frozenset({"tags", "set"})
#: kinds whose equality literals the matcher may put in a hash index (values are plain hashables)
EQ_INDEX_KINDS = frozenset({"enum", "text", "int", "number", "bool", "ref", "any"})
RANGE_INDEX_KINDS = frozenset({"int", "number"})

Problem = tuple[str, str, str | None]  # (sub-path relative to the leaf, message, suggestion)


class FieldSink(Protocol):
    """What an operator may put into the index of its field (``fieldindex.FieldIndex``).

    Each call records "this term's literal holds exactly when ..." for the term ``bit``; the index
    answers all rules' literals on the field with a few big-integer operations per event.
    """

    def add_eq(self, keys: frozenset[Any], bit: int) -> None:
        """Holds iff the (folded) value is one of ``keys``."""

    def add_neq(self, keys: frozenset[Any], bit: int) -> None:
        """Holds iff the (folded) value is none of ``keys`` (also when it is unset)."""

    def add_range(self, cmp: str, bound: Any, bit: int) -> None:
        """Holds iff the number compares ``cmp`` (gt/ge/lt/le) with ``bound``; false when unset."""

    def add_presence(self, present: bool, bit: int) -> None:
        """Holds iff the value is (not) blank."""

    def add_any_of(self, keys: Iterable[Any], bit: int) -> None:
        """Holds iff the collection has a member in ``keys``; false when unset."""

    def add_none_of(self, keys: Iterable[Any], bit: int) -> None:
        """Holds iff the collection has no member in ``keys`` (also when unset)."""

    def add_needles(self, needles: Iterable[str], bit: int, at_start: bool = False) -> None:
        """Holds iff one of the folded ``needles`` occurs in the folded text (at its start)."""

    def add_absent_needle(self, needle: str, bit: int) -> None:
        """Holds iff the folded ``needle`` does not occur in the folded text (or it is unset)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoValue(_Strict):
    """Operators that look only at the field."""


class AnyValue(_Strict):
    value: Any = Field(description="The value to compare with (checked against the field).")


class ValueList(_Strict):
    value: list[Any] = Field(min_length=1, description="Accepted values.")


class TextValue(_Strict):
    value: StrictStr = Field(description="Text to look for (case-insensitive).")


class PatternValue(_Strict):
    value: StrictStr = Field(
        description="Regular expression in RE2 syntax (linear time: no backreferences or "
        "lookaround), searched anywhere; case-sensitive unless it starts with (?i)."
    )


class OrderedValue(_Strict):
    value: StrictInt | StrictFloat | StrictStr = Field(
        description="A number, or an ISO date/datetime for date fields."
    )


class TagList(_Strict):
    value: list[StrictStr] = Field(min_length=1, description="Tags (or set members) to look for.")


class SourceVars(Protocol):
    """Names an operator may use in the Python expression it returns from ``source``
    (``linear.py`` binds them in a generated function)."""

    def raw(self) -> str:
        """The local holding the field's value, checked to have the type its kind promises
        (text: str or None; tags/set: frozenset or None; int/number: int, float or None)."""

    def folded(self) -> str:
        """The local holding the value case-folded if it is text (like ``fold``)."""

    def const(self, value: Any) -> str:
        """A global bound to ``value``."""


def is_blank(value: Any) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, frozenset | set | list | tuple | dict) and len(value) == 0


def fold(value: Any) -> Any:
    """Case-fold text so text comparisons are case-insensitive; leave other values alone."""
    return value.casefold() if isinstance(value, str) else value


def folded(value: Any) -> Any:
    """``fold`` for values kept by compiled rules: text that is already folded is returned as
    is, not as an equal copy (tens of thousands of e-mails and needles in a large rule set)."""
    if not isinstance(value, str):
        return value
    out = value.casefold()
    return value if out == value else out


def hashable(values: Iterable[Any]) -> bool:
    try:
        for v in values:
            hash(v)
    except TypeError:
        return False
    return True


C = TypeVar("C", bound=BaseModel)


class Operator(Generic[C]):
    """Base class. Subclasses set ``name``/``kinds``/``Config`` and implement ``test``.

    ``C`` is the type of ``Config``: subclasses say ``Operator[TextValue]`` so ``self.config``
    (and the ``config`` given to ``problems``) are typed without casts.

    Memory: a large rule set has one operator per distinct condition (tens of thousands), so the
    built-in operators have ``__slots__`` and set ``compact``: they keep ``value`` only, and
    ``config`` is rebuilt from it on request (a pydantic instance and its field set were ~370
    bytes per condition). A subclass without ``__slots__`` simply gets a ``__dict__``, and one
    that leaves ``compact`` False keeps its validated config as it is.
    """

    __slots__ = ("_config", "field", "fname", "folds", "value")

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    Config: ClassVar[type[BaseModel]] = NoValue
    #: operator whose result is exactly ``not self`` (lets negations stay indexable)
    complement: ClassVar[str | None] = None
    #: the operator compares ``value`` with the field (so values are checked against it)
    checks_value: ClassVar[bool] = True
    #: ``config`` may be rebuilt from ``value`` when ``Config`` has no other field (``test``
    #: never reads ``self.config``: it would be rebuilt on every call)
    compact: ClassVar[bool] = False

    def __init__(self, field: FieldSpec, config: C) -> None:
        self.field = field
        self.fname = field.name
        self.value: Any = getattr(config, "value", None)
        small = self.compact and set(self.Config.model_fields) <= {"value"}
        self._config: C | None = None if small else config
        self.folds = field.kind == "text"
        self.prepare()

    @property
    def config(self) -> C:
        """The validated config (for a ``compact`` operator, rebuilt from ``value``: equal to
        the one validated, as ``model_dump`` shows)."""
        if self._config is not None:
            return self._config
        values = {"value": self.value} if "value" in self.Config.model_fields else {}
        return cast(C, self.Config.model_construct(**values))

    def prepare(self) -> None:
        """Precompute per-rule data; called once at compile time."""

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        """Describe this literal (for the DNF term ``bit``) to its field's index. True: the index
        now decides it exactly. False: the matcher evaluates it lazily, once per event, while a
        surviving term needs it (the default; the index may still have been given a necessary
        condition that rules most events out cheaply)."""
        return False

    def required_values(self) -> frozenset[Any] | None:
        """The (folded) values the field must hold for this literal to be true, if it says so:
        a term requiring two disjoint sets on one field is dropped at compile time."""
        return None

    def source(self, v: SourceVars) -> str | None:
        """A Python expression equal to ``test`` (or raising) on values of the promised type,
        for the straight-line evaluator; None: it calls ``test`` instead."""
        return None

    @classmethod
    def problems(cls, catalog: Catalog, field: FieldSpec, config: C) -> list[Problem]:
        if not cls.checks_value or not hasattr(config, "value"):
            return []
        value = config.value
        items: list[tuple[int | None, Any]]
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        out: list[Problem] = []
        for i, item in items:
            if item is None:
                out.append(("value", "value must not be null (use 'blank' / 'present')", None))
                continue
            bad = check_value(catalog, field, item)
            if bad:
                out.append(("value" if i is None else f"value[{i}]", bad[0], bad[1]))
        return out

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        raise NotImplementedError

    def expected(self) -> str:
        return self.name if not hasattr(self.config, "value") else f"{self.name} {self.value!r}"

    def reads_members(self) -> frozenset[str] | None:
        """Of a set-valued field (tags, followers), the members this test depends on; None:
        any member's change may change its result (the flowchart's cascade edges)."""
        return None


CONDITION_OPERATORS: Registry[type[Operator[Any]]] = Registry("condition operator")
OpT = TypeVar("OpT", bound=type[Operator[Any]])


def register(cls: OpT) -> OpT:
    CONDITION_OPERATORS.add(cls.name, cls)
    return cls


@register
class Is(Operator[AnyValue]):
    """Exact equality (case-insensitive on text fields), so 'Billing' and 'billing' agree."""

    __slots__ = ("date", "key")
    compact = True

    name = "is"
    kinds = SCALAR_KINDS
    Config = AnyValue
    complement = "is_not"

    def prepare(self) -> None:
        self.key = folded(self.value) if self.folds else self.value
        self.date = parse_date(self.value) if self.field.kind == "date" else None

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = snapshot.get(self.fname)
        if self.date is not None:
            return v is not None and parse_date(v) == self.date
        return bool((fold(v) if self.folds else v) == self.key)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        keys = frozenset([self.key])
        if self.field.kind not in EQ_INDEX_KINDS or not hashable(keys):
            return False  # dates compare parsed; unhashable values cannot be dict keys
        sink.add_eq(keys, bit)
        return True

    def required_values(self) -> frozenset[Any] | None:
        if self.date is not None or not hashable([self.key]):
            return None
        return frozenset([self.key])

    def source(self, v: SourceVars) -> str | None:
        if self.date is not None:
            return None
        return f"({v.folded() if self.folds else v.raw()} == {v.const(self.key)})"


@register
class IsNot(Is):
    """Negation of ``is``; true when the field is unset, because unset is not that value."""

    __slots__ = ()

    name = "is_not"
    complement = "is"

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        keys = frozenset([self.key])
        if self.field.kind not in EQ_INDEX_KINDS or not hashable(keys):
            return False
        sink.add_neq(keys, bit)
        return True

    def required_values(self) -> frozenset[Any] | None:
        return None

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return not Is.test(self, snapshot, changes)

    def source(self, v: SourceVars) -> str | None:
        eq = Is.source(self, v)
        return None if eq is None else f"(not {eq})"


@register
class In(Operator[ValueList]):
    """Membership in a list of values; one hash lookup per event thanks to the index."""

    __slots__ = ("keys",)
    compact = True

    name = "in"
    kinds = SCALAR_KINDS - {"date"}
    Config = ValueList
    complement = "not_in"

    def prepare(self) -> None:
        self.keys = frozenset(folded(v) if self.folds else v for v in self.value)

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = snapshot.get(self.fname)
        try:
            return (fold(v) if self.folds else v) in self.keys
        except TypeError:  # unhashable value: it cannot equal any of our hashable values
            return False

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind not in EQ_INDEX_KINDS or not hashable(self.keys):
            return False
        sink.add_eq(self.keys, bit)
        return True

    def required_values(self) -> frozenset[Any] | None:
        return self.keys

    def source(self, v: SourceVars) -> str | None:
        return f"({v.folded() if self.folds else v.raw()} in {v.const(self.keys)})"


@register
class NotIn(In):
    """Negation of ``in``; true when the field is unset."""

    __slots__ = ()

    name = "not_in"
    complement = "in"

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind not in EQ_INDEX_KINDS or not hashable(self.keys):
            return False
        sink.add_neq(self.keys, bit)
        return True

    def required_values(self) -> frozenset[Any] | None:
        return None

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return not In.test(self, snapshot, changes)

    def source(self, v: SourceVars) -> str | None:
        return f"(not {In.source(self, v)})"


class _TextOp(Operator[C]):
    __slots__ = ("needle",)
    compact = True
    kinds = TEXT_KINDS
    Config: ClassVar[type[BaseModel]] = TextValue
    checks_value = False

    def prepare(self) -> None:
        self.needle = folded(self.value)

    def _text(self, snapshot: Mapping[str, Any]) -> str | None:
        v = snapshot.get(self.fname)
        if v is None:
            return None
        if not isinstance(v, str):
            raise TypeError(f"{self.fname}: {self.name} needs text, got {type(v).__name__}")
        return v.casefold()


@register
class Contains(_TextOp[TextValue]):
    """Case-insensitive substring test (agents type subjects in any case)."""

    __slots__ = ()

    name = "contains"
    complement = "not_contains"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._text(snapshot)
        return v is not None and self.needle in v

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind != "text":
            return False
        sink.add_needles((self.needle,), bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        if self.field.kind != "text":
            return None
        f = v.folded()
        return f"({f} is not None and {v.const(self.needle)} in {f})"


@register
class NotContains(Contains):
    """Negation of ``contains``; true on an unset field."""

    __slots__ = ()

    name = "not_contains"
    complement = "contains"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return not Contains.test(self, snapshot, changes)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind != "text":
            return False
        sink.add_absent_needle(self.needle, bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        if self.field.kind != "text":
            return None
        f = v.folded()
        return f"({f} is None or {v.const(self.needle)} not in {f})"


@register
class StartsWith(_TextOp[TextValue]):
    """Case-insensitive prefix test, e.g. subjects starting with '[ALERT]'."""

    __slots__ = ()

    name = "starts_with"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._text(snapshot)
        return v is not None and v.startswith(self.needle)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind != "text":
            return False
        sink.add_needles((self.needle,), bit, at_start=True)
        return True

    def source(self, v: SourceVars) -> str | None:
        if self.field.kind != "text":
            return None
        f = v.folded()
        return f"({f} is not None and {f}.startswith({v.const(self.needle)}))"


class RegexError(ValueError):
    """A pattern the linear-time engine refuses; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.hint = hint


# RE2 error text (prefix) -> (the construct, a hint). RE2 keeps its linear-time guarantee by
# leaving out exactly the constructs that need backtracking, so they get a sentence each.
_RE2_UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    (
        "invalid perl operator: (?=",
        "lookahead (?=...)",
        "match the text itself, or add a second condition",
    ),
    (
        "invalid perl operator: (?!",
        "negative lookahead (?!...)",
        "use a not-matching condition: put the pattern under 'none'",
    ),
    (
        "invalid perl operator: (?<=",
        "lookbehind (?<=...)",
        "include the preceding text in the pattern",
    ),
    (
        "invalid perl operator: (?<!",
        "negative lookbehind (?<!...)",
        "use a second condition under 'none'",
    ),
    (
        "invalid perl operator: (?>",
        "atomic group (?>...)",
        "use a plain group (?:...): RE2 never backtracks, so it is not needed",
    ),
    (
        "invalid perl operator: (?P",
        "named backreference (?P=name)",
        "backreferences need backtracking; match the repeated text explicitly",
    ),
    ("invalid perl operator: (?#", "comment group (?#...)", "remove the comment"),
    (
        "invalid perl operator: (?x",
        "verbose flag (?x)",
        "write the pattern without whitespace and comments",
    ),
    ("bad repetition operator: ++", "possessive quantifier ++", "use + (RE2 never backtracks)"),
    ("bad repetition operator: *+", "possessive quantifier *+", "use * (RE2 never backtracks)"),
    ("bad repetition operator: ?+", "possessive quantifier ?+", "use ? (RE2 never backtracks)"),
    ("invalid escape sequence: \\Z", "\\Z", "use \\z (end of text)"),
    ("invalid escape sequence: \\u", "\\uXXXX escape", "use \\x{XXXX}"),
    ("invalid escape sequence: \\U", "\\UXXXXXXXX escape", "use \\x{XXXXXX}"),
    ("invalid escape sequence: \\N", "\\N{NAME} escape", "use \\x{XXXX}"),
    (
        "invalid repetition size",
        "a repetition count over 1000",
        "repetition counts are at most 1000, nested counts multiplied; use + or * instead",
    ),
    (
        "pattern too large",
        "a pattern this large (over the 8 MiB program limit)",
        "split it into several conditions under 'any'",
    ),
)


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error is reported to whoever wrote the rule, not stderr
    options.never_capture = True  # a condition only asks "is there a match"
    return options


def compile_regex(pattern: str) -> Any:
    """Compile a rule regex with RE2, whose matching time is linear in the text whatever the
    pattern (Python's ``re`` backtracks: ``(a+)+$`` on 30 characters takes minutes, and anyone
    who can send a subject could send those). Raises ``RegexError`` naming the construct."""
    try:
        return re2.compile(pattern, _re2_options())
    except re2.error as exc:
        raw = exc.args[0] if exc.args else exc
        detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    raise RegexError(*_unsupported(detail))


def _unsupported(detail: str) -> tuple[str, str | None]:
    engine = "the linear-time regex engine (RE2)"
    for prefix, construct, hint in _RE2_UNSUPPORTED:
        if detail.startswith(prefix):
            return f"{construct} is not supported by {engine}: {detail}", hint
    if detail.startswith("invalid escape sequence: \\") and detail[-1:].isdigit():
        ref = detail.rsplit(" ", 1)[-1]
        return f"backreference {ref} is not supported by {engine}", (
            "backreferences need backtracking; match the repeated text explicitly"
        )
    return f"invalid regular expression: {detail}", None


def _searcher(compiled: Any) -> Any:
    """``text -> bool``: whether ``compiled`` matches anywhere in ``text``.

    Straight to RE2's ``Match`` on the UTF-8 bytes when the binding exposes it (no match object
    and no offset decoding: faster than ``re.search``); else through the public ``search``."""
    low = getattr(compiled, "_regexp", None)
    match = getattr(low, "Match", None)
    unanchored = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)
    if match is None or unanchored is None:
        search = compiled.search
        return lambda text: search(text) is not None
    anchor = unanchored.UNANCHORED

    def found(text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return bool(match(anchor, data, 0, len(data))[0][0] >= 0)

    return found


@register
class Matches(_TextOp[PatternValue]):
    """RE2 regex searched anywhere: linear time in the text whatever the pattern, so no rule and
    no text can hold an update; compiled once so a bad (or unsupported) pattern fails when saved."""

    __slots__ = ("needles", "pattern", "search")

    name = "matches"
    Config = PatternValue

    @classmethod
    def problems(cls, catalog: Catalog, field: FieldSpec, config: PatternValue) -> list[Problem]:
        try:
            compile_regex(config.value)
        except RegexError as exc:
            # The hint is advice, not a name: Issue.suggestion renders as "did you mean ...?"
            hint = f"; hint: {exc.hint}" if exc.hint else ""
            return [("value", f"{exc}{hint}", None)]
        return []

    def prepare(self) -> None:
        self.pattern = compile_regex(self.value)
        self.search = _searcher(self.pattern)
        self.needles = required_needles(self.value)

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = snapshot.get(self.fname)
        if v is None:
            return False
        if not isinstance(v, str):
            raise TypeError(f"{self.fname}: matches needs text, got {type(v).__name__}")
        return bool(self.search(v))

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        # A regex is dearer than the index's whole step, and most texts cannot match it: when
        # every match must contain one of a few literals, the needle automaton rules out the
        # texts lacking all of them and the regex runs only on the others.
        if self.field.kind == "text" and self.needles:
            sink.add_needles(self.needles, bit)
        return False

    def source(self, v: SourceVars) -> str | None:
        if self.field.kind != "text":
            return None
        r = v.raw()
        return f"({r} is not None and {v.const(self.search)}({r}))"


_CMP_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class _Compare(Operator[OrderedValue]):
    __slots__ = ("bound", "is_date")
    compact = True
    kinds = ORDERED_KINDS
    Config = OrderedValue
    #: the index primitive (FieldSink.add_range) this comparison is
    cmp: ClassVar[str]

    @classmethod
    def problems(cls, catalog: Catalog, field: FieldSpec, config: OrderedValue) -> list[Problem]:
        value = config.value
        if field.kind == "date":
            if parse_date(value) is None:
                return [("value", f"{cls.name} on a date needs an ISO date, got {value!r}", None)]
            return []
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [("value", f"{cls.name} needs a number, got {value!r}", None)]
        return []

    def prepare(self) -> None:
        self.is_date = self.field.kind == "date"
        self.bound: Any = parse_date(self.value) if self.is_date else self.value

    def _operand(self, snapshot: Mapping[str, Any]) -> Any:
        v = snapshot.get(self.fname)
        if v is None:
            return None
        if self.is_date:
            d = parse_date(v)
            if d is None:
                raise TypeError(f"{self.fname}: not a date: {v!r}")
            return d
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"{self.fname}: {self.name} needs a number, got {type(v).__name__}")
        return v

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        if self.field.kind not in RANGE_INDEX_KINDS:
            return False  # dates compare parsed values
        sink.add_range(self.cmp, self.value, bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        if self.field.kind not in RANGE_INDEX_KINDS:
            return None
        r = v.raw()
        return f"({r} is not None and {r} {_CMP_SYMBOLS[self.cmp]} {v.const(self.bound)})"


@register
class GreaterThan(_Compare):
    """Strictly greater; an unset field is never greater (nor smaller) than anything."""

    __slots__ = ()

    name = "greater_than"
    cmp = "gt"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._operand(snapshot)
        return v is not None and v > self.bound


@register
class GreaterOrEqual(_Compare):
    """Greater or equal; false on an unset field."""

    __slots__ = ()

    name = "greater_or_equal"
    cmp = "ge"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._operand(snapshot)
        return v is not None and v >= self.bound


@register
class LessThan(_Compare):
    """Strictly less; false on an unset field (unset is not 'zero')."""

    __slots__ = ()

    name = "less_than"
    cmp = "lt"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._operand(snapshot)
        return v is not None and v < self.bound


@register
class LessOrEqual(_Compare):
    """Less or equal; false on an unset field."""

    __slots__ = ()

    name = "less_or_equal"
    cmp = "le"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        v = self._operand(snapshot)
        return v is not None and v <= self.bound


@register
class Present(Operator[NoValue]):
    """The field has a value: not None, not '', not an empty set."""

    __slots__ = ()
    compact = True

    name = "present"
    kinds = ALL_KINDS
    complement = "blank"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return not is_blank(snapshot.get(self.fname))

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        sink.add_presence(True, bit)
        return True


@register
class Blank(Operator[NoValue]):
    """The field is None, '' or an empty set."""

    __slots__ = ()
    compact = True

    name = "blank"
    kinds = ALL_KINDS
    complement = "present"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return is_blank(snapshot.get(self.fname))

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        sink.add_presence(False, bit)
        return True


@register
class Changed(Operator[NoValue]):
    """The field is in the accumulated change set (event changes plus earlier rules' changes)."""

    __slots__ = ()
    compact = True

    name = "changed"
    kinds = ALL_KINDS

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        return self.fname in changes

    def source(self, v: SourceVars) -> str | None:
        return f"({v.const(self.fname)} in changes)"


class _ChangedValue(Operator[AnyValue]):
    __slots__ = ("key",)
    compact = True
    kinds = SCALAR_KINDS
    Config = AnyValue
    side: ClassVar[int]

    @classmethod
    def problems(cls, catalog: Catalog, field: FieldSpec, config: AnyValue) -> list[Problem]:
        if config.value is None:
            return []  # "changed from nothing" is meaningful (e.g. first assignment)
        return super().problems(catalog, field, config)

    def prepare(self) -> None:
        self.key = folded(self.value) if self.folds else self.value

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        pair = changes.get(self.fname)
        if pair is None:
            return False
        v = pair[self.side]
        return bool((fold(v) if self.folds else v) == self.key)


@register
class ChangedFrom(_ChangedValue):
    """The field changed in this update and its value before the update was ``value``."""

    __slots__ = ()

    name = "changed_from"
    side = 0


@register
class ChangedTo(_ChangedValue):
    """The field changed in this update and now holds ``value``."""

    __slots__ = ()

    name = "changed_to"
    side = 1


class _TagsOp(Operator[TagList]):
    __slots__ = ("tags",)
    compact = True
    kinds = COLLECTION_KINDS
    Config = TagList

    def prepare(self) -> None:
        lower = self.field.kind == "tags"
        self.tags = frozenset(t.lower() if lower else t for t in self.value)

    @classmethod
    def problems(cls, catalog: Catalog, field: FieldSpec, config: TagList) -> list[Problem]:
        out: list[Problem] = []
        for i, item in enumerate(config.value):
            bad = check_value(catalog, field, item)
            if bad:
                out.append((f"value[{i}]", bad[0], bad[1]))
        return out

    def reads_members(self) -> frozenset[str] | None:
        return frozenset(self.tags)

    def _members(self, snapshot: Mapping[str, Any]) -> Any:
        v = snapshot.get(self.fname)
        if v is None:
            return frozenset()
        if not isinstance(v, frozenset | set | list | tuple):
            raise TypeError(f"{self.fname}: {self.name} needs a set, got {type(v).__name__}")
        return v


@register
class HasAny(_TagsOp):
    """At least one of the tags is present."""

    __slots__ = ()

    name = "has_any"
    complement = "has_none"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        members = self._members(snapshot)
        return any(t in members for t in self.tags)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        sink.add_any_of(self.tags, bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        r = v.raw()
        return f"({r} is not None and not {r}.isdisjoint({v.const(self.tags)}))"


@register
class HasAll(_TagsOp):
    """Every one of the tags is present."""

    __slots__ = ()

    name = "has_all"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        members = self._members(snapshot)
        return all(t in members for t in self.tags)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        for tag in sorted(self.tags):  # has_all [a, b] = has_any [a] and has_any [b]
            sink.add_any_of((tag,), bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        r = v.raw()
        return f"({r} is not None and {v.const(self.tags)} <= {r})"


@register
class HasNone(_TagsOp):
    """None of the tags is present (true on an empty or unset set)."""

    __slots__ = ()

    name = "has_none"
    complement = "has_any"

    def test(self, snapshot: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]]) -> bool:
        members = self._members(snapshot)
        return not any(t in members for t in self.tags)

    def index_into(self, sink: FieldSink, bit: int) -> bool:
        sink.add_none_of(self.tags, bit)
        return True

    def source(self, v: SourceVars) -> str | None:
        r = v.raw()
        return f"({r} is None or {r}.isdisjoint({v.const(self.tags)}))"


def operators_for_kind(kind: str) -> list[str]:
    return [name for name, cls in CONDITION_OPERATORS.items() if kind in cls.kinds]
