"""The routing update hooks (registered by ``RoutingConfig.ready``).

Order within one update (tickets.hooks phases):

1. ``prepare``: remember the team the ticket had before this update.
2. ``rules``: the rule cascade; an ``assign`` action routes at once (and marks the update as
   routed by a rule), ``escalate_along`` applies level 0 of its path.
3. ``settle`` (this module, in this order):
   a. a due ``escalation`` timer applies the path's next level (may change the team);
   b. a due ``return`` timer takes the ticket back from a silent or offline assignee and
      reassigns it with the team's strategy, the previous assignee excluded;
   c. the team default: a new or re-teamed ticket still without an assignee, in a team with a
      default strategy, is auto-assigned, unless a rule's ``assign`` already decided this update;
   d. the timers follow the final state: a new assignment arms ``return``; a public agent
      reply since the assignment, a solved ticket or no assignee disarms it; a solved or
      closed ticket stops its escalation path.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowdesk.engine import Event
from flowdesk.engine.vocabulary import SOLVED_STATUSES
from flowdesk.routing import escalation
from flowdesk.routing.agents import profile_of
from flowdesk.routing.models import Availability, TeamRouting
from flowdesk.routing.services import route
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.services import TicketWrite
from flowdesk.timers.models import Timer
from flowdesk.timers.services import schedule, timer_row

RETURN = "return"
DEFAULT_STRATEGY = "least_open"


@dataclass
class _Note:
    team_before: str | None
    new: bool
    rule_routed: bool = False


_notes: weakref.WeakKeyDictionary[TicketWrite, _Note] = weakref.WeakKeyDictionary()


def note_rule_routed(w: TicketWrite) -> None:
    note = _notes.get(w)
    if note is None:
        note = _notes[w] = _Note(None, new=False)
    note.rule_routed = True


def routing_prepare(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    if event.kind == "created":
        _notes[w] = _Note(None, new=True)
    elif "team" in event.changes:
        _notes[w] = _Note(event.changes["team"][0], new=False)
    else:
        _notes[w] = _Note(snapshot.get("team"), new=False)


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _team_routing(w: TicketWrite) -> TeamRouting | None:
    team = w.ticket.team
    return TeamRouting.objects.filter(team=team).first() if team is not None else None


def _fire_return(w: TicketWrite, row: Timer | None) -> None:
    if row is None or row.due_at is None or row.due_at > w.now:
        return
    ticket, state = w.ticket, dict(row.state)
    assignee = ticket.assignee
    if ticket.status in SOLVED_STATUSES or assignee is None:
        return  # step d disarms it
    if state.get("assignee") != assignee.email:
        return  # reassigned since it was armed: step d arms it for the new assignee
    assigned_at = _parse(state.get("assigned_at"))
    replied = ticket.last_agent_message_at is not None and (
        assigned_at is None or ticket.last_agent_message_at >= assigned_at
    )
    offline = profile_of(assignee).availability == Availability.OFFLINE
    if replied and not offline:
        schedule(w, RETURN, None, {**state, "replied": True})
        return
    reason = "assignee is offline" if offline else "no public reply since the assignment"
    tr = _team_routing(w)
    strategy = tr.strategy if tr is not None and tr.strategy else DEFAULT_STRATEGY
    decision = route(
        w,
        team_name=ticket.team.name if ticket.team else None,
        strategy=strategy,
        cause=w.cause,
        why=f"return timer: {reason}",
        exclude={assignee.email},
    )
    if decision.assignee is None:
        # Nobody else can take it: it stays, and the timer tries again after another period.
        again = tr.return_after_seconds if tr is not None else None
        due = w.now + timedelta(seconds=again) if again else None
        schedule(w, RETURN, due, {**state, "retries": int(state.get("retries", 0)) + 1})


def _auto_assign(w: TicketWrite, note: _Note) -> None:
    ticket = w.ticket
    if note.rule_routed or ticket.assignee_id is not None or ticket.team is None:
        return
    if ticket.status in SOLVED_STATUSES:
        return
    team = ticket.team.name
    if not note.new and team == note.team_before:
        return
    tr = TeamRouting.objects.filter(team=ticket.team).first()
    if tr is None or not tr.strategy:
        return
    why = "new ticket" if note.new else f"moved from {note.team_before or 'no team'}"
    route(
        w,
        team_name=team,
        strategy=tr.strategy,
        cause=Cause.system("routing"),
        why=f"team default ({why})",
    )


def _settle_return(w: TicketWrite, row: Timer | None) -> None:
    ticket = w.ticket
    state = dict(row.state) if row is not None else {}
    assignee = ticket.assignee
    if assignee is None or ticket.status in SOLVED_STATUSES:
        if row is not None:
            schedule(w, RETURN, None, {})
        return
    if state.get("assignee") != assignee.email:
        tr = _team_routing(w)
        seconds = tr.return_after_seconds if tr is not None else None
        if seconds:
            state = {"assignee": assignee.email, "assigned_at": w.now.isoformat()}
            schedule(w, RETURN, w.now + timedelta(seconds=seconds), state)
        elif row is not None:
            schedule(w, RETURN, None, {})
        return
    if row is None or row.due_at is None:
        return
    assigned_at = _parse(state.get("assigned_at"))
    last = ticket.last_agent_message_at
    if last is not None and assigned_at is not None and last >= assigned_at:
        schedule(w, RETURN, None, {**state, "replied": True})


def routing_settle(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    note = _notes.pop(w, None) or _Note(snapshot.get("team"), new=False)

    def timer(purpose: str) -> Timer | None:
        return timer_row(w, purpose)

    if event.kind == "timer" and event.timer == escalation.PURPOSE:
        escalation.fire(w, timer(escalation.PURPOSE))
    if event.kind == "timer" and event.timer == RETURN:
        _fire_return(w, timer(RETURN))
    _auto_assign(w, note)
    _settle_return(w, timer(RETURN))
    if w.ticket.status in SOLVED_STATUSES:
        escalation.stop_if_solved(w, timer(escalation.PURPOSE))
