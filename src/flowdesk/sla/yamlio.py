"""Calendars and SLA policies as YAML files, alongside the rules (``flowdesk calendars import``,
``flowdesk sla policies import``). A file is the whole set: importing it makes the stored set
equal to it, in one transaction, or changes nothing and lists every problem with its line.

    calendars:
      - name: Manila
        default: true
        teams: [Tier 1]
        time_zone: Asia/Manila
        weekly:
          mon: [{start: "08:00", end: "12:00"}, {start: "13:00", end: "17:00"}]
        holidays: {country: PH}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from flowdesk.accounts.models import Team
from flowdesk.calendars import CalendarValidationError, calendar_from_dict, calendar_to_dict
from flowdesk.core.clock import utcnow
from flowdesk.sla import store
from flowdesk.sla.cache import changing
from flowdesk.sla.issues import Located, SlaImportError, closest, load_yaml
from flowdesk.sla.models import Calendar, TeamCalendar

#: the keys of one calendar entry besides those of its definition
ENTRY_KEYS = ("name", "default", "teams")
DEFINITION_KEYS = ("time_zone", "weekly", "holidays", "closed_dates", "overrides")
WHAT_CALENDARS = "calendars"


@dataclass
class ParsedCalendar:
    name: str
    default: bool
    teams: list[Team]
    definition: dict[str, Any]


@dataclass
class CalendarImport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{len(names)} {label}"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("unchanged", self.unchanged),
                ("deleted", self.deleted),
            )
            if names
        ]
        return ", ".join(parts) or "no calendars"


def _top(data: object, key: str, out: Located) -> list[Any] | None:
    if not isinstance(data, dict):
        out.add("", f"the file must be an object with a {key!r} list")
        return None
    for k in data:
        if k != key:
            out.add(str(k), f"unknown key; expected {key!r}", closest(str(k), [key]), key=True)
    value = data.get(key)
    if not isinstance(value, list):
        out.add(key, f"is required: a list ({key}: [] for none)")
        return None
    return value


def _entry(
    item: object, i: int, out: Located, teams: dict[str, Team], taken: dict[str, tuple[int, str]]
) -> ParsedCalendar | None:
    where = f"calendars[{i}]"
    if not isinstance(item, dict):
        out.add(where, "is not a calendar object {name, time_zone, weekly, ...}")
        return None
    ok = True
    for k in item:
        if str(k) not in ENTRY_KEYS + DEFINITION_KEYS:
            hint = closest(str(k), ENTRY_KEYS + DEFINITION_KEYS)
            out.add(f"{where}.{k}", "unknown key", hint, key=True)
            ok = False
    name = item.get("name")
    if "name" not in item:
        out.add(f"{where}.name", "is required")
        ok = False
    elif (problem := store.name_problem(name)) is not None:
        out.add(f"{where}.name", problem)
        ok = False
    default = item.get("default", False)
    if not isinstance(default, bool):
        out.add(f"{where}.default", f"{json.dumps(default, default=str)} is not true or false")
        ok = False
    team_rows: list[Team] = []
    team_names = item.get("teams", [])
    if not isinstance(team_names, list):
        out.add(f"{where}.teams", "is not a list of team names")
        team_names, ok = [], False
    for j, team_name in enumerate(team_names):
        path = f"{where}.teams[{j}]"
        team = teams.get(str(team_name).casefold())
        if team is None:
            out.add(
                path,
                f"{json.dumps(team_name, default=str)} is not a team",
                closest(team_name, [t.name for t in teams.values()]),
            )
            ok = False
        elif team.name.casefold() in taken:
            k, other = taken[team.name.casefold()]
            out.add(path, f"team {team.name!r} already works by {other!r} (calendars[{k}])")
            ok = False
        else:
            taken[team.name.casefold()] = (i, str(name))
            team_rows.append(team)
    definition = {k: v for k, v in item.items() if k in DEFINITION_KEYS}
    try:
        stored = calendar_to_dict(calendar_from_dict(definition))
    except CalendarValidationError as exc:
        out.add_problems(exc.problems, where, definition)
        return None
    if not ok:
        return None
    assert isinstance(name, str)
    return ParsedCalendar(name, default, team_rows, stored)


def parse_calendars(text: str, source: str) -> list[ParsedCalendar]:
    """Every calendar of the file, validated against the stored teams and policies."""
    data, lines = load_yaml(text, source, WHAT_CALENDARS)
    out = Located(source, lines)
    items = _top(data, "calendars", out)
    parsed: list[ParsedCalendar] = []
    if items is not None:
        teams = {t.name.casefold(): t for t in Team.objects.all()}
        taken: dict[str, tuple[int, str]] = {}
        names: dict[str, int] = {}
        defaults: list[int] = []
        for i, item in enumerate(items):
            entry = _entry(item, i, out, teams, taken)
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                if name.casefold() in names:
                    out.add(
                        f"calendars[{i}].name",
                        f"{name!r} is already calendars[{names[name.casefold()]}]",
                    )
                names.setdefault(name.casefold(), i)
            if isinstance(item, dict) and item.get("default") is True:
                defaults.append(i)
            if entry is not None:
                parsed.append(entry)
        for i in defaults[1:]:
            out.add(
                f"calendars[{i}].default",
                f"calendars[{defaults[0]}] is already the default; at most one calendar is",
            )
        kept = set(names)
        for cal in Calendar.objects.order_by("name"):
            if cal.name.casefold() not in kept and (used := store.policies_using(cal.name)):
                out.add(
                    "calendars",
                    f"calendar {cal.name!r} is left out but SLA policies "
                    f"{', '.join(map(repr, used))} use it; keep it or change them first",
                )
    if out.issues:
        raise SlaImportError(out.issues, WHAT_CALENDARS)
    return parsed


def do_replace_calendars(parsed: list[ParsedCalendar]) -> CalendarImport:
    result = CalendarImport()
    now = utcnow()
    with changing():
        existing = {c.name.casefold(): c for c in Calendar.objects.all()}
        wanted = {p.name.casefold() for p in parsed}
        TeamCalendar.objects.all().delete()
        for key, cal in existing.items():
            if key not in wanted:
                cal.delete()
                result.deleted.append(cal.name)
        # Unset first: the database allows one default at any moment.
        Calendar.objects.filter(is_default=True).update(is_default=False)
        for p in parsed:
            old = existing.get(p.name.casefold())
            if old is None:
                cal = Calendar.objects.create(
                    name=p.name, definition=p.definition, is_default=p.default, updated_at=now
                )
                result.created.append(p.name)
            else:
                cal = old
                same = (old.name, old.definition, old.is_default) == (
                    p.name,
                    p.definition,
                    p.default,
                )
                cal.name, cal.definition, cal.is_default = p.name, p.definition, p.default
                if not same:
                    cal.updated_at = now
                cal.save()
                (result.unchanged if same else result.updated).append(p.name)
            TeamCalendar.objects.bulk_create([TeamCalendar(team=t, calendar=cal) for t in p.teams])
    return result


def check_import_calendars_yaml(text: str, *, source: str) -> CalendarImport:
    """All or nothing: the stored calendars and team links become those of the file."""
    parsed = parse_calendars(text, source)
    return do_replace_calendars(parsed)


def _dump(data: Any) -> str:
    text: str = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
    return text


def _compact(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition without what says nothing (closed days, no holidays, empty lists)."""
    out: dict[str, Any] = {"time_zone": definition["time_zone"]}
    out["weekly"] = {d: ps for d, ps in definition.get("weekly", {}).items() if ps}
    for key in ("holidays", "closed_dates", "overrides"):
        if definition.get(key):
            value = definition[key]
            if key == "holidays" and value.get("subdivision") is None:
                value = {"country": value["country"]}
            out[key] = value
    return out


