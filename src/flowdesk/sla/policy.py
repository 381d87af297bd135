"""SLA policies: format, validation and compiled form (docs/sla.md, "SLA policies and clocks").

Pure: no Django, no database, no clock. A policy list is validated as a whole; every problem is
collected with its path, YAML line and a suggestion, and raised together in one ``PolicyError``.
Conditions are the rule condition language, compiled by the engine's own compiler, so a policy
condition accepts and rejects exactly what a rule condition does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from flowdesk.engine.catalog import Catalog, default_catalog
from flowdesk.engine.compile import Collector, RuleCompiler, join
from flowdesk.engine.errors import RuleSetError
from flowdesk.engine.suggest import closest
from flowdesk.engine.tree import CondNode
from flowdesk.engine.vocabulary import PRIORITIES, SLA_METRICS, SOLVED_STATUSES, STATUSES
from flowdesk.engine.yamlio import check_yaml_nesting, line_map

POLICY_KEYS = (
    "name",
    "description",
    "conditions",
    "targets",
    "time",
    "pause_statuses",
    "calendar",
)
LONG_TARGET_KEYS = ("within", "time")
TIME_KINDS = ("business", "calendar")
DEFAULT_PAUSE_STATUSES = ("pending", "on-hold")
ROOT_KEY = "sla_policies"

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass(frozen=True)
class PolicyIssue:
    """One problem of a policy list: where (path from the document root, YAML line) and what."""

    source: str
    path: str
    line: int | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.suggestion is not None:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "suggestion": self.suggestion,
        }


class PolicyError(ValueError):
    """Every problem found in a policy list, raised together."""

    def __init__(self, issues: Iterable[PolicyIssue]) -> None:
        self.issues = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in SLA policies"
        return head + "".join("\n  " + str(i) for i in self.issues)


def parse_duration(value: Any) -> int | None:
    """Seconds of a duration: an int (seconds) or text such as "90s", "30m", "4h", "2d", "1h30m"
    (units in that order, each at most once; a day is 24 hours). None when it is not one or is
    not positive."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        return None
    seconds = sum(int(g) * n for g, (_, n) in zip(m.groups(), _UNITS, strict=True) if g)
    return seconds if seconds > 0 else None


def format_duration(seconds: int) -> str:
    """The normal text of a duration: largest units first, zero units left out (5400 -> "1h30m")."""
    parts = []
    rest = seconds
    for unit, n in _UNITS:
        q, rest = divmod(rest, n)
        if q:
            parts.append(f"{q}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Target:
    """A clock's target: ``seconds`` of business time (``business``) or of real time."""

    seconds: int
    business: bool


@dataclass(frozen=True)
class MetricTargets:
    """One metric's targets: per priority (``None`` key: every priority) and the kind of time."""

    by_priority: tuple[tuple[str | None, int], ...]
    business: bool

    def seconds_for(self, priority: str | None) -> int | None:
        for p, seconds in self.by_priority:
            if p is None or p == priority:
                return seconds
        return None


@dataclass(frozen=True)
class PolicyTargets:
    """What the clocks of one ticket need from its policy: the targets for the ticket's current
    priority (a metric without a target has no clock) and the statuses that pause them."""

    policy: str
    targets: Mapping[str, Target]
    pause_statuses: frozenset[str]


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    """An immutable, validated policy. ``matches`` evaluates its conditions on an engine
    snapshot (no conditions: every ticket matches)."""

    name: str
    description: str | None
    conditions: CondNode | None
    metrics: Mapping[str, MetricTargets]
    business: bool
    pause_statuses: tuple[str, ...]
    calendar: str | None
    _definition: dict[str, Any] = field(repr=False)

    def matches(self, snapshot: Mapping[str, Any]) -> bool:
        return self.conditions is None or self.conditions.evaluate(snapshot, {})

    def target(self, metric: str, priority: str | None) -> Target | None:
        mt = self.metrics.get(str(metric))
        if mt is None:
            return None
        seconds = mt.seconds_for(priority)
        return None if seconds is None else Target(seconds, mt.business)

    def targets_for(self, priority: str | None) -> PolicyTargets:
        """The input of ``clocks.compute_clocks`` for a ticket of this priority."""
        found = {m: t for m in SLA_METRICS if (t := self.target(m, priority)) is not None}
        return PolicyTargets(self.name, found, frozenset(self.pause_statuses))

    def to_dict(self) -> dict[str, Any]:
        """The normalised definition (durations as normal text, priorities in order); compiling
        it again gives an equal policy with the same ``to_dict``."""
        copied: dict[str, Any] = _copy(self._definition)
        return copied

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledPolicy) and self._definition == other._definition

    def __hash__(self) -> int:
        return hash(self.name)


