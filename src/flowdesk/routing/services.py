"""Assignment decisions: lock the team, count loads inside the lock, let the strategy choose,
write the assignee through ``apply_change_set`` and record the decision as a ``routed`` event.

Concurrency: every decision for a team first locks the team's ``TeamRouting`` row (SELECT ...
FOR UPDATE on PostgreSQL), then the candidates' profile rows (in id order, so an agent in two
teams is never over-filled by two teams' decisions), and only then counts open tickets. The locks
are held until the update commits, so a second decision waits and counts the first one's ticket.
SQLite has one writer at a time (every write transaction is BEGIN IMMEDIATE), so the same holds.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from flowdesk.accounts.models import Team, User
from flowdesk.core.errors import ValidationFailed
from flowdesk.engine.vocabulary import SOLVED_STATUSES
from flowdesk.routing.agents import ensure_profiles, unavailable_reason
from flowdesk.routing.models import AgentProfile, TeamRouting
from flowdesk.routing.strategies import STRATEGIES, Candidate, TeamState
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.models import EventKind, Ticket
from flowdesk.tickets.services import ChangeSet, TicketWrite, apply_change_set


@dataclass
class Decision:
    assignee: str | None
    reason: str


def team_routing(team: Team, *, lock: bool = False) -> TeamRouting:
    TeamRouting.objects.bulk_create([TeamRouting(team=team)], ignore_conflicts=True)
    qs = TeamRouting.objects.filter(team=team)
    return (qs.select_for_update() if lock else qs).get()


def ticket_words(ticket: Ticket) -> frozenset[str]:
    """What skills match: the ticket's language and product (custom fields, if defined) and
    its tags, lower-cased."""
    words = {str(t).lower() for t in ticket.tags}
    for key in ("language", "product"):
        value = (ticket.custom_fields or {}).get(key)
        if isinstance(value, str) and value.strip():
            words.add(value.strip().lower())
    return frozenset(words)


def _candidates(w: TicketWrite, team: Team, exclude: Collection[str]) -> list[Candidate]:
    members = list(
        User.objects.filter(teams=team, is_active=True, role__in=("agent", "admin")).order_by("pk")
    )
    ensure_profiles([u.pk for u in members])
    profiles = {
        p.user_id: p
        for p in AgentProfile.objects.select_for_update()
        .filter(user_id__in=[u.pk for u in members])
        .order_by("user_id")
    }
    loads = dict(
        Ticket.objects.filter(assignee_id__in=[u.pk for u in members])
        .exclude(status__in=SOLVED_STATUSES)
        .exclude(pk=w.ticket.pk)
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    words = ticket_words(w.ticket)
    out = []
    for user in members:
        profile = profiles[user.pk]
        skills = frozenset(profile.skills or ())
        c = Candidate(
            user_id=user.pk,
            email=user.email,
            open_tickets=int(loads.get(user.pk, 0)),
            capacity=profile.capacity,
            availability=profile.availability,
            last_assigned_at=profile.last_assigned_at,
            skills=skills,
            matched=tuple(sorted(skills & words)),
        )
        if user.email in exclude:
            c.skipped = "previous assignee"
        else:
            c.skipped = unavailable_reason(profile, w.now)
        if not c.skipped and c.capacity is not None and c.open_tickets >= c.capacity:
            c.skipped = "full"
        out.append(c)
    return out


def route(
    w: TicketWrite,
    *,
    team_name: str | None,
    strategy: str,
    cause: Cause,
    why: str,
    exclude: Collection[str] = (),
) -> Decision:
    """Choose and write the assignee (or leave the ticket as it is and say why). Every call
    records one ``routed`` event."""
    data: dict[str, Any] = {"strategy": strategy, "team": team_name, "trigger": why}

    def done(assignee: str | None, reason: str, **extra: Any) -> Decision:
        w.update_row()
        w.log.add(
            EventKind.ROUTED, cause, data={**data, "assignee": assignee, "reason": reason, **extra}
        )
        return Decision(assignee, reason)

    # The agents' loads are counted from the ticket rows: inside a round of timer firings
    # (core.rows.deferred_writes) reading them sends the round's earlier assignments first, so
    # two firings never both fill an agent's last free slot (tests/test_routing.py).
    team = Team.objects.filter(name=team_name).first() if team_name else None
    if team is None:
        reason = "the ticket has no team" if not team_name else f"no team {team_name!r}"
        return done(None, reason)
    if strategy not in STRATEGIES:
        return done(None, f"unknown strategy {strategy!r}")
    row = team_routing(team, lock=True)
    candidates = _candidates(w, team, exclude)
    eligible = [c for c in candidates if not c.skipped]
    choice = STRATEGIES.get(strategy).choose(eligible, TeamState(row.rr_last_user_id))
    considered = [c.to_json() for c in candidates]
    if choice.candidate is None:
        why_not = choice.reason if candidates else "the team has no active members"
        return done(None, why_not, candidates=considered)
    chosen = choice.candidate
    try:
        apply_change_set(w, ChangeSet(values={"assignee": chosen.email}), cause)
    except ValidationFailed as exc:  # e.g. deactivated between the count and the write
        return done(None, f"could not assign {chosen.email}: {exc}", candidates=considered)
    AgentProfile.objects.filter(user_id=chosen.user_id).update(last_assigned_at=w.now)
    if choice.state.rr_last_user_id != row.rr_last_user_id:
        row.rr_last_user_id = choice.state.rr_last_user_id
        row.updated_at = w.now
        row.save(update_fields=["rr_last_user_id", "updated_at"])
    return done(chosen.email, choice.reason, candidates=considered)
