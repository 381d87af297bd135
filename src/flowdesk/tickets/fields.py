"""The registry of ticket field bindings: one entry per snapshot key, the only place that knows how
a field is read from the model, validated, written and recorded.

The words (key, kind, choices) come from the engine's vocabulary (engine/vocabulary.py); a
binding adds the Django side: how to read the value from a ticket, how to resolve and validate a
new value (an agent's e-mail to a user, a team's name to a team), how to write it, which event it
records, and whether it is derived (from the clock or the messages: never reported as changed) or
set-valued. The snapshot builder, the diff, the engine catalog's base fields, the API's allowed
values, the dry run's kind checks and the rules' write guard are all generated from this registry.

Adding a base field: a FieldSpec in the vocabulary and a binding here (an import-time check fails
when one is missing). Adding a custom-field kind: a member of ``CustomFieldKind`` that is also an
engine kind; its checks are the engine's ``value_problem``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowdesk.accounts.lookups import team_by_name
from flowdesk.accounts.models import Role, Team, User
from flowdesk.core.i18n import language_of
from flowdesk.core.rows import Rows, fetch, sql
from flowdesk.engine import Catalog, FieldSpec
from flowdesk.engine.catalog import value_problem
from flowdesk.engine.vocabulary import BASE_FIELDS, HEADER_PREFIX, header_key
from flowdesk.tickets.models import CustomFieldDef, Message, Ticket

#: Longest tag and most tags per ticket (documented in docs/api.md).
TAG_MAX_LENGTH = 100
TAGS_PER_TICKET_MAX = 100
_EMPTY_CATALOG = Catalog(fields={})


class Lookups:
    """Resolves names to rows once per update (rules and the API name agents and teams)."""

    def __init__(self) -> None:
        self._agents: dict[str, User | None] = {}
        self._teams: dict[str, Team | None] = {}
        self._custom: dict[str, FieldSpec] | None = None

    def agent(self, email: str) -> User | None:
        key = email.strip().lower()
        if key not in self._agents:
            self._agents[key] = User.objects.filter(
                email=key, is_active=True, role__in=[Role.AGENT, Role.ADMIN]
            ).first()
        return self._agents[key]

    def team(self, name: str) -> Team | None:
        if name not in self._teams:
            self._teams[name] = team_by_name(name)
        return self._teams[name]

    def known_teams(self) -> str:
        return ", ".join(Team.objects.order_by("name").values_list("name", flat=True)) or "none"

    def custom_fields(self) -> dict[str, FieldSpec]:
        """custom.<key> -> its spec, from the admin's definitions (loaded once per update)."""
        if self._custom is None:
            self._custom = {
                d.key: custom_spec(d.key, d.kind, d.choices) for d in custom_field_defs()
            }
        return self._custom


_DEFS = Rows(CustomFieldDef, "d")


def custom_field_defs() -> list[CustomFieldDef]:
    """The admin's custom field definitions by key (read per update: prepared SQL, core.rows)."""
    text = sql(
        ("custom_field_defs",),
        lambda: f"SELECT {_DEFS.columns()} FROM {_DEFS.table} ORDER BY {_DEFS.column('key')}",
    )
    rows = fetch(text, [])
    return [d for d in map(_DEFS.build, rows) if d is not None]


def custom_spec(key: str, kind: str, choices: Any) -> FieldSpec:
    enum_choices = tuple(str(c) for c in choices or ()) if kind == "enum" else None
    return FieldSpec(f"custom.{key}", kind, enum_choices)