def _full(prefix: str | None, path: str) -> str:
    if not prefix:
        return path
    return join(prefix, path) if path else prefix


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def choose(
    policies: Sequence[CompiledPolicy], snapshot: Mapping[str, Any]
) -> CompiledPolicy | None:
    """The first policy whose conditions hold for the snapshot; None when none does."""
    for policy in policies:
        if policy.matches(snapshot):
            return policy
    return None


class _Checker:
    def __init__(
        self,
        source: str,
        lines: Mapping[str, int] | None,
        known_calendars: Iterable[str] | None,
        catalog: Catalog,
    ) -> None:
        self.source = source
        self.col = Collector(source, lines)
        self.calendars = None if known_calendars is None else sorted(set(known_calendars))
        self.catalog = catalog
        self.compiler = RuleCompiler(catalog, self.col, {})

    @property
    def issues(self) -> list[PolicyIssue]:
        # Engine issues carry the path inside the policy; re-path them from the document root.
        return [
            PolicyIssue(self.source, _full(i.rule, i.path), i.line, i.message, i.suggestion)
            for i in self.col.issues
        ]

    def add(
        self, prefix: str, path: str, message: str, hint: str | None = None, key: bool = False
    ) -> None:
        self.col.add(prefix, prefix, path, message, hint, key=key)

    def unknown_keys(
        self,
        prefix: str,
        path: str,
        data: Mapping[str, Any],
        allowed: Sequence[str],
        what: str = "key",
    ) -> None:
        for k in data:
            if k not in allowed:
                hint = closest(str(k), allowed)
                self.add(prefix, join(path, str(k)), f"unknown {what} {k!r}", hint, key=True)

    def time_kind(self, prefix: str, path: str, raw: Any) -> bool | None:
        if raw not in TIME_KINDS:
            hint = closest(str(raw), TIME_KINDS) if isinstance(raw, str) else None
            self.add(prefix, path, f"time is 'business' or 'calendar', not {raw!r}", hint)
            return None
        return bool(raw == "business")

    def duration(self, prefix: str, path: str, raw: Any) -> int | None:
        seconds = parse_duration(raw)
        if seconds is None:
            self.add(
                prefix,
                path,
                f"{raw!r} is not a duration (a positive number of seconds, or text such as "
                "'90s', '30m', '4h', '2d', '1h30m')",
            )
        return seconds

    def durations(
        self, prefix: str, path: str, raw: Any
    ) -> tuple[tuple[tuple[str | None, int], ...], Any] | None:
        """(per priority, normal form) of a duration or a priority -> duration mapping."""
        if isinstance(raw, Mapping):
            if not raw:
                self.add(prefix, path, "a priority mapping needs at least one priority")
                return None
            ok = True
            found: dict[str, int] = {}
            for k, v in raw.items():
                if k not in PRIORITIES:
                    hint = closest(str(k), PRIORITIES)
                    self.add(prefix, join(path, str(k)), f"unknown priority {k!r}", hint, key=True)
                    ok = False
                    continue
                seconds = self.duration(prefix, join(path, str(k)), v)
                if seconds is None:
                    ok = False
                    continue
                found[k] = seconds
            if not ok:
                return None
            ordered = tuple((p, found[p]) for p in PRIORITIES if p in found)
            return ordered, {p: format_duration(s) for p, s in ordered}
        seconds = self.duration(prefix, path, raw)
        if seconds is None:
            return None
        return ((None, seconds),), format_duration(seconds)

    def policy(self, index: int, raw: Any, seen: dict[str, int]) -> CompiledPolicy | None:
        prefix = f"{ROOT_KEY}[{index}]"
        if not isinstance(raw, Mapping):
            self.add(prefix, "", "a policy is a mapping with 'name' and 'targets'")
            return None
        before = len(self.col.issues)
        self.unknown_keys(prefix, "", raw, POLICY_KEYS)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.add(prefix, "name", "a policy needs a non-empty 'name'")
        elif name in seen:
            self.add(
                prefix, "name", f"duplicate policy name {name!r} (also {ROOT_KEY}[{seen[name]}])"
            )
        else:
            seen[name] = index
        desc = raw.get("description")
        if desc is not None and not isinstance(desc, str):
            self.add(prefix, "description", "description must be text")

        cond: CondNode | None = None
        if raw.get("conditions") is not None:
            cond = self.compiler.condition(prefix, prefix, "conditions", raw["conditions"])
            if cond is not None:
                sla_fields = sorted(f for f in cond.fields() if f.startswith("sla."))
                if sla_fields:
                    self.add(
                        prefix,
                        "conditions",
                        f"a policy condition cannot read SLA fields ({', '.join(sla_fields)}): "
                        "they are the result of choosing the policy",
                    )

        business = True
        if "time" in raw:
            kind = self.time_kind(prefix, "time", raw["time"])
            business = True if kind is None else kind

        pause: tuple[str, ...] = DEFAULT_PAUSE_STATUSES
        raw_pause = raw.get("pause_statuses", list(DEFAULT_PAUSE_STATUSES))
        if not isinstance(raw_pause, list):
            self.add(prefix, "pause_statuses", "pause_statuses is a list of statuses")
        else:
            good: list[str] = []
            for i, status in enumerate(raw_pause):
                spath = join("pause_statuses", i)
                if status not in STATUSES:
                    hint = closest(str(status), STATUSES)
                    self.add(prefix, spath, f"unknown status {status!r}", hint)
                elif status in SOLVED_STATUSES:
                    self.add(
                        prefix,
                        spath,
                        f"{status!r} cannot be a pause status: solved and closed tickets stop "
                        "the clocks",
                    )
                elif status in good:
                    self.add(prefix, spath, f"status {status!r} is listed twice")
                else:
                    good.append(status)
            pause = tuple(s for s in STATUSES if s in good)

        calendar = raw.get("calendar")
        if calendar is not None:
            if not isinstance(calendar, str) or not calendar.strip():
                self.add(prefix, "calendar", "calendar is the name of a stored calendar")
                calendar = None
            elif self.calendars is not None and calendar not in self.calendars:
                hint = closest(calendar, self.calendars)
                self.add(prefix, "calendar", f"unknown calendar {calendar!r}", hint)

        metrics: dict[str, MetricTargets] = {}
        norm_targets: dict[str, Any] = {}
        targets = raw.get("targets")
        if not isinstance(targets, Mapping) or not targets:
            self.add(
                prefix,
                "targets",
                "a policy needs 'targets': a mapping of metric (first_reply, next_reply, "
                "periodic_update, resolution) to a duration",
            )
            targets = {}
        self.unknown_keys(prefix, "targets", targets, SLA_METRICS, "metric")
        for metric in SLA_METRICS:
            if metric not in targets:
                continue
            mpath = join("targets", metric)
            value = targets[metric]
            m_business = business
            if isinstance(value, Mapping) and "within" in value:
                self.unknown_keys(prefix, mpath, value, LONG_TARGET_KEYS)
                if "time" in value:
                    kind = self.time_kind(prefix, join(mpath, "time"), value["time"])
                    m_business = business if kind is None else kind
                found = self.durations(prefix, join(mpath, "within"), value["within"])
            elif isinstance(value, Mapping) and "time" in value:
                self.add(
                    prefix,
                    join(mpath, "time"),
                    "a metric's own time needs the long form {within: <duration>, time: ...}",
                    key=True,
                )
                found = None
            else:
                found = self.durations(prefix, mpath, value)
            if found is None:
                continue
            by_priority, normal = found
            metrics[metric] = MetricTargets(by_priority, m_business)
            if m_business != business:
                normal = {"within": normal, "time": "business" if m_business else "calendar"}
            norm_targets[metric] = normal

        if len(self.col.issues) != before or not isinstance(name, str):
            return None
        definition: dict[str, Any] = {"name": name}
        if desc is not None:
            definition["description"] = desc
        if cond is not None:
            definition["conditions"] = cond.normalised()
        definition["targets"] = norm_targets
        definition["time"] = "business" if business else "calendar"
        definition["pause_statuses"] = list(pause)
        if calendar is not None:
            definition["calendar"] = calendar
        return CompiledPolicy(
            name=name,
            description=desc,
            conditions=cond,
            metrics=metrics,
            business=business,
            pause_statuses=pause,
            calendar=calendar,
            _definition=definition,
        )


