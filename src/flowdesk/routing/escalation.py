"""Escalation paths: named, ordered levels. Starting a path applies level 0 at once; each later
level applies when the ticket's ``escalation`` timer fires, ``after`` its previous level was
applied. A level may move the ticket to a team, set or raise its priority, and notify agents
and/or a team (an outbox item, as the ``notify`` action queues). A solved or closed ticket stops
its path."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from flowdesk.accounts.models import Team, User
from flowdesk.core.errors import FieldError, FlowdeskError, NotFound, ValidationFailed
from flowdesk.engine.vocabulary import PRIORITIES, SOLVED_STATUSES
from flowdesk.routing.durations import format_duration, parse_duration
from flowdesk.routing.models import EscalationPath
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.delivery import queue_outbox
from flowdesk.tickets.models import EventKind
from flowdesk.tickets.services import ChangeSet, TicketWrite, apply_change_set
from flowdesk.timers.models import Timer
from flowdesk.timers.services import schedule, timer_row

PURPOSE = "escalation"
MAX_LEVELS = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NotifyIn(_Strict):
    agents: list[str] = Field(default_factory=list, max_length=100)
    team: str | None = None
    message: str | None = Field(default=None, max_length=10_000)


class LevelIn(_Strict):
    name: str | None = Field(default=None, max_length=100)
    after: int | str = Field(
        default=0, description="Since the previous level: '30m', '2h', '1d' or seconds."
    )
    team: str | None = None
    notify: NotifyIn | None = None
    priority: str | None = Field(default=None, description="A priority, or 'raise'.")

    @field_validator("after")
    @classmethod
    def _duration(cls, value: int | str) -> int:
        return parse_duration(value)


class PathIn(_Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    levels: list[LevelIn] = Field(min_length=1, max_length=MAX_LEVELS)


def _level_errors(path: PathIn) -> list[tuple[str, str]]:
    """(field path, message) of what needs the database: teams, agents, priorities."""
    out: list[tuple[str, str]] = []
    teams = set(Team.objects.values_list("name", flat=True))
    agents = set(
        User.objects.filter(role__in=("agent", "admin"), is_active=True).values_list(
            "email", flat=True
        )
    )
    for i, level in enumerate(path.levels):
        at = f"levels[{i}]"
        if i == 0 and int(level.after) != 0:
            out.append((f"{at}.after", "level 0 applies when the path starts: leave 'after' out"))
        if level.team is not None and level.team not in teams:
            out.append((f"{at}.team", f"unknown team {level.team!r}"))
        if level.priority is not None and level.priority not in (*PRIORITIES, "raise"):
            allowed = ", ".join((*PRIORITIES, "raise"))
            out.append((f"{at}.priority", f"{level.priority!r} is not one of {allowed}"))
        if level.notify is not None:
            if not level.notify.agents and level.notify.team is None:
                out.append((f"{at}.notify", "needs 'agents' and/or 'team'"))
            if level.notify.team is not None and level.notify.team not in teams:
                out.append((f"{at}.notify.team", f"unknown team {level.notify.team!r}"))
            for j, email in enumerate(level.notify.agents):
                if email.strip().lower() not in agents:
                    out.append((f"{at}.notify.agents[{j}]", f"unknown agent {email!r}"))
        if level.team is None and level.priority is None and level.notify is None:
            out.append((at, "a level needs at least one of team, priority, notify"))
    return out


def _pydantic_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in exc.errors():
        where = ""
        for part in e.get("loc", ()):
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        out.append((where, msg))
    return out


def validate_path(data: Any) -> tuple[PathIn | None, list[tuple[str, str]]]:
    try:
        path = PathIn.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_errors(exc)
    return path, _level_errors(path)


def stored_levels(path: PathIn) -> list[dict[str, Any]]:
    return [level.model_dump(mode="json", exclude_none=True) for level in path.levels]


def path_out(p: EscalationPath) -> dict[str, Any]:
    levels = []
    for i, level in enumerate(p.levels):
        levels.append({"level": i, **level, "after": format_duration(int(level.get("after", 0)))})
    return {"id": p.pk, "name": p.name, "description": p.description, "levels": levels}


def definition(p: EscalationPath) -> dict[str, Any]:
    """What export writes and import reads back."""
    out: dict[str, Any] = {"name": p.name}
    if p.description:
        out["description"] = p.description
    out["levels"] = []
    for i, level in enumerate(p.levels):
        item = dict(level)
        if i == 0 or not item.get("after"):
            item.pop("after", None)
        else:
            item["after"] = format_duration(int(item["after"]))
        out["levels"].append(item)
    return out


def _raise(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise ValidationFailed([FieldError(f, m) for f, m in errors])


def check_create_path(data: dict[str, Any], now: datetime) -> EscalationPath:
    path, errors = validate_path(data)
    _raise(errors)
    assert path is not None
    if EscalationPath.objects.filter(name=path.name).exists():
        raise ValidationFailed([FieldError("name", f"an escalation path {path.name!r} exists")])
    last = EscalationPath.objects.order_by("-position").first()
    return EscalationPath.objects.create(
        name=path.name,
        description=path.description,
        levels=stored_levels(path),
        position=(last.position + 1) if last else 0,
        created_at=now,
        updated_at=now,
    )


def check_replace_path(p: EscalationPath, data: dict[str, Any], now: datetime) -> EscalationPath:
    path, errors = validate_path(data)
    _raise(errors)
    assert path is not None
    if EscalationPath.objects.filter(name=path.name).exclude(pk=p.pk).exists():
        raise ValidationFailed([FieldError("name", f"an escalation path {path.name!r} exists")])
    p.name, p.description, p.levels, p.updated_at = (
        path.name,
        path.description,
        stored_levels(path),
        now,
    )
    p.save(update_fields=["name", "description", "levels", "updated_at"])
    return p


def path_names() -> list[str]:
    """The stored paths' names: a rule set naming another is refused when saved."""
    return list(EscalationPath.objects.values_list("name", flat=True))


