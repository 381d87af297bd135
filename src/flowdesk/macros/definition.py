"""A macro's definition, one shape for the API body and a YAML file's entries, and its checks.

The shape (types, unknown keys) is a pydantic model; what depends on the desk is checked against
the ticket field registry (the same bindings ``apply_change_set`` resolves with, so a value the
macro would fail to write is refused when the macro is saved) and the placeholders against the
engine catalog. Every problem is ``(path, message, suggestion)``, the path inside the definition
(``changes.status``, ``reply.body``), so the API names the field and YAML the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from flowdesk.accounts.models import Role, Team, User
from flowdesk.automation.catalog import build_catalog
from flowdesk.engine import Catalog
from flowdesk.engine.actions import placeholder_problems
from flowdesk.engine.compile import join
from flowdesk.engine.suggest import closest
from flowdesk.tickets.fields import Registry
from flowdesk.tickets.services import MESSAGE_BODY_MAX, ChangeSet, write_guard

Problem = tuple[str, str, str | None]
#: the ticket fields a macro sets (``changes.<key>``), besides tags and custom fields
FIELD_KEYS = ("status", "priority", "type", "assignee", "team")
NAME_MAX = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyDef(_Strict):
    body: StrictStr = Field(
        min_length=1,
        max_length=MESSAGE_BODY_MAX,
        description='the text; placeholders such as {{ requester.name | default("there") }}',
    )
    public: StrictBool = Field(True, description="a public reply (e-mailed), or an internal note")


class ChangesDef(_Strict):
    status: StrictStr | None = None
    priority: StrictStr | None = None
    type: StrictStr | None = Field(None, description="null clears it")
    assignee: StrictStr | None = Field(None, description="an agent's e-mail; null unassigns")
    team: StrictStr | None = Field(None, description="a team's name; null clears it")
    add_tags: list[StrictStr] = Field(default_factory=list, max_length=100)
    remove_tags: list[StrictStr] = Field(default_factory=list, max_length=100)
    custom_fields: dict[str, JsonValue] = Field(
        default_factory=dict, description="key -> value; null clears it"
    )


class MacroDef(_Strict):
    name: StrictStr = Field(min_length=1, max_length=NAME_MAX)
    description: StrictStr = Field("", max_length=2000)
    active: StrictBool = True
    visibility: Literal["everyone", "team", "personal"] = "everyone"
    team: StrictStr | None = Field(None, description="visibility team: the team that sees it")
    owner: StrictStr | None = Field(
        None, description="visibility personal: the e-mail of the agent who sees it"
    )
    position: StrictInt = Field(0, ge=0, le=1_000_000, description="lists sort by it, then name")
    reply: ReplyDef | None = None
    changes: ChangesDef = Field(default_factory=ChangesDef)


_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): tuple(MacroDef.model_fields),
    ("reply",): tuple(ReplyDef.model_fields),
    ("changes",): tuple(ChangesDef.model_fields),
}


def _path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = join(path, part)
    return path


def shape_problems(exc: ValidationError) -> list[Problem]:
    """pydantic's errors as problems; an unknown key suggests the key it most likely meant."""
    out: list[Problem] = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            parent = tuple(str(p) for p in loc[:-1])
            hint = closest(str(loc[-1]), _KEYS.get(parent, ()))
            out.append((_path(loc), "unknown key", hint))
        else:
            out.append((_path(loc), str(e["msg"]), None))
    return out


def parse_shape(data: object) -> tuple[MacroDef | None, list[Problem]]:
    try:
        return MacroDef.model_validate(data), []
    except ValidationError as exc:
        return None, shape_problems(exc)


def stored_changes(changes: ChangesDef) -> dict[str, Any]:
    """What a macro stores: the fields it names (an explicit null clears), no empty lists."""
    out: dict[str, Any] = {}
    for key in FIELD_KEYS:
        if key in changes.model_fields_set:
            out[key] = getattr(changes, key)
    for key in ("add_tags", "remove_tags"):
        if getattr(changes, key):
            out[key] = list(getattr(changes, key))
    if changes.custom_fields:
        out["custom_fields"] = dict(changes.custom_fields)
    return out


