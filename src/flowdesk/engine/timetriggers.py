"""Time triggers: rules that fire because time passed ("pending for 3 business days", "30 minutes
before the first reply is due", "every weekday at 09:00").

Each is a ``TimeTrigger`` (triggers.py): it matches only ``timer`` events, when ``holds`` is true
at ``now``; ``next_due`` tells ``time_plan`` when to arm the next timer. Semantics, edges and the
latching of rules: docs/automation.md, "Time rules".

Shared conventions:
- ``for`` is a ``Duration``; ``time: business`` measures it on the ticket's calendar
  (``EngineContext.calendar_for``): ``h``/``m``/``s`` are business seconds, ``d``/``w`` business
  days (durations.py). Without a calendar business time is calendar time.
- "X for D since t" holds from ``t + D`` on: an instant exactly at the due time holds.
- Calendar time is real elapsed time (a DST day is 23 or 25 hours), as the calendars package.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from .catalog import Catalog, check_value
from .context import EngineContext
from .durations import Duration, Span, parse_span, shift
from .triggers import Problem, TimeTrigger, _Strict, instant, iso, register
from .vocabulary import SLA_METRICS, STATUSES, SlaState

TimeKind = Literal["business", "calendar"]
Metric = Literal["first_reply", "next_reply", "periodic_update", "resolution"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

assert set(Metric.__args__) == set(SLA_METRICS)  # type: ignore[attr-defined]

_FOR = "How long the condition must have lasted: '90s', '30m', '24h', '3d', '1w', or seconds."
_TIME = (
    "business: measured on the ticket's business-hours calendar (h/m/s are business time, d/w "
    "business days; calendar time when the ticket has no calendar); calendar: real elapsed time."
)


class Elapsed(_Strict):
    for_: Duration = Field(alias="for", description=_FOR)
    time: TimeKind = Field(default="calendar", description=_TIME)


class StatusFor(Elapsed):
    status: Annotated[
        list[str],
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "enum": list(STATUSES)},
                    {"type": "array", "items": {"type": "string", "enum": list(STATUSES)}},
                ]
            }
        ),
    ] = Field(description="A status, or a list of statuses (any of them).")

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return list(dict.fromkeys(value))
        return value


class SinceConfig(Elapsed):
    event: Literal["created", "updated", "status_changed", "solved"] = Field(
        description="The instant measured from: created_at, updated_at, status_changed_at or "
        "solved_at."
    )


class SlaDueIn(_Strict):
    metric: Metric = Field(description="The SLA clock: first_reply, next_reply, ...")
    within: Duration = Field(description="How long before the due instant to fire, e.g. '30m'.")
    time: TimeKind = Field(default="calendar", description=_TIME)


class SlaMetricConfig(_Strict):
    metric: Metric = Field(description="The SLA clock: first_reply, next_reply, ...")


_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class LocalTime(_Strict):
    time: str = Field(description="Local wall-clock time 'HH:MM' (00:00 to 23:59).")
    days: list[Weekday] | None = Field(
        default=None, description="Weekdays it applies to (mon ... sun); every day when omitted."
    )
    calendar: str | None = Field(
        default=None,
        description="Calendar whose time zone is used; default the ticket's calendar, else UTC.",
    )

    @field_validator("time", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):  # YAML reads 09:00 as 540
            raise ValueError(f"{value!r} is not a time 'HH:MM' (quote it in YAML: '09:00')")
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise ValueError(f"{value!r} is not a time 'HH:MM' (00:00 to 23:59)")
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("days: give at least one weekday, or leave it out")
            return [d.lower() if isinstance(d, str) else d for d in value]
        return value


def human(span: Span, *, business: bool) -> str:
    """``3 business days``, ``1 hour 30 minutes of business time``, ``24 hours``."""
    parts = []
    h, rest = divmod(span.seconds, 3600)
    m, s = divmod(rest, 60)
    only_days = not span.seconds
    for n, unit in (
        (span.weeks, "week"),
        (span.days, "day"),
        (h, "hour"),
        (m, "minute"),
        (s, "second"),
    ):
        if n:
            word = f"business {unit}" if business and only_days else unit
            parts.append(f"{n} {word}{'s' if n != 1 else ''}")
    text = " ".join(parts)
    return text + " of business time" if business and not only_days else text


C = TypeVar("C", bound=BaseModel)


class _ElapsedTrigger(TimeTrigger[C]):
    """A state that has lasted ``for`` since an instant: holds from ``anchor + for`` on, as long
    as the state lasts (``anchor`` returns None while it does not)."""

    reads_fields: ClassVar[frozenset[str]] = frozenset()

    def prepare(self) -> None:
        cfg: Any = self.config
        self.span = parse_span(cfg.for_)
        self.business = cfg.time == "business"

    def anchor(self, snapshot: Mapping[str, Any]) -> dt.datetime | None:
        raise NotImplementedError

    def label(self) -> str:
        raise NotImplementedError

    def due(
        self, snapshot: Mapping[str, Any], ctx: EngineContext
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """(anchor, due instant) while the state lasts, else None."""
        start = self.anchor(snapshot)
        if start is None:
            return None
        cal = ctx.calendar_for(snapshot) if self.business else None
        return start, shift(start, self.span, business=self.business, cal=cal)

    def holds(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> bool:
        d = self.due(snapshot, ctx)
        return d is not None and now >= d[1]

    def next_due(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        d = self.due(snapshot, ctx)
        return None if d is None else max(d[1], now)

    def explain_at(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> str:
        head = f"{self.label()} for {human(self.span, business=self.business)}"
        d = self.due(snapshot, ctx)
        if d is None:
            return f"{head}: {self.not_started(snapshot)}"
        verdict = "held" if now >= d[1] else "not yet"
        return f"{head}: since {iso(d[0])}, due {iso(d[1])}, {verdict}"

    def not_started(self, snapshot: Mapping[str, Any]) -> str:
        return "no start instant"

    def reads(self) -> frozenset[str]:
        return self.reads_fields


@register
class InStatus(_ElapsedTrigger[StatusFor]):
    """The ticket has been in one of the given statuses for at least ``for`` (measured from
    ``status_changed_at``)."""

    name = "in_status"
    Config = StatusFor
    reads_fields = frozenset({"status", "status_changed_at"})

    def prepare(self) -> None:
        super().prepare()
        self.statuses = frozenset(self.config.status)

    @classmethod
    def check(cls, catalog: Catalog, config: StatusFor) -> list[Problem]:
        if not config.status:
            return [("status", "give at least one status", None)]
        spec = catalog.field("status")
        out: list[Problem] = []
        for value in config.status:
            bad = check_value(catalog, spec, value) if spec is not None else None
            if bad:
                out.append(("status", bad[0], bad[1]))
        return out

    def anchor(self, snapshot: Mapping[str, Any]) -> dt.datetime | None:
        if snapshot.get("status") not in self.statuses:
            return None
        return instant(snapshot.get("status_changed_at"))

    def label(self) -> str:
        return "in status " + " or ".join(self.config.status)

    def not_started(self, snapshot: Mapping[str, Any]) -> str:
        status = snapshot.get("status")
        if status not in self.statuses:
            return f"status is {status!r}"
        return "status_changed_at is not set"


@register
class Since(_ElapsedTrigger[SinceConfig]):
    """At least ``for`` has passed since the ticket was created, last updated, last changed
    status or was solved (never while that instant is unset)."""

    name = "since"
    Config = SinceConfig

    def prepare(self) -> None:
        super().prepare()
        self.key = f"{self.config.event}_at"

    def anchor(self, snapshot: Mapping[str, Any]) -> dt.datetime | None:
        return instant(snapshot.get(self.key))

    def label(self) -> str:
        return f"since {self.config.event}"

    def not_started(self, snapshot: Mapping[str, Any]) -> str:
        return f"{self.key} is not set"

    def reads(self) -> frozenset[str]:
        return frozenset({self.key, "status"})


class _Waiting(_ElapsedTrigger[Elapsed]):
    """One side wrote last and the other has not answered since."""

    Config = Elapsed
    last: ClassVar[str]
    other: ClassVar[str]
    who: ClassVar[str]

    def anchor(self, snapshot: Mapping[str, Any]) -> dt.datetime | None:
        last = instant(snapshot.get(self.last))
        if last is None:
            return None
        other = instant(snapshot.get(self.other))
        return last if other is None or other <= last else None

    def label(self) -> str:
        return f"waiting on the {self.who}"

    def not_started(self, snapshot: Mapping[str, Any]) -> str:
        if instant(snapshot.get(self.last)) is None:
            return f"{self.last} is not set"
        return f"the {self.who} wrote since ({self.other})"

    def reads(self) -> frozenset[str]:
        return frozenset({self.last, self.other})


@register
class NoCustomerReply(_Waiting):
    """The ticket waits on the customer: an agent replied (``last_agent_message_at``) and the
    customer has not written since, for at least ``for``."""

    name = "no_customer_reply"
    last = "last_agent_message_at"
    other = "last_customer_message_at"
    who = "customer"


@register
class NoAgentReply(_Waiting):
    """The customer waits: the customer wrote (``last_customer_message_at``) and no agent has
    replied since, for at least ``for``."""

    name = "no_agent_reply"
    last = "last_customer_message_at"
    other = "last_agent_message_at"
    who = "agent"


class _SlaTrigger(TimeTrigger[C]):
    def prepare(self) -> None:
        m = self.config.metric  # type: ignore[attr-defined]
        self.state_key = f"sla.{m}.state"
        self.due_key = f"sla.{m}.due_at"

    def clock(self, snapshot: Mapping[str, Any]) -> tuple[Any, dt.datetime | None]:
        return snapshot.get(self.state_key), instant(snapshot.get(self.due_key))

    def reads(self) -> frozenset[str]:
        return frozenset({self.state_key, self.due_key})


@register
class SlaDueInTrigger(_SlaTrigger[SlaDueIn]):
    """The SLA clock ``metric`` is running and due within ``within``: from ``due_at - within``
    (inclusive) until ``due_at`` (exclusive)."""

    name = "sla_due_in"
    Config = SlaDueIn

    def prepare(self) -> None:
        super().prepare()
        self.span = parse_span(self.config.within)
        self.business = self.config.time == "business"

    def window(
        self, snapshot: Mapping[str, Any], ctx: EngineContext
    ) -> tuple[dt.datetime, dt.datetime] | None:
        state, due = self.clock(snapshot)
        if state != SlaState.RUNNING or due is None:
            return None
        cal = ctx.calendar_for(snapshot) if self.business else None
        return shift(due, self.span, business=self.business, cal=cal, sign=-1), due

    def holds(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> bool:
        w = self.window(snapshot, ctx)
        return w is not None and w[0] <= now < w[1]

    def next_due(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        w = self.window(snapshot, ctx)
        if w is None or now >= w[1]:
            return None
        return max(w[0], now)

    def holds_until(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        w = self.window(snapshot, ctx)
        return w[1] if w is not None else None

    def explain_at(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> str:
        head = f"{self.config.metric} due within {human(self.span, business=self.business)}"
        w = self.window(snapshot, ctx)
        if w is None:
            state, due = self.clock(snapshot)
            return f"{head}: clock is {state or 'not set'}" + (
                "" if due is not None or state != SlaState.RUNNING else " without a due instant"
            )
        verdict = "already due" if now >= w[1] else "held" if now >= w[0] else "not yet"
        return f"{head}: due {iso(w[1])}, from {iso(w[0])}, {verdict}"


@register
class SlaBreached(_SlaTrigger[SlaMetricConfig]):
    """The SLA clock ``metric`` is breached (``sla.<metric>.state`` is ``breached``)."""

    name = "sla_breached"
    Config = SlaMetricConfig

    def holds(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> bool:
        return snapshot.get(self.state_key) == SlaState.BREACHED

    def next_due(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        state, due = self.clock(snapshot)
        if state == SlaState.BREACHED:
            return now
        if state == SlaState.RUNNING and due is not None and due > now:
            return due
        return None

    def explain_at(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> str:
        state, due = self.clock(snapshot)
        head = f"{self.config.metric} breached"
        if state == SlaState.BREACHED:
            return f"{head}: held"
        tail = f", due {iso(due)}" if due is not None else ""
        return f"{head}: clock is {state or 'not set'}{tail}, not yet"


@register
class AtLocalTime(TimeTrigger[LocalTime]):
    """From a local wall-clock time until the end of that local day, on the given weekdays, in
    the time zone of ``calendar`` (else the ticket's calendar, else UTC)."""

    name = "at_local_time"
    Config = LocalTime

    def prepare(self) -> None:
        cfg = self.config
        h, m = cfg.time.split(":")
        self.at = dt.time(int(h), int(m))
        self.days = (
            frozenset(WEEKDAYS.index(d) for d in cfg.days) if cfg.days else frozenset(range(7))
        )

    def zone(self, snapshot: Mapping[str, Any], ctx: EngineContext) -> dt.tzinfo:
        cal = ctx.named(self.config.calendar, snapshot)
        return zoneinfo.ZoneInfo(cal.time_zone) if cal is not None else dt.UTC

    def _day(self, day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of ``day`` in UTC: the wall time (a skipped one maps past the jump, a
        repeated one is its first occurrence) and the next local midnight."""
        start = dt.datetime.combine(day, self.at, tz).astimezone(dt.UTC)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
        return start, end

    def holds(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> bool:
        tz = self.zone(snapshot, ctx)
        day = now.astimezone(tz).date()
        if day.weekday() not in self.days:
            return False
        start, end = self._day(day, tz)
        return start <= now < end

    def next_due(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        if self.holds(snapshot, now, ctx):
            return now
        tz = self.zone(snapshot, ctx)
        day = now.astimezone(tz).date()
        for k in range(8):
            d = day + dt.timedelta(days=k)
            if d.weekday() in self.days:
                start, _ = self._day(d, tz)
                if start >= now:
                    return start
        return None  # unreachable: some listed weekday comes within 8 days

    def holds_until(
        self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext
    ) -> dt.datetime | None:
        tz = self.zone(snapshot, ctx)
        return self._day(now.astimezone(tz).date(), tz)[1]

    def explain_at(self, snapshot: Mapping[str, Any], now: dt.datetime, ctx: EngineContext) -> str:
        tz = self.zone(snapshot, ctx)
        days = ",".join(self.config.days) if self.config.days else "every day"
        head = f"at {self.config.time} {tz} ({days})"
        if self.holds(snapshot, now, ctx):
            start, end = self._day(now.astimezone(tz).date(), tz)
            return f"{head}: since {iso(start)}, until {iso(end)}, held"
        due = self.next_due(snapshot, now, ctx)
        return f"{head}: next {iso(due)}, not yet" if due else f"{head}: not yet"
