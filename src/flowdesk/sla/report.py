"""A ticket's SLA as of now, for the API (``GET /api/tickets/{id}/sla``) and ``flowdesk sla
explain``: computed fresh from the ticket's history (time left moves with the clock), plus the
breaches recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flowdesk.sla.cache import calendars
from flowdesk.sla.clocks import ClockState
from flowdesk.sla.models import SlaBreach
from flowdesk.sla.policy import format_duration
from flowdesk.sla.runtime import evaluate, iso, sticky, timeline_of
from flowdesk.tickets.models import Ticket
from flowdesk.tickets.snapshot import load_snapshot


def _clock(clock: ClockState, zone: ZoneInfo | None) -> dict[str, Any]:
    out = clock.to_dict()
    out["target_text"] = format_duration(clock.target)
    out["time"] = "business" if clock.business else "calendar"
    # Pauses as start/end (the stored form says from/to, awkward names in most clients).
    out["pauses"] = [{"start": p["from"], "end": p["to"]} for p in out["pauses"]]
    out["due_at_local"] = (
        clock.due_at.astimezone(zone).isoformat() if clock.due_at and zone is not None else None
    )
    return out


def sla_report(ticket: Ticket, now: datetime) -> dict[str, Any]:
    snapshot = load_snapshot(ticket, now)
    state, calendar = evaluate(snapshot, timeline_of(ticket), now)
    recorded = SlaBreach.objects.filter(ticket_id=ticket.pk).values_list("metric", "cycle")
    state = sticky(state, {(str(m), int(c)) for m, c in recorded})
    cal = calendars().get(calendar) if calendar else None
    zone = ZoneInfo(cal.time_zone) if cal is not None else None
    breaches = [
        {
            "metric": b.metric,
            "cycle": b.cycle,
            "policy": b.policy,
            "due_at": iso(b.due_at),
            "recorded_at": iso(b.recorded_at),
            "update_id": b.update_id,
        }
        for b in SlaBreach.objects.filter(ticket_id=ticket.pk).order_by("id")
    ]
    return {
        "ticket_id": ticket.pk,
        "policy": state.policy,
        "calendar": calendar or None,
        "time_zone": cal.time_zone if cal is not None else None,
        "priority": ticket.priority,
        "status": ticket.status,
        "computed_at": iso(state.computed_at),
        "next_due": iso(state.next_due) if state.next_due else None,
        "clocks": [_clock(c, zone) for c in state.clocks.values()],
        "earlier_cycles": [_clock(c, zone) for c in state.earlier],
        "breaches": breaches,
    }


def _when(value: str | None) -> str:
    return value.replace("+00:00", "Z") if value else "-"


def explain_text(report: dict[str, Any]) -> str:
    """The report as the lines ``flowdesk sla explain`` prints."""
    lines = [f"ticket #{report['ticket_id']} ({report['status']}, {report['priority']})"]
    if report["policy"] is None:
        lines.append("no SLA policy applies")
        return "\n".join(lines)
    lines.append(
        f"policy: {report['policy']}; calendar: {report['calendar'] or '24/7'}; "
        f"as of {_when(report['computed_at'])}"
    )
    for c in report["clocks"] + report["earlier_cycles"]:
        cycle = f" (cycle {c['cycle']})" if c["cycle"] else ""
        left = c["left"]
        left_text = (
            f"{format_duration(left)} left" if left >= 0 else f"{format_duration(-left)} over"
        )
        lines.append(
            f"  {c['metric']}{cycle}: {c['state']}, target {c['target_text']} {c['time']} time, "
            f"started {_when(c['started_at'])}, used {format_duration(c['elapsed'])}, {left_text}"
        )
        if c["due_at"]:
            local = f" ({c['due_at_local']} {report['time_zone']})" if c["due_at_local"] else ""
            lines.append(f"    due {_when(c['due_at'])}{local}")
        if c["met_at"]:
            lines.append(f"    met {_when(c['met_at'])}")
        if c["breached_at"]:
            lines.append(f"    breached {_when(c['breached_at'])}")
        for p in c["pauses"]:
            if p["end"]:
                lines.append(f"    paused {_when(p['start'])} - {_when(p['end'])}")
            else:
                lines.append(f"    paused since {_when(p['start'])}")
    for b in report["breaches"]:
        lines.append(
            f"  breach recorded: {b['metric']} cycle {b['cycle']} due {_when(b['due_at'])}, "
            f"recorded {_when(b['recorded_at'])} (update {b['update_id']})"
        )
    if report["next_due"]:
        lines.append(f"next due: {_when(report['next_due'])}")
    return "\n".join(lines)