def compile_policies(
    data: Any,
    *,
    source: str = "<input>",
    lines: Mapping[str, int] | None = None,
    known_calendars: Iterable[str] | None = None,
    catalog: Catalog | None = None,
) -> tuple[CompiledPolicy, ...]:
    """Validate and compile a policy list: ``{"sla_policies": [...]}`` or the list itself. Paths
    are from ``sla_policies`` in both cases (``sla_policies[1].targets.resolution.urgnt``).
    ``known_calendars``: the stored calendar names a policy's ``calendar`` must be one of (not
    checked when None). ``catalog``: the fields conditions may read (default_catalog())."""
    checker = _Checker(source, lines, known_calendars, catalog or default_catalog())
    items: Any = data
    if isinstance(data, Mapping):
        checker.unknown_keys("", "", data, (ROOT_KEY,))
        items = data.get(ROOT_KEY)
    if not isinstance(items, list):
        checker.add(ROOT_KEY, "", f"'{ROOT_KEY}' must be a list of policies")
        raise PolicyError(checker.issues)
    seen: dict[str, int] = {}
    compiled = [checker.policy(i, raw, seen) for i, raw in enumerate(items)]
    if checker.col.issues:
        raise PolicyError(checker.issues)
    return tuple(p for p in compiled if p is not None)


