"""Calendars, team calendars and SLA policies as managed data: the only writers of them.

``check_*`` validate (every problem named by field path and value) and then call ``do_*``,
which write without checking, inside ``cache.changing()`` so that every process's cache sees
the change. Reads for ticket updates go through the cache (``calendars()``,
``calendar_name_for(team_id)``, ``stored_policies()``; re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from flowdesk.accounts.models import Team
from flowdesk.calendars import CalendarValidationError, calendar_from_dict, calendar_to_dict
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.sla.cache import (
    calendar_name_for,
    calendars,
    changing,
    current,
    default_calendar_name,
    fingerprint,
    stored_policies,
    team_calendar_name,
)
from flowdesk.sla.issues import Located, SlaImportError, closest, problem_field_errors
from flowdesk.sla.models import Calendar, SlaPolicy, TeamCalendar
from flowdesk.sla.policy import ROOT_KEY, PolicyError, compile_policies

__all__ = [
    "access_calendar",
    "calendar_name_for",
    "calendar_users",
    "calendars",
    "check_create_calendar",
    "check_delete_calendar",
    "check_replace_policies",
    "check_set_default_calendar",
    "check_set_team_calendar",
    "check_update_calendar",
    "current",
    "default_calendar_name",
    "fingerprint",
    "stored_policies",
    "team_calendar_name",
    "validate_policies",
]

NAME_MAX = 100


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a calendar or a policy, else None. All digits is refused: an
    API path takes a calendar's name or its id."""
    if not isinstance(name, str) or not name.strip():
        return f"{json.dumps(name)} is not a name (a non-empty text)"
    if name != name.strip():
        return f"{json.dumps(name)} has spaces at its start or end"
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX}"
    if name.isdigit():
        return f"{json.dumps(name)} is all digits, which would read as an id"
    if "/" in name:
        return f"{json.dumps(name)} contains '/'"
    return None


# --- calendars -----------------------------------------------------------------------------


