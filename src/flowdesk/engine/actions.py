"""Action handlers: what a fired rule does.

Field-changing actions write the working snapshot at once (later rules see the change); effect-only
actions emit ``Effect`` records for the Django side, which executes them after commit.
Validation that needs the catalog or the rule set's templates lives in ``problems``, so a bad
rule fails when it is saved, not when it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from flowdesk.core.registry import Registry

from . import netguard
from .catalog import PRIORITIES, Catalog, check_value
from .suggest import closest
from .types import Effect, Rejection

Problem = tuple[str, str, str | None]
#: ``{{ field }}`` or ``{{ field | default("fallback") }}``: the fallback is used when the field is
#: unset or empty, so "Hello {{ requester.name | default("there") }}" never reads "Hello ,".
PLACEHOLDER = re.compile(
    r"\{\{\s*([\w.\-]+)\s*(?:\|\s*default\(\s*\"((?:[^\"\\]|\\.)*)\"\s*\)\s*)?\}\}"
)
#: (rule, field, value) -> why the value cannot be written, or None. Supplied by the caller (the
#: Django side checks names against its data), consulted before the working state changes.
Guard = Callable[[str, str, Any], str | None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkingState:
    """The ticket as rules see it during one update, plus the accumulated change set.

    ``changes`` maps field -> (value before the update began, current value); a field set back
    to its original value drops out, so triggers never react to a change that was undone.
    """

    def __init__(self, snapshot: Mapping[str, Any], event_changes: Mapping[str, tuple[Any, Any]]):
        self.values: dict[str, Any] = dict(snapshot)
        self.input = dict(snapshot)
        self.event_changes = dict(event_changes)
        self.changes: dict[str, tuple[Any, Any]] = dict(event_changes)

    def set(self, field: str, value: Any) -> tuple[Any, Any] | None:
        """Write one field; returns (old, new) when it actually changed, else None."""
        old = self.values.get(field)
        if old == value:
            return None  # setting a field to the value it has is not a change
        self.values[field] = value
        base = (
            self.event_changes[field][0] if field in self.event_changes else self.input.get(field)
        )
        if base == value:
            self.changes.pop(field, None)
        else:
            self.changes[field] = (base, value)
        return (old, value)

    def copy(self) -> WorkingState:
        clone = WorkingState(self.input, self.event_changes)
        clone.values = dict(self.values)
        clone.changes = dict(self.changes)
        return clone


class ActionContext:
    """Handed to ``Action.apply``: records this rule's changes and effects as they happen."""

    def __init__(
        self,
        state: WorkingState,
        rule: str,
        templates: Mapping[str, Mapping[str, str]],
        now: Any,
        guard: Guard | None = None,
    ) -> None:
        self.state = state
        self.rule = rule
        self.templates = templates
        self.now = now
        self.guard = guard
        self.changes: dict[str, tuple[Any, Any]] = {}
        self.writes: list[tuple[str, Any]] = []
        self.effects: list[Effect] = []
        self.rejected: list[Rejection] = []
        self.stop = False

    def get(self, field: str) -> Any:
        return self.state.values.get(field)

    def set(self, field: str, value: Any, incremental: bool = False) -> None:
        """``incremental`` writes (add/remove a tag or follower) compose, so they never conflict.

        A write the guard refuses is recorded as rejected and never reaches the working state, so
        no later rule sees it and nothing reports it as done."""
        if self.guard is not None and self.state.values.get(field) != value:
            problem = self.guard(self.rule, field, value)
            if problem is not None:
                self.rejected.append(Rejection(field, value, problem))
                return
        changed = self.state.set(field, value)
        if not incremental:
            self.writes.append((field, value))
        if changed is None:
            return
        first = self.changes[field][0] if field in self.changes else changed[0]
        if first == value:
            self.changes.pop(field)
        else:
            self.changes[field] = (first, value)

    def emit(self, type_: str, config: dict[str, Any]) -> None:
        self.effects.append(Effect(type=type_, rule=self.rule, config=config))

    def render(self, text: str | None) -> str | None:
        """Fill ``{{ ticket.subject }}``-style placeholders from the working snapshot."""
        if text is None:
            return None
        values = self.state.values

        def sub(m: re.Match[str]) -> str:
            key = m.group(1)
            key = key[len("ticket.") :] if key.startswith("ticket.") else key
            v = values.get(key)
            if isinstance(v, frozenset | set):
                out = ", ".join(sorted(map(str, v)))
            else:
                out = "" if v is None else str(v)
            fallback = m.group(2)
            if fallback is not None and not out.strip():
                return re.sub(r"\\(.)", r"\1", fallback)
            return out

        return PLACEHOLDER.sub(sub, text)

    def render_json(self, value: Any) -> Any:
        """Placeholders filled in every string of a JSON value (webhook bodies)."""
        if isinstance(value, str):
            return self.render(value)
        if isinstance(value, list):
            return [self.render_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render_json(v) for k, v in value.items()}
        return value