@dataclass
class ReadState:
    """What a read needs besides the ticket row: the clock and the cached related rows."""

    now: datetime
    followers: frozenset[str]
    latest: Message | None
    #: values other packages compute for this read (calendar, sla.*): see tickets.hooks
    derived: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A validated new value: ``value`` as the snapshot holds it, ``target`` what the model
    stores (a User for an assignee, a Team for a team, sorted tags ...)."""

    value: Any
    target: Any


class Binding:
    """A snapshot key bound to the ticket model. Read-only unless ``settable``."""

    settable = False
    derived = False
    nullable = True
    event = "field_changed"

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.key = spec.name

    @property
    def set_valued(self) -> bool:
        return self.spec.set_valued

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        raise NotImplementedError

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        """The validated value, or the problem (a message naming the value)."""
        return f"{self.key} cannot be changed"

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        raise NotImplementedError(self.key)


class Attr(Binding):
    """A column of the ticket row, read as it is."""

    def __init__(self, spec: FieldSpec, attr: str | None = None, **flags: bool) -> None:
        super().__init__(spec)
        self.attr = attr or spec.name
        for name, value in flags.items():
            setattr(self, name, value)

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return getattr(ticket, self.attr)

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        if not self.settable:
            return super().resolve(value, lookups)
        if value is None:
            return Resolved(None, None) if self.nullable else f"{self.key} cannot be cleared"
        if self.spec.kind == "text":
            if not isinstance(value, str) or not value.strip():
                return f"{self.key} must be non-blank text"
            value = value.strip()
        problem = value_problem(_EMPTY_CATALOG, self.spec, value)
        if problem is not None:
            return problem
        return Resolved(value, value)

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        setattr(ticket, self.attr, resolved.target)


class Derived(Binding):
    """Computed from the clock or the message list: never written, never a change."""

    derived = True

    def __init__(self, spec: FieldSpec, read: Callable[[Ticket, ReadState], Any]) -> None:
        super().__init__(spec)
        self._read = read

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return self._read(ticket, state)


class Related(Binding):
    """A value of a related row (requester, organization): read-only for tickets."""

    def __init__(self, spec: FieldSpec, read: Callable[[Ticket], Any]) -> None:
        super().__init__(spec)
        self._read = read

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return self._read(ticket)


class Tags(Binding):
    settable = True
    event = "tags"

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return frozenset(ticket.tags)

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        if value is None:
            value = ()
        if not isinstance(value, list | tuple | set | frozenset) or not all(
            isinstance(t, str) for t in value
        ):
            return "tags must be a list of strings"
        tags = normalize_tags(value)
        too_long = [t for t in tags if len(t) > TAG_MAX_LENGTH]
        if too_long:
            return f"tag {too_long[0][:40]!r}... is longer than {TAG_MAX_LENGTH} characters"
        if len(tags) > TAGS_PER_TICKET_MAX:
            return f"a ticket has at most {TAGS_PER_TICKET_MAX} tags, this change gives {len(tags)}"
        return Resolved(frozenset(tags), tags)

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        ticket.tags = list(resolved.target)


class Ref(Binding):
    """A foreign key named by a natural key: an assignee by e-mail, a team by name. The model
    stores the row; the snapshot, the API and rules use the name."""

    settable = True

    def __init__(
        self,
        spec: FieldSpec,
        *,
        attr: str,
        name_of: Callable[[Any], str],
        find: Callable[[Lookups, str], Any],
        missing: Callable[[Lookups, str], str],
        expected: str,
        event: str = "field_changed",
    ) -> None:
        super().__init__(spec)
        self.attr = attr
        self.name_of = name_of
        self.find = find
        self.missing = missing
        self.expected = expected
        self.event = event

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        if getattr(ticket, f"{self.attr}_id") is None:
            return None
        row = getattr(ticket, self.attr)
        return self.name_of(row) if row is not None else None

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        if value is None:
            return Resolved(None, None)
        if not isinstance(value, str):
            return f"{self.key} must be {self.expected}"
        row = self.find(lookups, value)
        if row is None:
            return self.missing(lookups, value)
        return Resolved(self.name_of(row), row)

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        setattr(ticket, self.attr, resolved.target)


class Followers(Binding):
    """Set-valued and stored in a join table: the write applies the difference (see services)."""

    settable = True
    event = "followers"

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return state.followers

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        if value is None:
            value = ()
        if not isinstance(value, list | tuple | set | frozenset):
            return "followers must be a list of agent e-mail addresses"
        users = []
        for email in value:
            user = lookups.agent(email) if isinstance(email, str) else None
            if user is None:
                return f"no active agent with e-mail {email!r}"
            users.append(user)
        return Resolved(frozenset(u.email for u in users), users)

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        """The join rows are written by the services from the old and new e-mail sets."""


class Custom(Binding):
    """``custom.<key>``: typed by the admin's definition; null (or a missing key) is unset."""

    settable = True

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return (ticket.custom_fields or {}).get(self.key.removeprefix("custom."))

    def resolve(self, value: Any, lookups: Lookups) -> Resolved | str:
        problem = value_problem(_EMPTY_CATALOG, self.spec, value)
        return problem if problem is not None else Resolved(value, value)

    def apply(self, ticket: Ticket, resolved: Resolved) -> None:
        merged = dict(ticket.custom_fields or {})
        key = self.key.removeprefix("custom.")
        if resolved.target is None:
            merged.pop(key, None)
        else:
            merged[key] = resolved.target
        ticket.custom_fields = merged


class Header(Binding):
    """``source.header.<name>``: a header the ticket's first mail had (None when it lacked it)."""

    def read(self, ticket: Ticket, state: ReadState) -> Any:
        return source_headers(ticket).get(self.key.removeprefix(HEADER_PREFIX))


def source_headers(ticket: Ticket) -> dict[str, str]:
    headers = (ticket.source or {}).get("headers")
    return headers if isinstance(headers, dict) else {}


def _source(key: str) -> Callable[[Ticket], Any]:
    def read(ticket: Ticket) -> Any:
        return (ticket.source or {}).get(key) or None

    return read


def _domain(ticket: Ticket) -> Any:
    _, at, domain = str((ticket.source or {}).get("address") or "").rpartition("@")
    return (domain.lower() or None) if at else None


