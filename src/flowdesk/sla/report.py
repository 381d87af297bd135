"""A ticket's SLA as of now, for the API (``GET /api/tickets/{id}/sla``) and ``flowdesk sla
explain``: computed fresh from the ticket's history (time left moves with the clock), plus the
breaches recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.sla.clocks import ClockState
from flowdesk.sla.models import SlaBreach
from flowdesk.sla.policy import format_duration
from flowdesk.sla.runtime import evaluate, sticky, timeline_of
from flowdesk.tickets.models import Ticket
from flowdesk.tickets.snapshot import load_snapshot


def _clock(clock: ClockState) -> dict[str, Any]:
    out = clock.to_dict()
    out["target_text"] = format_duration(clock.target)
    out["time"] = "business" if clock.business else "calendar"
    return out


def sla_report(ticket: Ticket, now: datetime) -> dict[str, Any]:
    snapshot = load_snapshot(ticket, now)
    state, calendar = evaluate(snapshot, timeline_of(ticket), now)
    recorded = SlaBreach.objects.filter(ticket_id=ticket.pk).values_list("metric", "cycle")
    state = sticky(state, {(str(m), int(c)) for m, c in recorded})
    breaches = [
        {
            "metric": b.metric,
            "cycle": b.cycle,
            "policy": b.policy,
            "due_at": b.due_at.isoformat(),
            "recorded_at": b.recorded_at.isoformat(),
            "update_id": b.update_id,
        }
        for b in SlaBreach.objects.filter(ticket_id=ticket.pk).order_by("id")
    ]
    return {
        "ticket_id": ticket.pk,
        "policy": state.policy,
        "calendar": calendar or None,
        "priority": ticket.priority,
        "status": ticket.status,
        "computed_at": now.isoformat(),
        "next_due": state.next_due.isoformat() if state.next_due else None,
        "clocks": [_clock(c) for c in state.clocks.values()],
        "earlier_cycles": [_clock(c) for c in state.earlier],
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
            lines.append(f"    due {_when(c['due_at'])}")
        if c["met_at"]:
            lines.append(f"    met {_when(c['met_at'])}")
        if c["breached_at"]:
            lines.append(f"    breached {_when(c['breached_at'])}")
        for p in c["pauses"]:
            lines.append(f"    paused {_when(p.get('start'))} - {_when(p.get('end'))}")
    for b in report["breaches"]:
        lines.append(
            f"  breach recorded: {b['metric']} cycle {b['cycle']} due {_when(b['due_at'])}, "
            f"recorded {_when(b['recorded_at'])} (update {b['update_id']})"
        )
    if report["next_due"]:
        lines.append(f"next due: {_when(report['next_due'])}")
    return "\n".join(lines)