def change_set(changes: Mapping[str, Any]) -> ChangeSet:
    """A stored macro's changes as the ChangeSet every writer hands to the ticket services."""
    values: dict[str, Any] = {k: changes[k] for k in FIELD_KEYS if k in changes}
    for key, value in (changes.get("custom_fields") or {}).items():
        values[f"custom.{key}"] = value
    return ChangeSet(
        values=values,
        add={"tags": changes.get("add_tags") or ()},
        remove={"tags": changes.get("remove_tags") or ()},
    )


class Desk:
    """What the checks read from the database, once per save or import."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.catalog: Catalog = build_catalog(check_names=False)
        self.teams = {t.name.casefold(): t for t in Team.objects.all()}
        self.agents = {
            u.email: u
            for u in User.objects.filter(is_active=True, role__in=[Role.AGENT, Role.ADMIN])
        }

    def team(self, name: str | None) -> Team | None:
        return self.teams.get(name.casefold()) if name is not None else None

    def agent(self, email: str | None) -> User | None:
        return self.agents.get(email.strip().lower()) if email is not None else None

    def suggestion(self, key: str, value: object) -> str | None:
        """The value a refused change most likely meant: a status, a team, an agent ..."""
        if not isinstance(value, str):
            return None
        if key == "team":
            return closest(value, [t.name for t in self.teams.values()])
        if key == "assignee":
            return closest(value, list(self.agents))
        binding = self.registry.get(key)
        choices = binding.spec.choices if binding is not None else None
        return closest(value, choices) if choices else None


def _visibility_problems(d: MacroDef, desk: Desk) -> list[Problem]:
    out: list[Problem] = []
    wants = {"team": d.visibility == "team", "owner": d.visibility == "personal"}
    for key, wanted in wants.items():
        value = getattr(d, key)
        if wanted and value is None:
            out.append((key, f"is required when visibility is {d.visibility!r}", None))
        elif not wanted and value is not None:
            needs = "team" if key == "team" else "personal"
            out.append((key, f"is only for visibility {needs!r}", None))
    if d.visibility == "team" and d.team is not None and desk.team(d.team) is None:
        out.append(("team", f"no team named {d.team!r}", desk.suggestion("team", d.team)))
    if d.visibility == "personal" and d.owner is not None and desk.agent(d.owner) is None:
        hint = desk.suggestion("assignee", d.owner)
        out.append(("owner", f"no active agent with e-mail {d.owner!r}", hint))
    return out


def desk_problems(d: MacroDef, desk: Desk) -> list[Problem]:
    """Everything the shape cannot tell: visibility's team or owner, every change through the
    field registry's write check, the reply's placeholders through the catalog."""
    out = _visibility_problems(d, desk)
    guard = write_guard(desk.registry)
    changes = stored_changes(d.changes)
    for key in FIELD_KEYS:
        if key in changes and (problem := guard("", key, changes[key])) is not None:
            out.append((f"changes.{key}", problem, desk.suggestion(key, changes[key])))
    for key in ("add_tags", "remove_tags"):
        if key in changes and (problem := guard("", "tags", changes[key])) is not None:
            out.append((f"changes.{key}", problem, None))
    known = list(desk.registry.lookups.custom_fields())
    for key, value in changes.get("custom_fields", {}).items():
        problem = guard("", f"custom.{key}", value)
        if problem is not None:
            hint = None if key in known else closest(key, known)
            out.append((f"changes.custom_fields.{key}", problem, hint))
    if d.reply is not None:
        out += placeholder_problems(desk.catalog, d.reply.body, "reply.body")
    return out


def definition_of(row: Any) -> dict[str, Any]:
    """A stored macro as its definition (what the API answers and a YAML file holds)."""
    data: dict[str, Any] = {
        "name": row.name,
        "description": row.description,
        "active": row.active,
        "visibility": row.visibility,
        "team": row.team.name if row.team_id else None,
        "owner": row.owner.email if row.owner_id else None,
        "position": row.position,
        "reply": {"body": row.reply_body, "public": row.reply_public} if row.reply_body else None,
        "changes": dict(row.changes),
    }
    return data