def _language(ticket: Ticket) -> Any:
    """The channel's language, else the requester's choice, else the site's default."""
    return (ticket.source or {}).get("language") or language_of(ticket.requester)


def normalize_tags(tags: Any) -> list[str]:
    return sorted({t.strip().lower() for t in tags if isinstance(t, str) and t.strip()})


def _hours(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / 3600, 4)


def _latest(attr: str) -> Callable[[Ticket, ReadState], Any]:
    def read(ticket: Ticket, state: ReadState) -> Any:
        return getattr(state.latest, attr) if state.latest is not None else None

    return read


def _column(attr: str) -> Callable[[Ticket, ReadState], Any]:
    def read(ticket: Ticket, state: ReadState) -> Any:
        return getattr(ticket, attr)

    return read


def _is_provided(key: str) -> bool:
    return key == "calendar" or key.startswith("sla.")


def _provided(key: str) -> Callable[[Ticket, ReadState], Any]:
    """A value another package computes (the calendar, SLA clocks), from ``ReadState.derived``."""

    def read(ticket: Ticket, state: ReadState) -> Any:
        return state.derived.get(key)

    return read


def _org_name(ticket: Ticket) -> Any:
    org = ticket.organization
    return org.name if org else None


_SPECS = {spec.name: spec for spec in BASE_FIELDS}


def _base_bindings() -> dict[str, Binding]:
    s = _SPECS
    out: list[Binding] = [
        Attr(s["id"], "pk"),
        Attr(s["subject"], settable=True, nullable=False),
        Attr(s["status"], settable=True, nullable=False),
        Attr(s["priority"], settable=True, nullable=False),
        Attr(s["type"], settable=True),
        Attr(s["channel"]),
        Tags(s["tags"]),
        Ref(
            s["assignee"],
            attr="assignee",
            name_of=lambda user: user.email,
            find=Lookups.agent,
            missing=lambda _, v: f"no active agent with e-mail {v!r}",
            expected="an agent's e-mail address",
            event="assigned",
        ),
        Ref(
            s["team"],
            attr="team",
            name_of=lambda team: team.name,
            find=Lookups.team,
            missing=lambda lookups, v: f"no team named {v!r} (teams: {lookups.known_teams()})",
            expected="a team name",
        ),
        Followers(s["followers"]),
        Related(s["requester.email"], lambda t: t.requester.email),
        Related(s["requester.name"], lambda t: t.requester.name),
        Related(s["organization.name"], _org_name),
        Related(s["source.mailbox"], _source("mailbox")),
        Related(s["source.address"], _source("address")),
        Related(s["source.domain"], _domain),
        Related(s["source.page_url"], _source("page_url")),
        Related(s["language"], _language),
        Derived(s["message_count"], lambda t, st: t.message_count),
        Derived(s["age_hours"], lambda t, st: _hours(t.created_at, st.now)),
        Derived(s["hours_since_update"], lambda t, st: _hours(t.updated_at, st.now)),
        Derived(s["latest_message.body"], _latest("body_text")),
        Derived(s["latest_message.author_kind"], _latest("author_kind")),
        Derived(s["latest_message.public"], _latest("public")),
        *(
            Derived(s[key], _column(key))
            for key in (
                "created_at",
                "updated_at",
                "status_changed_at",
                "solved_at",
                "last_customer_message_at",
                "last_agent_message_at",
            )
        ),
        *(Derived(spec, _provided(spec.name)) for spec in BASE_FIELDS if _is_provided(spec.name)),
    ]
    bindings = {b.key: b for b in out}
    missing = set(_SPECS) ^ set(bindings)
    if missing:  # the vocabulary and the bindings must describe the same fields
        raise RuntimeError(f"ticket fields without a binding or spec: {sorted(missing)}")
    return bindings


BASE: dict[str, Binding] = _base_bindings()


@dataclass
class Registry:
    """The bindings of one installation: the base fields plus its custom fields."""

    lookups: Lookups = field(default_factory=Lookups)

    def get(self, key: str) -> Binding | None:
        binding = BASE.get(key)
        if binding is not None:
            return binding
        if key.startswith("custom."):
            spec = self.lookups.custom_fields().get(key.removeprefix("custom."))
            return Custom(spec) if spec is not None else None
        if (name := header_key(key)) is not None:
            return Header(FieldSpec(name, "text"))
        return None

    def custom(self) -> list[Custom]:
        return [Custom(spec) for spec in self.lookups.custom_fields().values()]


def base_specs() -> list[FieldSpec]:
    return [b.spec for b in BASE.values()]


SET_KEYS = frozenset(k for k, b in BASE.items() if b.set_valued)
DERIVED_KEYS = frozenset(k for k, b in BASE.items() if b.derived)
SETTABLE_KEYS = tuple(k for k, b in BASE.items() if b.settable)
