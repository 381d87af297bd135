"""Business-hours calendars, the calendar each team works by, and the ordered SLA policy list.

Reads are for agents and admins, writes for admins. A calendar is addressed by its id or its
name (case-insensitive). Whole sets travel as YAML (or JSON) and are replaced all or nothing,
like rule sets: a bad import answers 422 with every problem (source, line, path, suggestion).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.accounts import selectors
from flowdesk.api.auth import require_admin, require_agent
from flowdesk.api.schemas import BODY_ERRORS, RequestIn, RuleSetErrorOut, errors
from flowdesk.calendars import (
    NoBusinessTimeError,
    add_business_time,
    calendar_from_dict,
    is_open,
    next_close,
    next_open,
    open_periods_on,
)
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, ValidationFailed
from flowdesk.sla import store, yamlio
from flowdesk.sla.models import Calendar

calendars_router = Router(tags=["calendars"])
team_calendar_router = Router(tags=["calendars"])
policies_router = Router(tags=["sla"])

PERIODS = [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
EXAMPLE_DEFINITION: dict[str, Any] = {
    "time_zone": "Asia/Manila",
    "weekly": {day: PERIODS for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "PH"},
    "closed_dates": ["2025-12-24"],
    "overrides": {"2025-12-29": [{"start": "08:00", "end": "12:00"}]},
}
EXAMPLE_POLICY: dict[str, Any] = {
    "name": "Enterprise",
    "conditions": {"all": [{"field": "organization.tier", "op": "is", "value": "enterprise"}]},
    "targets": {"urgent": {"first_reply": "1h", "resolution": "8h"}},
}
Definition = dict[str, Any]


def _imported(what: str) -> dict[int, Any]:
    """The statuses of a whole-set import: its 422 may list located issues."""
    out = errors(401, 403, 409, *BODY_ERRORS)
    out[422] = out[422] | RuleSetErrorOut
    return out


# --- schemas -------------------------------------------------------------------------------


class TeamRef(Schema):
    id: int
    name: str


class CalendarOut(Schema):
    id: int
    name: str
    is_default: bool
    teams: list[TeamRef] = Field(description="the teams that work by it")
    policies: list[str] = Field(description="the SLA policies that name it")
    definition: Definition = Field(description="the normalised definition (docs/sla.md)")
    updated_at: datetime


class CalendarPage(Schema):
    count: int
    items: list[CalendarOut]


class CalendarIn(RequestIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Manila", "is_default": True, "definition": EXAMPLE_DEFINITION}]
        },
    )
    name: str = Field(max_length=100)
    is_default: bool = False
    definition: Definition = Field(examples=[EXAMPLE_DEFINITION])


class CalendarPatch(RequestIn):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"is_default": True}, {"name": "PH"}]}
    )
    name: str | None = Field(None, max_length=100)
    is_default: bool | None = None
    definition: Definition | None = Field(None, examples=[EXAMPLE_DEFINITION])


class CalendarsImportIn(RequestIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "yaml": "calendars:\n- name: Manila\n  default: true\n"
                    "  time_zone: Asia/Manila\n  weekly:\n"
                    "    mon: [{start: '08:00', end: '17:00'}]\n",
                    "source": "calendars.yaml",
                }
            ]
        },
    )
    yaml: str = Field(description="the whole set as YAML (docs/sla.md, 'Managing calendars')")
    source: str = Field("api", max_length=300, description="a file name for the issues")


class CalendarsImportOut(Schema):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deleted: list[str]


class CheckQuery(RequestIn):
    at: datetime | None = Field(None, description="an instant with its offset (default: now)")
    business_minutes: int | None = Field(
        None,
        ge=0,
        le=10_000_000,
        description="also answer the deadline this far into business time",
    )


class PeriodOut(Schema):
    start: datetime
    end: datetime


class CalendarCheckOut(Schema):
    calendar: str
    time_zone: str
    at: datetime
    local_time: str = Field(description="`at` in the calendar's time zone")
    open: bool
    next_open: datetime | None = Field(description="`at` itself when open")
    next_close: datetime | None = Field(description="the close of this or the next stretch")
    today: list[PeriodOut] = Field(description="the business periods of the local date")
    deadline: datetime | None = Field(description="`business_minutes` after `at`, if asked")


class TeamCalendarIn(RequestIn):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"calendar": "Berlin"}, {"calendar": None}]}
    )
    calendar: str | None = Field(description="a calendar's name or id; null detaches")


class TeamCalendarOut(Schema):
    team: TeamRef
    calendar: str | None = Field(description="the calendar attached to the team")
    effective: str | None = Field(description="what its tickets use: the team's, else the default")


class PoliciesQuery(RequestIn):
    format: Literal["json", "yaml"] = "json"


class PoliciesOut(Schema):
    count: int
    policies: list[dict[str, Any]] = Field(examples=[[EXAMPLE_POLICY]])


class PoliciesIn(RequestIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"policies": [EXAMPLE_POLICY]},
                {"yaml": "policies:\n- name: Default\n  targets: {}\n", "source": "sla.yaml"},
            ]
        },
    )
    yaml: str | None = Field(None, description="the whole ordered list as YAML (`policies:`)")
    policies: list[Any] | None = Field(None, description="...or as JSON", max_length=10_000)
    source: str = Field("api", max_length=300, description="a file name for the issues")


# --- calendars -----------------------------------------------------------------------------


def calendar_out(cal: Calendar) -> dict[str, Any]:
    teams = sorted(
        (
            {"id": link.team.pk, "name": link.team.name}
            for link in cal.team_links.select_related("team")
        ),
        key=lambda t: str(t["name"]),
    )
    return {
        "id": cal.pk,
        "name": cal.name,
        "is_default": cal.is_default,
        "teams": teams,
        "policies": store.policies_using(cal.name),
        "definition": cal.definition,
        "updated_at": cal.updated_at,
    }


def _yaml(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="application/yaml; charset=utf-8")


@calendars_router.get(
    "",
    response={200: CalendarPage, **errors(401, 403, 422)},
    summary="Every calendar (agents); format=yaml: the whole set as a YAML file",
)
def list_calendars(request: HttpRequest, query: Query[PoliciesQuery]) -> Any:
    require_agent(request)
    if query.format == "yaml":
        return _yaml(yamlio.export_calendars_yaml())
    items = [calendar_out(c) for c in Calendar.objects.order_by("name")]
    return {"count": len(items), "items": items}


@calendars_router.post(
    "",
    response={201: CalendarOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create a calendar (admins)",
)
def create_calendar(request: HttpRequest, payload: CalendarIn) -> Status[Any]:
    require_admin(request)
    cal = store.check_create_calendar(
        name=payload.name, definition=payload.definition, is_default=payload.is_default
    )
    return Status(201, calendar_out(cal))


@calendars_router.put(
    "",
    response={200: CalendarsImportOut, **_imported("calendars")},
    summary="Replace every calendar and team link with a YAML file's (admins; all or nothing)",
)
def import_calendars(request: HttpRequest, payload: CalendarsImportIn) -> dict[str, Any]:
    require_admin(request)
    result = yamlio.check_import_calendars_yaml(payload.yaml, source=payload.source)
    return result.__dict__


@calendars_router.get(
    "/{ref}",
    response={200: CalendarOut, **errors(401, 403, 404, 422)},
    summary="One calendar, by id or name (agents)",
)
def get_calendar(request: HttpRequest, ref: str) -> dict[str, Any]:
    require_agent(request)
    return calendar_out(store.access_calendar(ref))


@calendars_router.put(
    "/{ref}",
    response={200: CalendarOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Replace a calendar's name, default flag and definition (admins)",
)
def replace_calendar(request: HttpRequest, ref: str, payload: CalendarIn) -> dict[str, Any]:
    require_admin(request)
    cal = store.check_update_calendar(
        store.access_calendar(ref),
        name=payload.name,
        definition=payload.definition,
        is_default=payload.is_default,
    )
    return calendar_out(cal)


@calendars_router.patch(
    "/{ref}",
    response={200: CalendarOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Change what is given: name, is_default, definition (admins)",
)
def update_calendar(request: HttpRequest, ref: str, payload: CalendarPatch) -> dict[str, Any]:
    require_admin(request)
    cal = store.check_update_calendar(
        store.access_calendar(ref),
        name=payload.name,
        definition=payload.definition,
        is_default=payload.is_default,
    )
    return calendar_out(cal)


@calendars_router.delete(
    "/{ref}",
    response={204: None, **errors(401, 403, 404, 409, 422)},
    summary="Delete a calendar no team or policy uses (admins)",
)
def delete_calendar(request: HttpRequest, ref: str) -> Status[Any]:
    require_admin(request)
    store.check_delete_calendar(store.access_calendar(ref))
    return Status(204, None)


@calendars_router.get(
    "/{ref}/check",
    response={200: CalendarCheckOut, **errors(401, 403, 404, 422)},
    summary="Is the calendar open at an instant; its next open and close (agents)",
)
def check_calendar(request: HttpRequest, ref: str, query: Query[CheckQuery]) -> dict[str, Any]:
    require_agent(request)
    row = store.access_calendar(ref)
    at = query.at or utcnow()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(
            [FieldError("at", f"{at.isoformat()!r} has no time zone; add Z or an offset")]
        )
    cal = calendar_from_dict(row.definition)
    local = at.astimezone(zoneinfo.ZoneInfo(cal.time_zone))
    try:
        opening = next_open(cal, at)
        closing = next_close(cal, at)
        deadline = (
            add_business_time(cal, at, query.business_minutes * 60)
            if query.business_minutes is not None
            else None
        )
    except NoBusinessTimeError as exc:
        raise ValidationFailed([FieldError("definition", str(exc))]) from None
    return {
        "calendar": row.name,
        "time_zone": cal.time_zone,
        "at": at,
        "local_time": local.isoformat(),
        "open": is_open(cal, at),
        "next_open": opening,
        "next_close": closing,
        "today": [{"start": a, "end": b} for a, b in open_periods_on(cal, local.date())],
        "deadline": deadline,
    }


# --- team calendars ------------------------------------------------------------------------


def _team_calendar(team_id: int, name: str) -> dict[str, Any]:
    return {
        "team": {"id": team_id, "name": name},
        "calendar": store.team_calendar_name(team_id),
        "effective": store.calendar_name_for(team_id),
    }


@team_calendar_router.get(
    "/{team_id}/calendar",
    response={200: TeamCalendarOut, **errors(401, 403, 404, 422)},
    summary="The calendar a team works by (agents)",
)
def get_team_calendar(request: HttpRequest, team_id: int) -> dict[str, Any]:
    team = selectors.access_team_by_id(require_agent(request), team_id)
    return _team_calendar(team.pk, team.name)


@team_calendar_router.put(
    "/{team_id}/calendar",
    response={200: TeamCalendarOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Attach a calendar to a team, or detach it with null (admins)",
)
def set_team_calendar(request: HttpRequest, team_id: int, payload: TeamCalendarIn) -> Any:
    team = selectors.access_team_by_id(require_admin(request), team_id)
    store.check_set_team_calendar(team, payload.calendar)
    return _team_calendar(team.pk, team.name)


# --- SLA policies --------------------------------------------------------------------------


@policies_router.get(
    "",
    response={200: PoliciesOut, **errors(401, 403, 422)},
    summary="The ordered SLA policies (agents); format=yaml: as a YAML file",
)
def list_policies(request: HttpRequest, query: Query[PoliciesQuery]) -> Any:
    require_agent(request)
    if query.format == "yaml":
        return _yaml(yamlio.export_policies_yaml())
    policies = store.policy_definitions()
    return {"count": len(policies), "policies": policies}


@policies_router.put(
    "",
    response={200: PoliciesOut, **_imported("SLA policies")},
    summary="Replace the whole ordered list (admins; all or nothing), as yaml or policies",
)
def replace_policies(request: HttpRequest, payload: PoliciesIn) -> dict[str, Any]:
    require_admin(request)
    if (payload.yaml is None) == (payload.policies is None):
        raise ValidationFailed([FieldError("yaml", "send exactly one of yaml or policies")])
    if payload.yaml is not None:
        yamlio.check_import_policies_yaml(payload.yaml, source=payload.source)
    else:
        store.check_replace_policies(payload.policies, source=payload.source)
    policies = store.policy_definitions()
    return {"count": len(policies), "policies": policies}