def access_calendar(ref: str | int) -> Calendar:
    """A calendar by id (digits) or by name (case-insensitive); 404 naming what was asked."""
    text = str(ref).strip()
    row = (
        Calendar.objects.filter(pk=int(text)).first()
        if text.isdigit() and len(text) < 19
        else Calendar.objects.filter(name__iexact=text).first()
    )
    if row is None:
        names = list(Calendar.objects.values_list("name", flat=True))
        hint = closest(text, names)
        raise NotFound(f"no calendar {text!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
    return row


def normalised_definition(data: object, prefix: str = "definition") -> dict[str, Any]:
    """The stored form of a definition (``calendar_to_dict`` of the compiled calendar); 422
    with every problem as ``definition.weekly.mon[0].end: "25:00" is not a time``."""
    try:
        return calendar_to_dict(calendar_from_dict(data))
    except CalendarValidationError as exc:
        raise ValidationFailed(problem_field_errors(exc.problems, prefix, data)) from None


def _check_name(name: object, exclude: int | None = None) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise ValidationFailed([FieldError("name", problem)])
    assert isinstance(name, str)
    others = Calendar.objects.filter(name__iexact=name)
    clash = (others.exclude(pk=exclude) if exclude is not None else others).first()
    if clash is not None:
        raise Conflict(f"a calendar named {clash.name!r} already exists (id {clash.pk})")
    return name


def policies_using(name: str) -> list[str]:
    """The SLA policies that name this calendar (``calendar`` of their definition)."""
    return [
        p.name
        for p in SlaPolicy.objects.order_by("position")
        if str(p.definition.get("calendar") or "").casefold() == name.casefold()
    ]


def calendar_users(cal: Calendar) -> tuple[list[str], list[str]]:
    """The teams (names) and SLA policies (names) that use a calendar."""
    teams = sorted(Team.objects.filter(calendar_link__calendar=cal).values_list("name", flat=True))
    return teams, policies_using(cal.name)


def _save(cal: Calendar, *, default_changed: bool) -> None:
    if default_changed and cal.is_default:
        Calendar.objects.filter(is_default=True).exclude(pk=cal.pk).update(is_default=False)
    try:
        with transaction.atomic():
            cal.save()
    except IntegrityError:
        raise Conflict(
            f"calendar {cal.name!r} was changed by someone else at the same moment; try again"
        ) from None


def do_create_calendar(name: str, definition: dict[str, Any], *, is_default: bool) -> Calendar:
    with changing():
        cal = Calendar(name=name, definition=definition, is_default=is_default, updated_at=utcnow())
        _save(cal, default_changed=True)
    return cal


def check_create_calendar(
    *, name: object, definition: object, is_default: bool = False
) -> Calendar:
    stored = normalised_definition(definition)
    with transaction.atomic():
        return do_create_calendar(_check_name(name), stored, is_default=is_default)


def do_update_calendar(cal: Calendar, changes: Mapping[str, Any]) -> Calendar:
    with changing():
        for key, value in changes.items():
            setattr(cal, key, value)
        cal.updated_at = utcnow()
        _save(cal, default_changed="is_default" in changes)
    return cal


def check_update_calendar(
    cal: Calendar,
    *,
    name: object = None,
    definition: object = None,
    is_default: bool | None = None,
) -> Calendar:
    """Only what is given changes. A rename is refused while a policy names the calendar."""
    changes: dict[str, Any] = {}
    if definition is not None:
        changes["definition"] = normalised_definition(definition)
    with transaction.atomic():
        if name is not None and name != cal.name:
            changes["name"] = _check_name(name, exclude=cal.pk)
            used = policies_using(cal.name)
            if used and str(name).casefold() != cal.name.casefold():
                raise Conflict(
                    f"calendar {cal.name!r} is named by SLA {_plural('policy', used)} "
                    f"{_names(used)}; change the policies first"
                )
        if is_default is not None and is_default != cal.is_default:
            changes["is_default"] = is_default
        return do_update_calendar(cal, changes) if changes else cal


def do_delete_calendar(cal: Calendar) -> None:
    with changing():
        cal.delete()


def check_delete_calendar(cal: Calendar) -> None:
    """A calendar in use stays: its teams and policies would silently fall back to another."""
    with transaction.atomic():
        Calendar.objects.select_for_update().filter(pk=cal.pk).first()
        teams, policies = calendar_users(cal)
        users = []
        if teams:
            users.append(f"{_plural('team', teams)} {_names(teams)}")
        if policies:
            users.append(f"SLA {_plural('policy', policies)} {_names(policies)}")
        if users:
            raise Conflict(
                f"calendar {cal.name!r} is used by {' and '.join(users)}; "
                "attach another calendar or change them first"
            )
        do_delete_calendar(cal)


def check_set_default_calendar(name: str | None) -> Calendar | None:
    """Make the named calendar the default (None: no default calendar)."""
    with transaction.atomic():
        if name is None:
            with changing():
                Calendar.objects.filter(is_default=True).update(is_default=False)
            return None
        cal = access_calendar(name)
        return check_update_calendar(cal, is_default=True)


def do_set_team_calendar(team: Team, cal: Calendar | None) -> None:
    with changing():
        if cal is None:
            TeamCalendar.objects.filter(team=team).delete()
        else:
            TeamCalendar.objects.update_or_create(team=team, defaults={"calendar": cal})


def check_set_team_calendar(team: Team, name: str | None) -> Calendar | None:
    """Attach the named calendar to the team, or detach (None): its tickets then use the
    default calendar. An unknown name is a 422 naming it."""
    cal = None
    if name is not None:
        try:
            cal = access_calendar(name)
        except NotFound as exc:
            raise ValidationFailed([FieldError("calendar", str(exc))]) from None
    with transaction.atomic():
        do_set_team_calendar(team, cal)
    return cal


def _plural(word: str, items: list[str]) -> str:
    if len(items) == 1:
        return word
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _names(items: list[str]) -> str:
    return ", ".join(repr(i) for i in items)


# --- SLA policies ----------------------------------------------------------------------------


def _jsonable_problem(value: Any) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"holds a value JSON cannot store ({exc})"
    return None


def validate_policies(
    data: object, lines: Mapping[str, int] | None, source: str
) -> list[dict[str, Any]]:
    """The ordered policy definitions to store, or SlaImportError listing every problem at
    ``policies[i]...`` with its line. The structural check here (a name, optional
    ``conditions`` object, a ``targets`` object, an optional ``calendar`` naming a stored
    calendar) is the one place to call the policy format's own validation from."""
    out = Located(source, lines)
    if not isinstance(data, list):
        out.add("policies", f"{json.dumps(data, default=str)[:80]} is not a list of policies")
        raise SlaImportError(out.issues, "SLA policies")
    calendar_names = list(Calendar.objects.values_list("name", flat=True))
    seen: dict[str, int] = {}
    result: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        where = f"policies[{i}]"
        if not isinstance(item, dict):
            out.add(where, "is not a policy object {name, conditions, targets}")
            continue
        name = item.get("name")
        if "name" not in item:
            out.add(f"{where}.name", "is required")
        elif (problem := name_problem(name)) is not None:
            out.add(f"{where}.name", problem)
        elif str(name).casefold() in seen:
            out.add(f"{where}.name", f"{name!r} is already policies[{seen[str(name).casefold()]}]")
        else:
            seen[str(name).casefold()] = i
        if item.get("conditions") is not None and not isinstance(item["conditions"], dict):
            out.add(f"{where}.conditions", "is not an object of conditions")
        if "targets" not in item:
            out.add(f"{where}.targets", "is required (the targets per priority)")
        elif not isinstance(item["targets"], dict):
            out.add(f"{where}.targets", "is not an object of targets")
        ref = item.get("calendar")
        if ref is not None and not any(str(ref).casefold() == c.casefold() for c in calendar_names):
            hint = closest(ref, calendar_names)
            out.add(
                f"{where}.calendar",
                f"{json.dumps(ref, default=str)} is not a stored calendar",
                hint,
            )
        if (problem := _jsonable_problem(item)) is not None:
            out.add(where, problem)
        result.append(item)
    if out.issues:
        raise SlaImportError(out.issues, "SLA policies")
    return _compiled_definitions(result, out, calendar_names)


def _compiled_definitions(
    items: list[dict[str, Any]], out: Located, calendar_names: list[str]
) -> list[dict[str, Any]]:
    """The policy format's own check (``flowdesk.sla.policy``: targets, durations, statuses,
    conditions in the rule language) and its normal form, which is what is stored. Its paths
    start at ``sla_policies``; here they are the file's and the API's ``policies``."""
    try:
        compiled = compile_policies(items, source=out.source, known_calendars=calendar_names)
    except PolicyError as exc:
        for issue in exc.issues:
            path = "policies" + issue.path.removeprefix(ROOT_KEY)
            out.add(path, issue.message, issue.suggestion, key="unknown key" in issue.message)
        raise SlaImportError(out.issues, "SLA policies") from None
    return [p.to_dict() for p in compiled]


def do_replace_policies(policies: list[dict[str, Any]]) -> list[SlaPolicy]:
    now = utcnow()
    with changing():
        SlaPolicy.objects.all().delete()
        rows = [
            SlaPolicy(
                name=p["name"],
                position=i,
                definition={k: v for k, v in p.items() if k != "name"},
                updated_at=now,
            )
            for i, p in enumerate(policies)
        ]
        SlaPolicy.objects.bulk_create(rows)
    return rows


def check_replace_policies(
    data: object, *, lines: Mapping[str, int] | None = None, source: str = "api"
) -> list[SlaPolicy]:
    """All or nothing: the stored list becomes ``data`` (positions 0..n-1), or nothing changes."""
    with transaction.atomic():
        return do_replace_policies(validate_policies(data, lines, source))


def policy_definitions() -> list[dict[str, Any]]:
    """The stored policies as written (name first), in order."""
    return [{"name": p.name, **p.definition} for p in SlaPolicy.objects.order_by("position", "id")]