def access_path(path_id: int) -> EscalationPath:
    found = EscalationPath.objects.filter(pk=path_id).first()
    if found is None:
        raise NotFound(f"escalation path {path_id} not found")
    return found


class ImportFailed(FlowdeskError):
    """An import with problems; nothing was changed. Every problem names its path and line."""

    status = 422

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(p["text"] for p in problems))

    def as_dict(self) -> dict[str, object]:
        return {
            "detail": "invalid escalation paths; nothing was changed",
            "errors": self.problems,
        }


# --- running a path on a ticket --------------------------------------------------------------


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _raised(priority: str) -> str:
    if priority not in PRIORITIES:
        return priority
    return PRIORITIES[min(PRIORITIES.index(priority) + 1, len(PRIORITIES) - 1)]


def _notify(
    w: TicketWrite, path: EscalationPath, index: int, level: dict[str, Any], key: str, cause: Cause
) -> list[str]:
    spec = level.get("notify") or {}
    emails = {str(e).lower() for e in spec.get("agents") or []}
    team = spec.get("team")
    if team:
        emails |= set(
            User.objects.filter(teams__name=team, is_active=True).values_list("email", flat=True)
        )
    if not emails:
        return []
    ticket = w.ticket
    name = level.get("name") or f"level {index}"
    body = spec.get("message") or (
        f'Ticket #{ticket.pk} "{ticket.subject}" reached {name} of escalation path {path.name}.'
    )
    queue_outbox(
        w,
        "notify",
        {
            "to": sorted(emails),
            "subject": f"[#{ticket.pk}] {ticket.subject}",
            "body": body,
            "team": team or "",
        },
        key=key,
        cause=cause,
        fresh=True,
    )
    return sorted(emails)


def apply_level(
    w: TicketWrite, path: EscalationPath, index: int, cause: Cause, started_at: str
) -> None:
    """Apply level ``index`` now and schedule the next one (or finish the path)."""
    level = dict(path.levels[index])
    ticket = w.ticket
    from_team = ticket.team.name if ticket.team else None
    from_prio = ticket.priority
    values: dict[str, Any] = {}
    if level.get("team"):
        values["team"] = level["team"]
    if level.get("priority") == "raise":
        values["priority"] = _raised(from_prio)
    elif level.get("priority"):
        values["priority"] = level["priority"]
    problem = None
    if values:
        try:
            apply_change_set(w, ChangeSet(values=values), cause)
        except ValidationFailed as exc:  # a team renamed or deleted since the path was saved
            problem = str(exc)
            w.update_row()
            w.log.add(EventKind.AUTOMATION_ERROR, cause, data={"message": problem})
    key = f"escalation:{ticket.pk}:{path.name}:{started_at}:{index}"
    notified = _notify(w, path, index, level, key, cause)
    nxt = index + 1 if index + 1 < len(path.levels) else None
    next_at = w.now + timedelta(seconds=int(path.levels[nxt].get("after", 0))) if nxt else None
    w.update_row()
    w.log.add(
        EventKind.ESCALATED,
        cause,
        data={
            "path": path.name,
            "level": index,
            "level_name": level.get("name"),
            "from_team": from_team,
            "to_team": ticket.team.name if ticket.team else None,
            "from_priority": from_prio,
            "to_priority": ticket.priority,
            "notified": notified,
            "next_level": nxt,
            "next_at": _iso(next_at),
            **({"problem": problem} if problem else {}),
        },
    )
    state = {
        "path": path.name,
        "level": index,
        "started_at": started_at,
        "level_at": _iso(w.now),
        "next_level": nxt,
        "next_at": _iso(next_at),
    }
    if nxt is None:
        state["finished"] = "last level reached"
    schedule(w, PURPOSE, next_at, state)


def start_path(w: TicketWrite, name: str, cause: Cause) -> None:
    path = EscalationPath.objects.filter(name=name).first()
    if path is None or not path.levels:
        w.update_row()
        w.log.add(
            EventKind.AUTOMATION_ERROR,
            cause,
            data={"message": f"escalate_along: no escalation path {name!r}"},
        )
        return
    row = timer_row(w, PURPOSE)
    if row is not None and row.due_at is not None and row.state.get("path") == name:
        return  # already on this path: starting it again would repeat level 0
    apply_level(w, path, 0, cause, _iso(w.now) or "")


