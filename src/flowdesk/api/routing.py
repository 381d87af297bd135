"""Routing: agents' availability, capacity and skills, teams' default strategies and return
timers, escalation paths, and a ticket's escalation. The agent, team and ticket endpoints sit
under the existing /agents, /teams, /me and /tickets routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import Field

from flowdesk.accounts import selectors
from flowdesk.api.auth import current_user, require_admin, require_agent
from flowdesk.api.people import WriteIn, agents_router, me_router, teams_router
from flowdesk.api.schemas import BODY_ERRORS, UserRef, errors
from flowdesk.api.tickets import router as tickets_router
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, ValidationFailed
from flowdesk.routing import escalation
from flowdesk.routing.agents import check_update_profile, profile_out
from flowdesk.routing.durations import format_duration, parse_duration
from flowdesk.routing.models import EscalationPath
from flowdesk.routing.services import team_routing
from flowdesk.routing.strategies import STRATEGIES
from flowdesk.tickets.selectors import access_ticket_by_id

AvailabilityT = Literal["online", "away", "offline"]

# --- agents ----------------------------------------------------------------------------------


class AgentRoutingOut(Schema):
    agent: UserRef
    availability: AvailabilityT
    available: bool = Field(description="takes new tickets now (online, inside their schedule)")
    unavailable_reason: str | None
    schedule: dict[str, Any] | None
    capacity: int | None
    skills: list[str]
    open_tickets: int
    last_assigned_at: datetime | None


class AgentRoutingPatch(WriteIn):
    availability: AvailabilityT | None = None
    schedule: dict[str, Any] | None = Field(
        None, description="inline working-hours calendar (docs/sla.md); null: always working"
    )
    capacity: int | None = Field(None, ge=0, le=100_000, description="null: unlimited")
    skills: list[str] | None = Field(None, max_length=100, description="replaces the skills")


class AvailabilityIn(WriteIn):
    availability: AvailabilityT


@agents_router.get(
    "/{agent_id}/routing",
    response={200: AgentRoutingOut, **errors(401, 403, 404, 422)},
    summary="An agent's availability, schedule, capacity, skills and load",
)
def get_agent_routing(request: HttpRequest, agent_id: int) -> dict[str, Any]:
    agent = selectors.access_agent_by_id(current_user(request), agent_id)
    return profile_out(agent, utcnow())


@agents_router.patch(
    "/{agent_id}/routing",
    response={200: AgentRoutingOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Set an agent's availability, schedule, capacity, skills (admins)",
)
def update_agent_routing(
    request: HttpRequest, agent_id: int, payload: AgentRoutingPatch
) -> dict[str, Any]:
    agent = selectors.access_agent_by_id(require_admin(request), agent_id)
    sent = {k: getattr(payload, k) for k in payload.model_fields_set}
    now = utcnow()
    check_update_profile(agent, sent, now)
    return profile_out(agent, now)


@me_router.put(
    "/availability",
    response={200: AgentRoutingOut, **errors(401, 403, *BODY_ERRORS)},
    summary="Set my availability (agents): online, away or offline",
)
def set_my_availability(request: HttpRequest, payload: AvailabilityIn) -> dict[str, Any]:
    user = require_agent(request)
    now = utcnow()
    check_update_profile(user, {"availability": payload.availability}, now)
    return profile_out(user, now)


# --- teams -----------------------------------------------------------------------------------


class TeamRoutingOut(Schema):
    team: str
    strategy: str | None = Field(description="default strategy for new / re-teamed tickets")
    return_after: str | None
    reassign_when_offline: bool
    strategies: list[str]


class TeamRoutingPatch(WriteIn):
    strategy: str | None = Field(None, description="round_robin, least_open, skills; null: none")
    return_after: int | str | None = Field(
        None, description="'30m', '4h', '1d' or seconds; null: no return timer"
    )
    reassign_when_offline: bool | None = None


def team_routing_out(team: Any) -> dict[str, Any]:
    row = team_routing(team)
    seconds = row.return_after_seconds
    return {
        "team": team.name,
        "strategy": row.strategy or None,
        "return_after": format_duration(seconds) if seconds else None,
        "reassign_when_offline": row.reassign_when_offline,
        "strategies": STRATEGIES.names(),
    }


@teams_router.get(
    "/{team_id}/routing",
    response={200: TeamRoutingOut, **errors(401, 403, 404, 422)},
    summary="A team's routing settings",
)
def get_team_routing(request: HttpRequest, team_id: int) -> dict[str, Any]:
    return team_routing_out(selectors.access_team_by_id(current_user(request), team_id))


@teams_router.patch(
    "/{team_id}/routing",
    response={200: TeamRoutingOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Set a team's default strategy, return timer and offline reassignment (admins)",
)
def update_team_routing(
    request: HttpRequest, team_id: int, payload: TeamRoutingPatch
) -> dict[str, Any]:
    team = selectors.access_team_by_id(require_admin(request), team_id)
    sent = payload.model_fields_set
    problems: list[FieldError] = []
    if payload.strategy is not None and payload.strategy not in STRATEGIES:
        known = ", ".join(STRATEGIES.names())
        problems.append(FieldError("strategy", f"unknown strategy {payload.strategy!r} ({known})"))
    seconds = None
    if payload.return_after is not None:
        try:
            seconds = parse_duration(payload.return_after) or None
        except ValueError as exc:
            problems.append(FieldError("return_after", str(exc)))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        row = team_routing(team, lock=True)
        if "strategy" in sent:
            row.strategy = payload.strategy or ""
        if "return_after" in sent:
            row.return_after_seconds = seconds
        if "reassign_when_offline" in sent and payload.reassign_when_offline is not None:
            row.reassign_when_offline = payload.reassign_when_offline
        row.updated_at = utcnow()
        row.save(
            update_fields=[
                "strategy",
                "return_after_seconds",
                "reassign_when_offline",
                "updated_at",
            ]
        )
    return team_routing_out(team)


# --- escalation paths ------------------------------------------------------------------------


class LevelOut(Schema):
    level: int
    name: str | None = None
    after: str
    team: str | None = None
    notify: dict[str, Any] | None = None
    priority: str | None = None


class PathOut(Schema):
    id: int
    name: str
    description: str
    levels: list[LevelOut]


class PathIn(WriteIn):
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)
    levels: list[dict[str, Any]] = Field(
        max_length=escalation.MAX_LEVELS,
        description="ordered levels: {name, after, team, notify: {agents, team, message}, "
        "priority}",
    )


class PathsImportIn(WriteIn):
    yaml: str = Field(description="the whole list: 'paths: [...]'; replaces every path")
    source: str = Field("api", max_length=300)


paths_router = Router(tags=["escalation paths"])


@paths_router.get("", response={200: list[PathOut], **errors(401, 403)}, summary="All paths")
def list_paths(request: HttpRequest) -> list[dict[str, Any]]:
    require_agent(request)
    return [escalation.path_out(p) for p in EscalationPath.objects.all()]


@paths_router.get(
    "/export",
    response={200: str, **errors(401, 403)},
    summary="Every path as YAML (what the import reads)",
)
def export_paths(request: HttpRequest) -> HttpResponse:
    require_agent(request)
    return HttpResponse(escalation.export_yaml(), content_type="application/yaml; charset=utf-8")


@paths_router.post(
    "/import",
    response={200: list[PathOut], **errors(401, 403, *BODY_ERRORS)},
    summary="Replace every path with a YAML list (all or nothing; admins)",
)
def import_paths(request: HttpRequest, payload: PathsImportIn) -> list[dict[str, Any]]:
    require_admin(request)
    paths = escalation.check_import_yaml(payload.yaml, payload.source, utcnow())
    return [escalation.path_out(p) for p in paths]


@paths_router.post(
    "",
    response={201: PathOut, **errors(401, 403, *BODY_ERRORS)},
    summary="Create a path (admins)",
)
def create_path(request: HttpRequest, payload: PathIn) -> Status[Any]:
    require_admin(request)
    path = escalation.check_create_path(payload.model_dump(), utcnow())
    return Status(201, escalation.path_out(path))


@paths_router.get(
    "/{path_id}", response={200: PathOut, **errors(401, 403, 404, 422)}, summary="One path"
)
def get_path(request: HttpRequest, path_id: int) -> dict[str, Any]:
    require_agent(request)
    return escalation.path_out(escalation.access_path(path_id))


@paths_router.put(
    "/{path_id}",
    response={200: PathOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Replace a path (admins); tickets on it continue with its new levels",
)
def replace_path(request: HttpRequest, path_id: int, payload: PathIn) -> dict[str, Any]:
    require_admin(request)
    path = escalation.access_path(path_id)
    return escalation.path_out(escalation.check_replace_path(path, payload.model_dump(), utcnow()))


@paths_router.delete(
    "/{path_id}",
    response={204: None, **errors(401, 403, 404, 422)},
    summary="Delete a path (admins); tickets on it stop at their next level",
)
def delete_path(request: HttpRequest, path_id: int) -> Status[Any]:
    require_admin(request)
    escalation.access_path(path_id).delete()
    return Status(204, None)


# --- a ticket's escalation -------------------------------------------------------------------


class TicketEscalationOut(Schema):
    path: str | None
    active: bool
    started_at: datetime | None = None
    level: int | None = None
    current: LevelOut | None = None
    level_at: datetime | None = None
    next_level: int | None = None
    next: LevelOut | None = None
    next_at: datetime | None = None
    finished: str | None = None


@tickets_router.get(
    "/{ticket_id}/escalation",
    response={200: TicketEscalationOut, **errors(401, 403, 404, 422)},
    summary="The ticket's escalation path: current level, next level and when (agents)",
)
def ticket_escalation(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    ticket = access_ticket_by_id(require_agent(request), ticket_id)
    return escalation.ticket_escalation(ticket.pk)