def placeholder_problems(catalog: Catalog, text: str | None, path: str) -> list[Problem]:
    out: list[Problem] = []
    for m in PLACEHOLDER.finditer(text or ""):
        key = m.group(1)
        field = key[len("ticket.") :] if key.startswith("ticket.") else key
        if catalog.field(field) is None:
            hint = catalog.suggest_field(field)
            out.append((path, f"unknown placeholder {{{{ {key} }}}}", hint))
    return out


def json_placeholder_problems(catalog: Catalog, value: Any, path: str) -> list[Problem]:
    """Placeholder problems in every string of a JSON value, each at its own path."""
    if isinstance(value, str):
        return placeholder_problems(catalog, value, path)
    out: list[Problem] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            out += json_placeholder_problems(catalog, item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            out += json_placeholder_problems(catalog, item, f"{path}.{key}")
    return out


C = TypeVar("C", bound=BaseModel)


class Action(Generic[C]):
    """Base class: subclasses set ``name``/``Config`` (the pydantic model ``C``) and ``apply``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    #: fields this action may write (for conflicts / caused_by); effect-only actions write none
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: C) -> None:
        self.config: C = config

    @classmethod
    def check(cls, catalog: Catalog, config: C, templates: Mapping[str, Any]) -> list[Problem]:
        """Compile-time problems of one configured action (override in subclasses)."""
        return []

    @classmethod
    def problems(
        cls, catalog: Catalog, config: BaseModel, templates: Mapping[str, Any]
    ) -> list[Problem]:
        # The compiler validated ``config`` with ``cls.Config``, which is ``C`` for this class.
        return cls.check(catalog, cast(C, config), templates)

    def apply(self, ctx: ActionContext) -> None:
        raise NotImplementedError

    def writes(self) -> tuple[str, ...]:
        """Fields this configured action may write (the static checks use it)."""
        return self.fields

    def writes_members(self, field: str) -> frozenset[str] | None:
        """Of a set-valued field it writes (tags, followers), the members it may add or remove;
        None: any member (the flowchart's cascade edges)."""
        return None

    def normalised(self) -> dict[str, Any]:
        data = self.config.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {"type": self.name, **data}


ACTIONS: Registry[type[Action[Any]]] = Registry("action")

A = TypeVar("A", bound=type[Action[Any]])


def register(cls: A) -> A:
    ACTIONS.add(cls.name, cls)
    return cls


class EnumValue(_Strict):
    value: str = Field(description="One of the field's choices.")


class _SetEnum(Action[EnumValue]):
    Config = EnumValue
    field: ClassVar[str]

    @classmethod
    def check(
        cls, catalog: Catalog, config: EnumValue, templates: Mapping[str, Any]
    ) -> list[Problem]:
        spec = catalog.field(cls.field)
        bad = check_value(catalog, spec, config.value) if spec else None
        return [("value", bad[0], bad[1])] if bad else []

    def apply(self, ctx: ActionContext) -> None:
        ctx.set(self.field, self.config.value)


@register
class SetStatus(_SetEnum):
    """Set the ticket status."""

    name = "set_status"
    field = "status"
    fields = ("status",)


@register
class SetPriority(_SetEnum):
    """Set the ticket priority."""

    name = "set_priority"
    field = "priority"
    fields = ("priority",)


@register
class SetType(_SetEnum):
    """Set the ticket type."""

    name = "set_type"
    field = "type"
    fields = ("type",)


class SetFieldConfig(_Strict):
    field: str = Field(description="A custom field: custom.<key>.")
    value: JsonValue = Field(description="New value (null clears), checked against the field.")


@register
class SetField(Action[SetFieldConfig]):
    """Set a custom field; other fields have dedicated actions with their own checks."""

    name = "set_field"
    Config = SetFieldConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: SetFieldConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        name = config.field
        customs = [f for f in catalog.fields if f.startswith("custom.")]
        if not name.startswith("custom.") or catalog.field(name) is None:
            hint = closest(name, customs) if name.startswith("custom.") else None
            if hint is None and not name.startswith("custom."):
                hint = closest("custom." + name, customs)
            return [("field", f"set_field needs a known custom field, got {name!r}", hint)]
        value = config.value
        spec = catalog.fields[name]
        bad = check_value(catalog, spec, value) if value is not None else None
        return [("value", bad[0], bad[1])] if bad else []

    def writes(self) -> tuple[str, ...]:
        return (self.config.field,)

    def normalised(self) -> dict[str, Any]:
        # value null (clear the field) is meaningful: keep it in the stored definition
        return {"type": self.name, "field": self.config.field, "value": self.config.value}

    def apply(self, ctx: ActionContext) -> None:
        ctx.set(self.config.field, self.config.value)


class TagsConfig(_Strict):
    tags: list[str] = Field(description="Tags (stored lower-case).")


def _tags(values: list[str]) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in values if t.strip())


class _TagAction(Action[TagsConfig]):
    Config = TagsConfig
    fields = ("tags",)

    def normalised(self) -> dict[str, Any]:
        return {"type": self.name, "tags": sorted(_tags(self.config.tags))}

    def current(self, ctx: ActionContext) -> frozenset[str]:
        return frozenset(ctx.get("tags") or ())


class _TagDelta(_TagAction):
    """Adds or removes the listed tags only (set_tags may remove any)."""

    def writes_members(self, field: str) -> frozenset[str] | None:
        return _tags(self.config.tags)


@register
class AddTags(_TagDelta):
    """Add tags (lower-cased)."""

    name = "add_tags"

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("tags", self.current(ctx) | _tags(self.config.tags), incremental=True)


@register
class RemoveTags(_TagDelta):
    """Remove tags."""

    name = "remove_tags"

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("tags", self.current(ctx) - _tags(self.config.tags), incremental=True)


@register
class SetTags(_TagAction):
    """Replace all tags."""

    name = "set_tags"

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("tags", _tags(self.config.tags))


class AgentConfig(_Strict):
    agent: str = Field(description="Agent e-mail.")


def _agent_problems(catalog: Catalog, agent: str, path: str = "agent") -> list[Problem]:
    bad = catalog.check_ref("agent", agent)
    return [(path, bad[0], bad[1])] if bad else []


def _team_problems(catalog: Catalog, team: str | None, path: str = "team") -> list[Problem]:
    bad = catalog.check_ref("team", team) if team is not None else None
    return [(path, bad[0], bad[1])] if bad else []


class _AgentAction(Action[AgentConfig]):
    Config = AgentConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: AgentConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        return _agent_problems(catalog, config.agent)


@register
class AssignAgent(_AgentAction):
    """Assign the ticket to an agent."""

    name = "assign_agent"
    fields = ("assignee",)

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("assignee", self.config.agent)


class TeamConfig(_Strict):
    team: str = Field(description="Team name.")


@register
class AssignTeam(Action[TeamConfig]):
    """Assign the ticket to a team."""

    name = "assign_team"
    Config = TeamConfig
    fields = ("team",)

    @classmethod
    def check(
        cls, catalog: Catalog, config: TeamConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        return _team_problems(catalog, config.team)

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("team", self.config.team)


class Empty(_Strict):
    """No options."""


@register
class Unassign(Action[Empty]):
    """Remove the assignee (the team stays)."""

    name = "unassign"
    Config = Empty
    fields = ("assignee",)

    def apply(self, ctx: ActionContext) -> None:
        ctx.set("assignee", None)


@register
class AddFollower(_AgentAction):
    """Add an agent to the followers."""

    name = "add_follower"
    fields = ("followers",)

    def writes_members(self, field: str) -> frozenset[str] | None:
        return frozenset([self.config.agent])

    def apply(self, ctx: ActionContext) -> None:
        current = frozenset(ctx.get("followers") or ())
        ctx.set("followers", current | {self.config.agent}, incremental=True)


class EscalateConfig(_Strict):
    team: str | None = Field(default=None, description="Team to hand the ticket to.")
    priority: str | None = Field(default=None, description="A priority, or 'raise' (one step up).")
    reason: str = Field(min_length=1, description="Why; shown to agents and in reports.")


@register
class Escalate(Action[EscalateConfig]):
    """Move to another team and/or raise priority, and record an ``escalation`` effect."""

    name = "escalate"
    Config = EscalateConfig
    fields = ("team", "priority")

    @classmethod
    def check(
        cls, catalog: Catalog, config: EscalateConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        out = _team_problems(catalog, config.team)
        prio = config.priority
        if prio is not None and prio != "raise":
            spec = catalog.field("priority")
            bad = check_value(catalog, spec, prio) if spec else None
            if bad:
                out.append(("priority", bad[0] + " or 'raise'", bad[1]))
        return out

    def apply(self, ctx: ActionContext) -> None:
        cfg = self.config
        from_team, from_prio = ctx.get("team"), ctx.get("priority")
        if cfg.team is not None:
            ctx.set("team", cfg.team)
        if cfg.priority == "raise":
            if from_prio in PRIORITIES:
                top = len(PRIORITIES) - 1
                ctx.set("priority", PRIORITIES[min(PRIORITIES.index(from_prio) + 1, top)])
        elif cfg.priority is not None:
            ctx.set("priority", cfg.priority)
        ctx.emit(
            "escalation",
            {
                "reason": cfg.reason,
                "from_team": from_team,
                "to_team": ctx.get("team"),
                "from_priority": from_prio,
                "to_priority": ctx.get("priority"),
            },
        )


class NoteConfig(_Strict):
    body: str = Field(min_length=1, description="Internal note text; {{ placeholders }} allowed.")


@register
class AddNote(Action[NoteConfig]):
    """Add an internal note (effect only)."""

    name = "add_note"
    Config = NoteConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: NoteConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        return placeholder_problems(catalog, config.body, "body")

    def apply(self, ctx: ActionContext) -> None:
        ctx.emit("add_note", {"body": ctx.render(self.config.body)})


class ReplyConfig(_Strict):
    template: str | None = Field(default=None, description="Name of a template of this rule set.")
    subject: str | None = Field(default=None, description="Subject (only with body).")
    body: str | None = Field(default=None, description="Reply text; {{ placeholders }} allowed.")
    via: Literal["channel", "email"] | None = Field(
        default=None,
        description="channel (the default): the way the ticket came in (e-mail for email, web, "
        "portal and api tickets, the chat for a chat); email: always by e-mail.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ReplyConfig:
        if (self.template is None) == (self.body is None):
            raise ValueError("give exactly one of 'template' or 'body'")
        if self.template is not None and self.subject is not None:
            raise ValueError("'subject' goes with 'body', not with 'template'")
        return self


@register
class Reply(Action[ReplyConfig]):
    """Send a public reply to the requester, from a template or inline text, by the ticket's
    channel or by e-mail (``via``) (effect only)."""

    name = "reply"
    Config = ReplyConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: ReplyConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        if config.template is not None and config.template not in templates:
            hint = closest(config.template, templates)
            return [("template", f"unknown template {config.template!r}", hint)]
        return placeholder_problems(catalog, config.subject, "subject") + placeholder_problems(
            catalog, config.body, "body"
        )

    def apply(self, ctx: ActionContext) -> None:
        cfg = self.config
        subject, body = cfg.subject, cfg.body
        if cfg.template is not None:
            tpl = ctx.templates[cfg.template]
            subject, body = tpl.get("subject"), tpl.get("body")
        effect = {
            "template": cfg.template,
            "subject": ctx.render(subject),
            "body": ctx.render(body),
        }
        if cfg.via is not None:
            effect["via"] = cfg.via
        ctx.emit("reply", effect)


class NotifyConfig(_Strict):
    agents: list[str] = Field(default_factory=list, description="Agent e-mails.")
    team: str | None = Field(default=None, description="Notify every member of this team.")
    message: str = Field(min_length=1)

    @model_validator(mode="after")
    def _recipient(self) -> NotifyConfig:
        if not self.agents and self.team is None:
            raise ValueError("notify needs at least one recipient: 'agents' or 'team'")
        return self


@register
class Notify(Action[NotifyConfig]):
    """Notify agents and/or a team (effect only)."""

    name = "notify"
    Config = NotifyConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: NotifyConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        out = _team_problems(catalog, config.team)
        for i, agent in enumerate(config.agents):
            out += _agent_problems(catalog, agent, f"agents[{i}]")
        return out + placeholder_problems(catalog, config.message, "message")

    def apply(self, ctx: ActionContext) -> None:
        cfg = self.config
        ctx.emit(
            "notify",
            {"agents": list(cfg.agents), "team": cfg.team, "message": ctx.render(cfg.message)},
        )


class WebhookConfig(_Strict):
    endpoint: str | None = Field(
        default=None, description="Name of a registered webhook endpoint (its URL is called)."
    )
    url: str | None = Field(
        default=None, description="http(s) URL of, or under, a registered webhook endpoint."
    )
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers; Host, hop-by-hop, Content-Length and X-Flowdesk-* are refused.",
    )
    body: JsonValue = Field(
        default=None,
        description="JSON body; {{ placeholders }} in its strings are filled when the rule fires.",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"webhook url must be http(s)://host/..., got {url!r}")
        return url

    @model_validator(mode="after")
    def _one_target(self) -> WebhookConfig:
        if (self.endpoint is None) == (self.url is None):
            raise ValueError("give exactly one of 'endpoint' or 'url'")
        return self


_REGISTER = "register it with POST /api/webhooks {name, url} and name it with 'endpoint: NAME'"


@register
class Webhook(Action[WebhookConfig]):
    """Call an HTTP endpoint after commit, signed with the endpoint's secret (effect only;
    delivered by the outbox)."""

    name = "webhook"
    Config = WebhookConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: WebhookConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        out = json_placeholder_problems(catalog, config.body, "body")
        policy = netguard.policy_of(catalog)
        if not policy.check:
            return out
        for key, value in config.headers.items():
            bad = netguard.header_problem(key, value)
            if bad is not None:
                out.append((f"headers.{key}", bad, None))
        if config.endpoint is not None:
            if policy.endpoint(config.endpoint) is None and (
                policy.endpoints or policy.require_endpoint
            ):
                names = [e.name for e in policy.endpoints]
                hint = closest(config.endpoint, names)
                out.append(("endpoint", f"unknown webhook endpoint {config.endpoint!r}", hint))
            return out
        url = config.url or ""
        owner = policy.endpoint_for(url)
        problems = netguard.url_problems(url, policy.allowlist_for(owner))
        out += [("url", msg, None) for msg in problems]
        if not problems and owner is None and policy.require_endpoint:
            why = f"webhook url {url!r} belongs to no registered webhook endpoint: {_REGISTER}"
            out.append(("url", why, None))
        return out

    def apply(self, ctx: ActionContext) -> None:
        data = self.config.model_dump(mode="json", exclude_none=True)
        data["body"] = ctx.render_json(data.get("body"))
        ctx.emit("webhook", data)


class SurveyConfig(_Strict):
    survey: Literal["csat", "nps", "ces"] = "csat"


@register
class SendSurvey(Action[SurveyConfig]):
    """Ask the requester for feedback (effect only)."""

    name = "send_survey"
    Config = SurveyConfig

    def apply(self, ctx: ActionContext) -> None:
        ctx.emit("send_survey", {"survey": self.config.survey})


@register
class Stop(Action[Empty]):
    """Stop processing further rules for this update (this rule's other actions still run)."""

    name = "stop"
    Config = Empty

    def apply(self, ctx: ActionContext) -> None:
        ctx.stop = True
