"""The schema of a ticket's SLA report (``GET /api/tickets/{id}/sla``,
``flowdesk.sla.report.sla_report``)."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field


class PauseOut(Schema):
    start: datetime = Field(description="when the status paused the clock")
    end: datetime | None = Field(description="when it resumed; null while still paused")


class ClockOut(Schema):
    metric: str = Field(description="first_reply, next_reply, periodic_update or resolution")
    cycle: int = Field(description="0, or the n-th window of next_reply / periodic_update")
    state: str = Field(description="running, paused, met or breached")
    target: int = Field(description="the target in seconds of its kind of time")
    target_text: str = Field(description="the target as a duration, such as 1h or 1h30m")
    business: bool = Field(description="true: business seconds on the calendar; false: real")
    time: str = Field(description="business or calendar (the same as `business`)")
    started_at: datetime = Field(description="when the clock's window began")
    elapsed: int = Field(description="seconds used so far (paused and closed hours excluded)")
    left: int = Field(description="seconds left; negative: how far over the target")
    due_at: datetime | None = Field(
        description="when the target is (or was) used up while the clock runs; null while "
        "paused and once stopped"
    )
    due_at_local: str | None = Field(
        description="`due_at` in the calendar's time zone (ISO 8601 with its offset)"
    )
    stopped_at: datetime | None = Field(description="the reply or solve that ended the window")
    met_at: datetime | None = Field(description="the same, when it came in time")
    breached_at: datetime | None = Field(description="when the elapsed time reached the target")
    pauses: list[PauseOut] = Field(description="stretches the status paused the clock")


class BreachOut(Schema):
    metric: str
    cycle: int
    policy: str = Field(description="the policy that applied when it was recorded")
    due_at: datetime = Field(description="the instant the target was used up")
    recorded_at: datetime = Field(description="when the update that recorded it ran")
    update_id: int | None = Field(description="that update (GET /api/tickets/{id}/updates)")


class SlaReportOut(Schema):
    """A ticket's SLA as of now, computed fresh from its history (time left moves with the
    clock), with the breaches recorded so far (each once per metric and cycle)."""

    ticket_id: int
    policy: str | None = Field(description="the policy that applies (first match); null: none")
    calendar: str | None = Field(description="the calendar of business time; null: 24/7")
    time_zone: str | None = Field(description="that calendar's time zone; null: 24/7 (UTC)")
    priority: str
    status: str
    computed_at: datetime = Field(description="the instant the clocks are computed for (now)")
    next_due: datetime | None = Field(
        description="the earliest due instant of a running clock not yet breached: when the "
        "ticket's sla timer fires"
    )
    clocks: list[ClockOut] = Field(description="the current cycle of each metric with a target")
    earlier_cycles: list[ClockOut] = Field(
        description="completed earlier cycles of next_reply and periodic_update"
    )
    breaches: list[BreachOut] = Field(description="the recorded breaches, oldest first")