def calendars_document() -> dict[str, Any]:
    links: dict[int, list[str]] = {}
    for cal_id, team_name in TeamCalendar.objects.order_by("team__name").values_list(
        "calendar_id", "team__name"
    ):
        links.setdefault(cal_id, []).append(team_name)
    entries = []
    for cal in Calendar.objects.order_by("name"):
        entry: dict[str, Any] = {"name": cal.name}
        if cal.is_default:
            entry["default"] = True
        if cal.pk in links:
            entry["teams"] = links[cal.pk]
        entry.update(_compact(cal.definition))
        entries.append(entry)
    return {"calendars": entries}


def export_calendars_yaml() -> str:
    """Every stored calendar, its default flag and teams; imports back to the same."""
    return _dump(calendars_document())


def _policy_items(text: str, source: str) -> tuple[list[Any], dict[str, int]]:
    data, lines = load_yaml(text, source, "SLA policies")
    out = Located(source, lines)
    items = _top(data, "policies", out)
    if out.issues or items is None:
        raise SlaImportError(out.issues, "SLA policies")
    return items, lines


def parse_policies_yaml(text: str, source: str) -> list[dict[str, Any]]:
    """The file's policies, validated (``store.validate_policies``); nothing is stored."""
    items, lines = _policy_items(text, source)
    return store.validate_policies(items, lines, source)


def check_import_policies_yaml(text: str, *, source: str) -> int:
    """All or nothing: the stored, ordered policy list becomes the file's; returns its length."""
    items, lines = _policy_items(text, source)
    return len(store.check_replace_policies(items, lines=lines, source=source))


def export_policies_yaml() -> str:
    return _dump({"policies": store.policy_definitions()})