def load_policies_yaml(
    text: str,
    source: str = "<yaml>",
    known_calendars: Iterable[str] | None = None,
    catalog: Catalog | None = None,
) -> tuple[CompiledPolicy, ...]:
    """Parse YAML (a document ``sla_policies: [...]`` or a bare list) and compile it; every issue
    carries the line of the offending node (of the key itself for unknown keys)."""
    try:
        check_yaml_nesting(text, source=source)
        lines, dups = line_map(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(
            [PolicyIssue(source, "", line, f"YAML syntax error: {problem}")]
        ) from None
    except RuleSetError as exc:  # too deeply nested
        raise PolicyError(
            PolicyIssue(source, i.path, i.line, i.message, i.suggestion) for i in exc.issues
        ) from None
    if isinstance(data, list):
        lines = {ROOT_KEY + k: v for k, v in lines.items()}
        dups = [(ROOT_KEY + p, n) for p, n in dups]
    issues = [PolicyIssue(source, path, line, "duplicate key") for path, line in dups]
    try:
        policies = compile_policies(
            data, source=source, lines=lines, known_calendars=known_calendars, catalog=catalog
        )
    except PolicyError as exc:
        raise PolicyError(issues + exc.issues) from None
    if issues:
        raise PolicyError(issues)
    return policies


def dump_policies_yaml(policies: Iterable[CompiledPolicy]) -> str:
    """YAML text of the normalised policies; ``load_policies_yaml`` reads it back equal."""
    text: str = yaml.safe_dump(
        {ROOT_KEY: [p.to_dict() for p in policies]},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
    return text