def fire(w: TicketWrite, row: Timer | None) -> None:
    """The escalation timer came due: apply the next level (a timer cause)."""
    if row is None or row.due_at is None or row.due_at > w.now:
        return
    state = dict(row.state)
    if w.ticket.status in SOLVED_STATUSES:
        schedule(w, PURPOSE, None, {**state, "next_at": None, "finished": "ticket solved"})
        return
    path = EscalationPath.objects.filter(name=state.get("path")).first()
    nxt = state.get("next_level")
    if path is None or not isinstance(nxt, int) or nxt >= len(path.levels):
        why = "path deleted" if path is None else "path has no such level"
        w.update_row()
        w.log.add(
            EventKind.AUTOMATION_ERROR,
            w.cause,
            data={"message": f"escalation path {state.get('path')!r}: {why}; stopped"},
        )
        schedule(w, PURPOSE, None, {**state, "next_at": None, "finished": why})
        return
    apply_level(w, path, nxt, w.cause, str(state.get("started_at") or ""))


def stop_if_solved(w: TicketWrite, row: Timer | None) -> None:
    if row is not None and row.due_at is not None and w.ticket.status in SOLVED_STATUSES:
        schedule(w, PURPOSE, None, {**row.state, "next_at": None, "finished": "ticket solved"})


def ticket_escalation(ticket_id: int) -> dict[str, Any]:
    row = Timer.objects.filter(ticket_id=ticket_id, purpose=PURPOSE).first()
    if row is None or not row.state:
        return {"path": None, "active": False}
    state = row.state
    path = EscalationPath.objects.filter(name=state.get("path")).first()
    levels = path.levels if path is not None else []

    def level(i: Any) -> dict[str, Any] | None:
        if not isinstance(i, int) or i >= len(levels):
            return None
        return {"level": i, **levels[i], "after": format_duration(int(levels[i].get("after", 0)))}

    return {
        "path": state.get("path"),
        "active": row.due_at is not None,
        "started_at": state.get("started_at"),
        "level": state.get("level"),
        "current": level(state.get("level")),
        "level_at": state.get("level_at"),
        "next_level": state.get("next_level") if row.due_at is not None else None,
        "next": level(state.get("next_level")) if row.due_at is not None else None,
        "next_at": row.due_at,
        "finished": state.get("finished"),
    }


# --- the whole list as YAML ------------------------------------------------------------------


def export_yaml() -> str:
    import yaml

    data = {"paths": [definition(p) for p in EscalationPath.objects.all()]}
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return text


def check_import_yaml(text: str, source: str, now: datetime) -> list[EscalationPath]:
    """Replace every path with the file's, all or nothing."""
    import yaml

    from flowdesk.engine.yamlio import line_map

    def problem(path: str | None, field: str, line: int | None, message: str) -> dict[str, Any]:
        where = source if line is None else f"{source}:{line}"
        named = f"path {path!r}: " if path else ""
        at = f"{field}: " if field else ""
        return {
            "source": source,
            "path": path,
            "field": field,
            "line": line,
            "message": message,
            "text": f"{where}: {named}{at}{message}",
        }

    try:
        lines, dups = line_map(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ImportFailed(
            [problem(None, "", line, f"YAML syntax error: {getattr(exc, 'problem', exc)}")]
        ) from None
    problems = [problem(None, p, line, "duplicate key") for p, line in dups]
    if not isinstance(data, dict) or not isinstance(data.get("paths"), list):
        problems.append(
            problem(None, "paths", lines.get(""), "expected a mapping with 'paths: [...]'")
        )
        raise ImportFailed(problems)
    if set(data) - {"paths"}:
        for key in sorted(set(data) - {"paths"}):
            problems.append(problem(None, key, lines.get(f"{key}#key"), "unknown key"))
    parsed: list[PathIn] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data["paths"]):
        base = f"paths[{i}]"
        name = item.get("name") if isinstance(item, dict) else None
        label = str(name) if name else f"#{i}"
        path, errors = validate_path(item)
        for field, message in errors:
            full = f"{base}.{field}" if field else base
            line = _nearest(lines, full)
            problems.append(problem(label, field, line, message))
        if path is not None:
            if path.name in seen:
                line = lines.get(f"{base}.name")
                problems.append(
                    problem(label, "name", line, f"duplicate of paths[{seen[path.name]}]")
                )
            seen[path.name] = i
            parsed.append(path)
    if problems:
        raise ImportFailed(problems)
    with transaction.atomic():
        EscalationPath.objects.all().delete()
        return [
            EscalationPath.objects.create(
                name=p.name,
                description=p.description,
                levels=stored_levels(p),
                position=i,
                created_at=now,
                updated_at=now,
            )
            for i, p in enumerate(parsed)
        ]


def _nearest(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest ancestor the file has (a missing key's parent)."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")
