"""SLA clocks, recomputed from a ticket's whole history (docs/sla.md, "SLA policies and clocks").

Pure: no Django, no database, no clock (``now`` is an argument). ``compute_clocks`` is a function
of the policy's targets for the ticket's current priority, the ticket's timeline, the calendar and
``now``; nothing is carried over from an earlier computation, so re-evaluation is exact (a raised
priority applies the new target to the time already used).

Every metric's clock measures a *window* of the timeline: first_reply from creation to the first
agent message; next_reply from the first customer message after the last agent message to the
next agent message (repeating: cycles); periodic_update from creation or an agent message to the
next agent message (cycles); resolution from creation to the instant the ticket is (last) solved
or closed. Inside its window a clock does not run while the status is a pause status or solved /
closed. Elapsed time is business seconds on the calendar (business targets; no calendar: 24/7) or
real seconds (calendar targets). A clock is breached once its elapsed time reaches the target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowdesk.calendars import (
    Calendar,
    NaiveDatetimeError,
    add_business_time,
    business_seconds_between,
)
from flowdesk.engine.vocabulary import SLA_METRICS, SOLVED_STATUSES, STATUSES, SlaMetric
from flowdesk.engine.vocabulary import SlaState as State

from .policy import PolicyTargets, Target

CUSTOMER = "customer"
AGENT = "agent"
IGNORED_AUTHORS = frozenset({"system"})
REPEATING = frozenset({SlaMetric.NEXT_REPLY.value, SlaMetric.PERIODIC_UPDATE.value})


def _instant(name: str, value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name}: {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}: {value.isoformat()} is a naive datetime; pass an aware datetime"
        )
    return value.astimezone(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Timeline:
    """What the clocks read of a ticket: its creation, its status history with the initial status
    first (at ``created_at``), and its public messages with the author's kind (customer or agent;
    system messages are ignored). Both lists in time order; equal instants keep their order."""

    created_at: dt.datetime
    statuses: Sequence[tuple[dt.datetime, str]]
    messages: Sequence[tuple[dt.datetime, str]] = ()


@dataclass(frozen=True)
class Pause:
    """A stretch in which the clock did not run because of the status; ``end`` None: still on."""

    start: dt.datetime
    end: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"from": _iso(self.start), "to": _iso(self.end)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pause:
        start = _parse(data["from"])
        assert start is not None
        return cls(start, _parse(data["to"]))


@dataclass(frozen=True)
class ClockState:
    """One cycle of one metric's clock.

    ``state``: running, paused, met or breached (breached wins over running and paused: once the
    elapsed time reached the target it stays breached). ``elapsed``/``left`` in seconds of the
    target's kind of time; ``left`` is negative when over. ``due_at``: when the target is (or was)
    used up, while the clock runs; None while paused and once stopped. ``stopped_at``: the reply or
    solve that ended the window; ``met_at``: the same when it ended in time. ``breached_at``: the
    instant the elapsed time reached the target, wherever that happened."""

    metric: str
    cycle: int
    state: str
    target: int
    business: bool
    started_at: dt.datetime
    elapsed: int
    left: int
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None
    met_at: dt.datetime | None
    breached_at: dt.datetime | None
    pauses: tuple[Pause, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "cycle": self.cycle,
            "state": self.state,
            "target": self.target,
            "business": self.business,
            "started_at": _iso(self.started_at),
            "elapsed": self.elapsed,
            "left": self.left,
            "due_at": _iso(self.due_at),
            "stopped_at": _iso(self.stopped_at),
            "met_at": _iso(self.met_at),
            "breached_at": _iso(self.breached_at),
            "pauses": [p.to_dict() for p in self.pauses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClockState:
        started = _parse(data["started_at"])
        assert started is not None
        return cls(
            metric=str(data["metric"]),
            cycle=int(data["cycle"]),
            state=str(data["state"]),
            target=int(data["target"]),
            business=bool(data["business"]),
            started_at=started,
            elapsed=int(data["elapsed"]),
            left=int(data["left"]),
            due_at=_parse(data["due_at"]),
            stopped_at=_parse(data["stopped_at"]),
            met_at=_parse(data["met_at"]),
            breached_at=_parse(data["breached_at"]),
            pauses=tuple(Pause.from_dict(p) for p in data["pauses"]),
        )


@dataclass(frozen=True)
class SlaState:
    """A ticket's clocks as of ``computed_at``: the current cycle per metric (a metric without a
    target, or whose window has not begun, has none), the completed earlier cycles of the
    repeating metrics, and ``next_due``: the earliest ``due_at`` of the running clocks that are
    not breached yet (when a timer must look again). No policy: no clocks."""

    policy: str | None
    computed_at: dt.datetime
    clocks: Mapping[str, ClockState] = field(default_factory=dict)
    earlier: tuple[ClockState, ...] = ()
    next_due: dt.datetime | None = None

    def breaches(self) -> tuple[ClockState, ...]:
        """Every breached cycle, earlier ones first; each (metric, cycle) once: what to record."""
        current = tuple(c for c in self.clocks.values() if c.state == State.BREACHED)
        return tuple(c for c in self.earlier if c.state == State.BREACHED) + current

    def snapshot_fields(self) -> dict[str, Any]:
        """The engine snapshot's ``sla.*`` keys (vocabulary.BASE_FIELDS)."""
        out: dict[str, Any] = {"sla.policy": self.policy}
        for m in SLA_METRICS:
            clock = self.clocks.get(m)
            out[f"sla.{m}.due_at"] = clock.due_at if clock is not None else None
            out[f"sla.{m}.state"] = clock.state if clock is not None else None
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (``TicketSla.clocks`` stores it); ``from_json`` reads it back equal."""
        return {
            "policy": self.policy,
            "computed_at": _iso(self.computed_at),
            "clocks": {m: c.to_dict() for m, c in self.clocks.items()},
            "earlier": [c.to_dict() for c in self.earlier],
            "next_due": _iso(self.next_due),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaState:
        computed = _parse(data["computed_at"])
        assert computed is not None
        return cls(
            policy=data["policy"],
            computed_at=computed,
            clocks={m: ClockState.from_dict(c) for m, c in data["clocks"].items()},
            earlier=tuple(ClockState.from_dict(c) for c in data["earlier"]),
            next_due=_parse(data["next_due"]),
        )


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return _instant("stored instant", dt.datetime.fromisoformat(str(value)))


# --- computation --------------------------------------------------------------------------------

_Segment = tuple[dt.datetime, dt.datetime, bool]  # [start, end), halted (paused or solved)


class _Meter:
    """Elapsed time and the instant a budget runs out, in one kind of time."""

    def __init__(self, calendar: Calendar | None, business: bool) -> None:
        self.calendar = calendar if business else None

    def between(self, a: dt.datetime, b: dt.datetime) -> int:
        if self.calendar is None:
            return int((b - a).total_seconds())
        return business_seconds_between(self.calendar, a, b)

    def add(self, a: dt.datetime, seconds: int) -> dt.datetime:
        if self.calendar is None:
            return a + dt.timedelta(seconds=seconds)
        return add_business_time(self.calendar, a, seconds)


def _segments(
    timeline: Timeline, now: dt.datetime, halting: frozenset[str]
) -> tuple[list[_Segment], list[tuple[dt.datetime, str]], list[tuple[dt.datetime, str]]]:
    created = _instant("created_at", timeline.created_at)
    if created > now:
        raise ValueError(f"now ({_iso(now)}) is before the ticket was created ({_iso(created)})")
    history: list[tuple[dt.datetime, str]] = []
    for i, (at, status) in enumerate(timeline.statuses):
        t = _instant(f"statuses[{i}]", at)
        if status not in STATUSES:
            raise ValueError(f"statuses[{i}]: unknown status {status!r}")
        if i == 0 and t != created:
            raise ValueError("statuses[0] is the initial status, at created_at")
        if history and t < history[-1][0]:
            raise ValueError(f"statuses[{i}]: {_iso(t)} is earlier than the status before it")
        if t <= now:
            history.append((t, status))
    if not history:
        raise ValueError("statuses needs the initial status (at created_at)")
    messages: list[tuple[dt.datetime, str]] = []
    for i, (at, kind) in enumerate(timeline.messages):
        t = _instant(f"messages[{i}]", at)
        if kind in IGNORED_AUTHORS:
            continue
        if kind not in (CUSTOMER, AGENT):
            raise ValueError(f"messages[{i}]: author kind {kind!r} is not customer or agent")
        if t < created:
            raise ValueError(f"messages[{i}]: {_iso(t)} is before the ticket was created")
        if messages and t < messages[-1][0]:
            raise ValueError(f"messages[{i}]: {_iso(t)} is earlier than the message before it")
        if t <= now:
            messages.append((t, kind))
    segments: list[_Segment] = []
    for i, (t, status) in enumerate(history):
        end = history[i + 1][0] if i + 1 < len(history) else now
        if end <= t:
            continue
        halted = status in halting
        if segments and segments[-1][2] == halted:
            segments[-1] = (segments[-1][0], end, halted)
        else:
            segments.append((t, end, halted))
    return segments, messages, history


def _clock(
    metric: str,
    cycle: int,
    target: Target,
    meter: _Meter,
    segments: Sequence[_Segment],
    halted_now: bool,
    start: dt.datetime,
    stop: dt.datetime | None,
    now: dt.datetime,
) -> ClockState:
    """The clock of the window [start, stop), or [start, now] while it has not stopped."""
    end = now if stop is None else stop
    elapsed = 0
    breached_at: dt.datetime | None = None
    pauses: list[Pause] = []
    for s, e, halted in segments:
        a, b = max(s, start), min(e, end)
        if b <= a:
            continue
        if halted:
            pauses.append(Pause(a, b))
            continue
        seconds = meter.between(a, b)
        if breached_at is None and elapsed + seconds >= target.seconds:
            breached_at = meter.add(a, target.seconds - elapsed)
        elapsed += seconds
    due_at: dt.datetime | None = None
    if stop is None and halted_now:
        if pauses and pauses[-1].end == now:
            pauses[-1] = Pause(pauses[-1].start, None)
        else:  # the window began just now, in a pause
            pauses.append(Pause(now, None))
    elif stop is None:
        due_at = breached_at or meter.add(now, target.seconds - elapsed)
    if breached_at is not None:
        state = State.BREACHED
    elif stop is not None:
        state = State.MET
    elif halted_now:
        state = State.PAUSED
    else:
        state = State.RUNNING
    return ClockState(
        metric=metric,
        cycle=cycle,
        state=state.value,
        target=target.seconds,
        business=target.business,
        started_at=start,
        elapsed=elapsed,
        left=target.seconds - elapsed,
        due_at=due_at,
        stopped_at=stop,
        met_at=stop if stop is not None and breached_at is None else None,
        breached_at=breached_at,
        pauses=tuple(pauses),
    )


def _windows(
    metric: str,
    created: dt.datetime,
    messages: Sequence[tuple[dt.datetime, str]],
    solved_since: dt.datetime | None,
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    if metric == SlaMetric.FIRST_REPLY:
        first = next((t for t, kind in messages if kind == AGENT), None)
        return [(created, first)]
    if metric == SlaMetric.RESOLUTION:
        return [(created, solved_since)]
    windows: list[tuple[dt.datetime, dt.datetime | None]] = []
    if metric == SlaMetric.PERIODIC_UPDATE:
        begin: dt.datetime | None = created
        for t, kind in messages:
            if kind == AGENT:
                windows.append((begin or created, t))
                begin = t
        windows.append((begin or created, None))
        return windows
    begin = None  # next_reply: waiting for an agent since ``begin``
    for t, kind in messages:
        if kind == CUSTOMER and begin is None:
            begin = t
        elif kind == AGENT and begin is not None:
            windows.append((begin, t))
            begin = None
    if begin is not None:
        windows.append((begin, None))
    return windows


def compute_clocks(
    policy_targets: PolicyTargets | None,
    timeline: Timeline,
    calendar: Calendar | None,
    now: dt.datetime,
) -> SlaState:
    """The ticket's SLA clocks as of ``now``, from its whole timeline (events after ``now`` are
    not known yet and are left out). ``policy_targets``: ``CompiledPolicy.targets_for(priority)``
    of the policy that applies, None when none does (then there are no clocks). ``calendar``:
    the business-hours calendar of business targets; None means 24/7."""
    now = _instant("now", now)
    if policy_targets is None:
        _segments(timeline, now, frozenset())  # still validated
        return SlaState(policy=None, computed_at=now)
    halting = frozenset(policy_targets.pause_statuses) | SOLVED_STATUSES
    segments, messages, history = _segments(timeline, now, halting)
    created = history[0][0]
    halted_now = history[-1][1] in halting
    solved_since: dt.datetime | None = None
    for t, status in reversed(history):  # solved then closed is one stretch: solved stops it
        if status not in SOLVED_STATUSES:
            break
        solved_since = t
    clocks: dict[str, ClockState] = {}
    earlier: list[ClockState] = []
    for metric in SLA_METRICS:
        target = policy_targets.targets.get(metric)
        if target is None:
            continue
        meter = _Meter(calendar, target.business)
        windows = _windows(metric, created, messages, solved_since)
        states = [
            _clock(
                metric,
                i if metric in REPEATING else 0,
                target,
                meter,
                segments,
                halted_now,
                a,
                b,
                now,
            )
            for i, (a, b) in enumerate(windows)
        ]
        if states:
            clocks[metric] = states[-1]
            earlier.extend(states[:-1])
    due = [c.due_at for c in clocks.values() if c.state == State.RUNNING and c.due_at is not None]
    return SlaState(
        policy=policy_targets.policy,
        computed_at=now,
        clocks=clocks,
        earlier=tuple(earlier),
        next_due=min(due) if due else None,
    )
