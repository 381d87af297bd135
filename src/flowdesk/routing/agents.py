"""Agent availability, working schedules, capacity and skills."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from flowdesk.accounts.models import User
from flowdesk.calendars import CalendarValidationError, calendar_from_dict, is_open
from flowdesk.core.errors import FieldError, ValidationFailed
from flowdesk.engine.vocabulary import SOLVED_STATUSES
from flowdesk.routing.models import AgentProfile, Availability, TeamRouting
from flowdesk.tickets.models import Ticket
from flowdesk.timers.models import Timer

SKILL = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,49}$")
MAX_SKILLS = 100


def profile_of(user: User) -> AgentProfile:
    """The stored profile, or the default one (online, unlimited, no skills) unsaved."""
    found = AgentProfile.objects.filter(user=user).first()
    return found if found is not None else AgentProfile(user=user)


def ensure_profiles(user_ids: Iterable[int]) -> None:
    """Conflict-safe insert of default profiles, so they can be locked (no IntegrityError
    that would abort a PostgreSQL transaction when two requests race)."""
    AgentProfile.objects.bulk_create(
        [AgentProfile(user_id=uid) for uid in user_ids], ignore_conflicts=True
    )


def unavailable_reason(profile: AgentProfile, now: datetime) -> str:
    """Why the agent takes no new ticket now ("" = they do)."""
    if profile.availability == Availability.OFFLINE:
        return "offline"
    if profile.availability == Availability.AWAY:
        return "away"
    if profile.schedule is not None and not is_open(calendar_from_dict(profile.schedule), now):
        return "outside working hours"
    return ""


def open_ticket_count(user: User) -> int:
    return Ticket.objects.filter(assignee=user).exclude(status__in=SOLVED_STATUSES).count()


def _schedule_errors(schedule: Any) -> list[FieldError]:
    try:
        calendar_from_dict(schedule)
    except CalendarValidationError as exc:
        return [
            FieldError(f"schedule.{p.path}" if p.path else "schedule", p.message)
            for p in exc.problems
        ]
    return []


def _skill_errors(skills: list[str]) -> list[FieldError]:
    if len(skills) > MAX_SKILLS:
        return [FieldError("skills", f"at most {MAX_SKILLS} skills")]
    return [
        FieldError(f"skills[{i}]", f"{s!r} is not a skill (one lower-case word: a-z 0-9 _ . + -)")
        for i, s in enumerate(skills)
        if not SKILL.match(s.strip().lower())
    ]


def check_update_profile(
    user: User, sent: dict[str, Any], now: datetime
) -> tuple[AgentProfile, str | None]:
    """Apply the sent keys (availability, schedule, capacity, skills); all or nothing.
    Returns the profile and the availability it had before."""
    errors: list[FieldError] = []
    if "schedule" in sent and sent["schedule"] is not None:
        errors += _schedule_errors(sent["schedule"])
    if "skills" in sent and sent["skills"] is not None:
        errors += _skill_errors(sent["skills"])
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        ensure_profiles([user.pk])
        profile = AgentProfile.objects.select_for_update().get(user=user)
        before = profile.availability
        if "availability" in sent and sent["availability"] is not None:
            profile.availability = sent["availability"]
        if "schedule" in sent:
            profile.schedule = sent["schedule"]
        if "capacity" in sent:
            profile.capacity = sent["capacity"]
        if "skills" in sent:
            profile.skills = sorted({s.strip().lower() for s in sent["skills"] or []})
        profile.updated_at = now
        profile.save(update_fields=["availability", "schedule", "capacity", "skills", "updated_at"])
        if before != Availability.OFFLINE and profile.availability == Availability.OFFLINE:
            _return_now(user, now)
    return profile, before


def _return_now(user: User, now: datetime) -> None:
    """An agent went offline: in teams that reassign then, their open tickets' return timers
    come due now, so the timer worker hands those tickets on (as any return does)."""
    teams = TeamRouting.objects.filter(reassign_when_offline=True).values_list("team_id")
    tickets = (
        Ticket.objects.filter(assignee=user, team_id__in=teams)
        .exclude(status__in=SOLVED_STATUSES)
        .values_list("pk", flat=True)
    )
    for ticket_id in tickets:
        row = Timer.objects.filter(ticket_id=ticket_id, purpose="return").first()
        if row is None:
            Timer.objects.create(
                ticket_id=ticket_id,
                purpose="return",
                due_at=now,
                state={"assignee": user.email, "assigned_at": None},
                updated_at=now,
            )
        elif row.due_at is None or row.due_at > now:
            row.due_at, row.updated_at = now, now
            row.save(update_fields=["due_at", "updated_at"])


def profile_out(user: User, now: datetime) -> dict[str, Any]:
    profile = profile_of(user)
    why = unavailable_reason(profile, now) if user.is_active else "deactivated"
    return {
        "agent": {"id": user.pk, "email": user.email, "name": user.name},
        "availability": profile.availability,
        "available": why == "",
        "unavailable_reason": why or None,
        "schedule": profile.schedule,
        "capacity": profile.capacity,
        "skills": list(profile.skills),
        "open_tickets": open_ticket_count(user),
        "last_assigned_at": profile.last_assigned_at,
    }
