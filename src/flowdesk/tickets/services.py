"""Ticket writers: the only code that writes tickets and messages.

One change set, one writer. Every change to a ticket's fields, tags, followers, assignee or team
is a ``ChangeSet`` applied by ``apply_change_set``; every message or note is added by
``do_add_message``. Agents and customers (API, web), rules, and the coming timers, channels and
routers all go through these two functions, which validate, write and record the events, so two
writers can never disagree.

do_* change state and record events (no permission checks); check_* validate caller input and
permissions first and then call do_*. Every update is one transaction (``TicketWrite``): the
ticket change, its events, the update hooks (automation) and the outbox rows commit together or
not at all, and the delivery tasks are enqueued only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from flowdesk.accounts.models import User
from flowdesk.core import rows
from flowdesk.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from flowdesk.engine import Event, MessageInfo
from flowdesk.engine.actions import Guard
from flowdesk.engine.triggers import channel_event_changes
from flowdesk.engine.vocabulary import CHANNELS, SOLVED_STATUSES
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.batch import Preloaded, lock_many, next_update_id
from flowdesk.tickets.cause import Cause, CauseKind
from flowdesk.tickets.delivery import deliver_message
from flowdesk.tickets.events import EventLog, new_update
from flowdesk.tickets.fields import Binding, ReadState, Registry, Resolved
from flowdesk.tickets.hooks import run_update_hooks
from flowdesk.tickets.models import (
    AuthorKind,
    Channel,
    EventKind,
    Message,
    Status,
    Ticket,
    TicketTag,
    TicketUpdate,
)
from flowdesk.tickets.selectors import customer_may_change
from flowdesk.tickets.source import check_source

__all__ = [
    "Cause",
    "ChangeSet",
    "NewMessage",
    "TicketWrite",
    "apply_change_set",
    "check_create_ticket",
    "check_update_ticket",
    "do_add_message",
    "do_create_ticket",
    "do_relink_ticket",
    "do_timer_update",
    "do_update_ticket",
    "write_guard",
]

#: Longest message text (characters), documented in docs/api.md.
MESSAGE_BODY_MAX = 100_000


@dataclass(frozen=True)
class ChangeSet:
    """Requested changes over the field registry's snapshot keys.

    ``values`` sets a field (``None`` clears it): ``{"status": "pending", "assignee":
    "a@example.com", "custom.plan": "pro", "tags": [...]}``; ``add`` / ``remove`` add or remove
    members of a set-valued field (``tags``, ``followers``).
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    add: Mapping[str, Collection[str]] = field(default_factory=dict)
    remove: Mapping[str, Collection[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values) or any(self.add.values()) or any(self.remove.values())

    def fields(self) -> set[str]:
        """Every field this change set touches."""
        ops = (self.add, self.remove)
        return set(self.values) | {k for op in ops for k, v in op.items() if v}


@dataclass
class NewMessage:
    body_text: str
    public: bool = True
    body_html: str = ""
    channel: str = Channel.API
    attachments: list[dict[str, Any]] = field(default_factory=list)
    #: the e-mail subject when the message leaves flowdesk (default: "Re: <subject> [#id]")
    subject: str = ""


class TicketWrite:
    """One open update of one ticket, inside its transaction.

    Holds what every writer of this update shares: the ticket row (written once, at the end),
    the update row (saved when first needed), the events (inserted together at the end), the
    name lookups, and the related rows a snapshot reads (followers, latest message) kept in step
    with the writes so no snapshot queries them twice.
    """

    def __init__(self, ticket: Ticket, cause: Cause, now: datetime, *, new: bool) -> None:
        self.ticket = ticket
        self.cause = cause
        self.now = now
        self.new = new
        self.registry = Registry()
        self.update: TicketUpdate = new_update(ticket.pk, cause, now)
        self._update_saved = False
        #: the update row was inserted with the engine's input already on it (automation)
        self.engine_input_stored = False
        self.log = EventLog(ticket.pk, self.update, now)
        self.messages: list[MessageInfo] = []
        self._followers: frozenset[str] | None = frozenset() if new else None
        self._latest: Message | None = None
        self._latest_loaded = new
        self.stored_tags: frozenset[str] = frozenset() if new else frozenset(ticket.tags)
        #: snapshot values other packages compute for this write (calendar, sla.*): the
        #: ``prepare`` hooks fill it (tickets.hooks)
        self.derived: dict[str, Any] = {}
        #: a field changed in this update (a timer update that only records events, such as
        #: an SLA breach, leaves ``updated_at`` as it was)
        self.fields_changed = new
        #: what an update hook keeps for a later phase of the same update (tickets.hooks)
        self.hook_state: dict[str, Any] = {}

    def use_preloaded(self, rows: Preloaded) -> None:
        """Start with rows read for a whole round (tickets.batch) instead of reading them."""
        self._followers = rows.followers
        self._latest, self._latest_loaded = rows.latest, True
        self.hook_state.update(rows.hook_state)

    @property
    def followers(self) -> frozenset[str]:
        if self._followers is None:
            self._followers = frozenset(self.ticket.followers.values_list("email", flat=True))
        return self._followers

    @property
    def latest(self) -> Message | None:
        if not self._latest_loaded:
            self._latest = Message.objects.filter(ticket=self.ticket).order_by("-id").first()
            self._latest_loaded = True
        return self._latest

    def update_row(self) -> TicketUpdate:
        """The update row, inserted the first time something needs to point at it."""
        if not self._update_saved:
            if self.update.pk is None:
                self.update.pk = next_update_id()  # None: the database assigns it
            rows.insert(self.update)
            self._update_saved = True
        return self.update

    def read_state(self) -> ReadState:
        return ReadState(self.now, self.followers, self.latest, self.derived)

    def snapshot(self) -> dict[str, Any]:
        return snap.build_snapshot(self.ticket, self.read_state())

    @property
    def touched_update(self) -> bool:
        """The update row has been inserted."""
        return self._update_saved

    @property
    def touched(self) -> bool:
        return self._update_saved or bool(self.log.rows)


def _error_name(key: str, op: str = "set") -> str:
    """How the API names a change-set key in its errors (its request fields)."""
    if key.startswith("custom."):
        return f"custom_fields.{key.removeprefix('custom.')}"
    return key if op == "set" else f"{op}_{key}"


def _binding(registry: Registry, key: str) -> Binding | str:
    binding = registry.get(key)
    if binding is None:
        if key.startswith("custom."):
            known = ", ".join(sorted(registry.lookups.custom_fields())) or "none"
            return f"unknown custom field (defined: {known})"
        return f"unknown field {key!r}"
    if not binding.settable:
        return f"{key} cannot be changed"
    return binding


def _resolve_all(
    w: TicketWrite, changes: ChangeSet
) -> tuple[dict[str, Resolved], list[FieldError]]:
    """Every change validated and resolved against the current ticket, or the errors."""
    resolved: dict[str, Resolved] = {}
    errors: list[FieldError] = []
    current: dict[str, Any] = {}
    for key, value in changes.values.items():
        binding = _binding(w.registry, key)
        if isinstance(binding, str):
            errors.append(FieldError(_error_name(key), binding))
            continue
        result = binding.resolve(value, w.registry.lookups)
        if isinstance(result, str):
            errors.append(FieldError(_error_name(key), result))
        else:
            resolved[key] = result
    for op, ops in (("add", changes.add), ("remove", changes.remove)):
        for key, members in ops.items():
            if not members:
                continue
            binding = _binding(w.registry, key)
            if isinstance(binding, str) or not binding.set_valued:
                problem = binding if isinstance(binding, str) else f"{key} is not a set"
                errors.append(FieldError(_error_name(key, op), problem))
                continue
            if key not in current:
                base = resolved[key].value if key in resolved else None
                current[key] = set(
                    base if base is not None else binding.read(w.ticket, w.read_state())
                )
            items = [m for m in members if isinstance(m, str)]
            if len(items) != len(members):
                errors.append(FieldError(_error_name(key, op), "must be a list of strings"))
                continue
            folded = {m.strip().lower() for m in items}  # tags and e-mails are lower-case
            if op == "add":
                current[key] |= folded
            else:
                current[key] -= folded
    for key, members in current.items():
        target = w.registry.get(key)
        assert target is not None  # checked above
        result = target.resolve(sorted(members), w.registry.lookups)
        if isinstance(result, str):
            errors.append(FieldError(_error_name(key, "add"), result))
        else:
            resolved[key] = result
    return resolved, errors


def write_guard(registry: Registry) -> Guard:
    """The engine's guard: a rule's write is refused before it enters the working state when
    the field registry would refuse it (unknown agent, renamed team, a field rules cannot
    set), with the same message ``apply_change_set`` would give."""

    def guard(rule: str, key: str, value: Any) -> str | None:
        binding = _binding(registry, key)
        if isinstance(binding, str):
            return binding
        result = binding.resolve(value, registry.lookups)
        return result if isinstance(result, str) else None

    return guard


def apply_change_set(
    w: TicketWrite, changes: ChangeSet, cause: Cause
) -> dict[str, tuple[Any, Any]]:
    """Validate and apply ``changes``; record one event per changed field with ``cause``.

    All or nothing: a change that fails validation raises ValidationFailed naming each field,
    and nothing of the change set is applied. Returns the fields that changed, (old, new).
    """
    resolved, errors = _resolve_all(w, changes)
    if errors:
        raise ValidationFailed(errors)
    ticket = w.ticket
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in resolved.items():
        binding = w.registry.get(key)
        assert binding is not None  # resolved keys have bindings
        old = binding.read(ticket, w.read_state())
        if old == value.value:
            continue
        binding.apply(ticket, value)
        if key == "followers":
            _write_followers(w, old, value)
        new = binding.read(ticket, w.read_state())
        if new != old:
            changed[key] = (old, new)
            if key == "status":  # the instants time rules read, right away (not at _finish)
                ticket.status_changed_at = w.now
                solved = new in SOLVED_STATUSES
                ticket.solved_at = (ticket.solved_at or w.now) if solved else None
    if changed:
        w.fields_changed = True
        w.update_row()
        w.log.field_changes(changed, cause)
    return changed


def _write_followers(w: TicketWrite, old: frozenset[str], value: Resolved) -> None:
    """Followers live in a join table: add and remove the difference at once."""
    users: list[User] = list(value.target)
    new = frozenset(u.email for u in users)
    added = [u for u in users if u.email not in old]
    removed = old - new
    if added:
        w.ticket.followers.add(*added)
    if removed:
        w.ticket.followers.remove(*User.objects.filter(email__in=sorted(removed)))
    w._followers = new


def do_add_message(
    w: TicketWrite,
    msg: NewMessage,
    *,
    author: User | None,
    author_kind: str,
    cause: Cause,
) -> Message:
    """Add a public message or an internal note; whether it leaves flowdesk (e-mail to the
    requester) is decided in one place, ``tickets.delivery``, for every author."""
    message = Message(
        ticket=w.ticket,
        update=w.update_row(),
        author=author,
        author_kind=author_kind,
        public=msg.public,
        channel=msg.channel,
        body_text=msg.body_text,
        body_html=msg.body_html,
        attachments=msg.attachments,
        created_at=w.now,
    )
    rows.insert(message)
    w.ticket.message_count += 1
    if msg.public and author_kind == AuthorKind.CUSTOMER:
        w.ticket.last_customer_message_at = w.now
    elif msg.public and author_kind == AuthorKind.AGENT:
        w.ticket.last_agent_message_at = w.now
    w._latest, w._latest_loaded = message, True
    w.messages.append(MessageInfo(author_kind, msg.public))
    w.log.add(
        EventKind.MESSAGE_ADDED if msg.public else EventKind.NOTE_ADDED,
        cause,
        data={"message_id": message.pk, "author_kind": author_kind, "public": msg.public},
    )
    deliver_message(w, message, cause, subject=msg.subject)
    return message


_TICKET_FIELDS = [
    "subject",
    "status",
    "priority",
    "type",
    "assignee",
    "team",
    "tags",
    "custom_fields",
    "message_count",
    "updated_at",
    "solved_at",
    "status_changed_at",
    "last_customer_message_at",
    "last_agent_message_at",
    "version",
]


def _finish(w: TicketWrite) -> None:
    """Store the ticket row, its tag index rows, the update row and the events: one statement
    each, whatever the number of writers in this update."""
    ticket = w.ticket
    if ticket.status in SOLVED_STATUSES:
        ticket.solved_at = ticket.solved_at or w.now
    else:
        ticket.solved_at = None
    if w.fields_changed or w.messages:
        ticket.updated_at = w.now
    rows.update_fields(ticket, _TICKET_FIELDS)
    wanted = frozenset(ticket.tags)
    if w.stored_tags - wanted:
        TicketTag.objects.filter(ticket=ticket, name__in=sorted(w.stored_tags - wanted)).delete()
    if wanted - w.stored_tags:
        # Conflict-safe: the rows are an index of ticket.tags, so a row already there (however
        # it got there) is the row wanted; the unique (ticket, name) key must never be a 500.
        rows.insert_ignore(
            [TicketTag(ticket=ticket, name=n) for n in sorted(wanted - w.stored_tags)]
        )
    w.stored_tags = wanted
    if w._update_saved:
        if w.update.ruleset_version is not None and not w.engine_input_stored:
            rows.update_fields(
                w.update, ["ruleset_version", "engine_snapshot", "engine_event", "automation"]
            )
    else:
        w.update_row()
    w.log.flush()


def _lock(ticket_id: int, *, skip_locked: bool = False) -> Ticket | None:
    """The ticket row, locked for the update. ``skip_locked``: None when another transaction
    holds it right now (PostgreSQL; SQLite has one writer at a time anyway)."""
    skip = skip_locked and connection.features.has_select_for_update_skip_locked
    ticket = lock_many([ticket_id], skip_locked=skip_locked).get(ticket_id)
    if ticket is None:
        if skip and Ticket.objects.filter(pk=ticket_id).exists():
            return None
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def do_create_ticket(
    *,
    requester: User,
    subject: str,
    message: NewMessage,
    channel: str,
    changes: ChangeSet,
    cause: Cause,
    now: datetime,
    source: dict[str, Any] | None = None,
    channel_events: tuple[str, ...] = (),
) -> Ticket:
    """A new ticket whose first message is the requester's request (whoever typed it in).
    ``source`` is what the channel knows of where it came from (``Ticket.source``);
    ``channel_events`` what it tells the triggers besides (``chat_started``).

    Inside a caller's transaction it adds no savepoint: a refused ticket rolls the caller's
    transaction back too (the API creates the requester and the ticket all or nothing)."""
    with transaction.atomic(savepoint=False):
        ticket = Ticket(
            subject=subject.strip(),
            channel=channel,
            source=source or {},
            requester=requester,
            organization=requester.organization,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
        )
        rows.insert(ticket)
        w = TicketWrite(ticket, cause, now, new=True)
        # Initial values, not changes: they are part of the `created` event, not events of
        # their own.
        resolved, errors = _resolve_all(w, changes)
        if errors:
            raise ValidationFailed(errors)
        for key, value in resolved.items():
            binding = w.registry.get(key)
            assert binding is not None
            binding.apply(ticket, value)
            if key == "followers":
                _write_followers(w, frozenset(), value)
        author_kind = AuthorKind.CUSTOMER if not requester.is_agent else AuthorKind.AGENT
        ticket.added_message = do_add_message(
            w, message, author=requester, author_kind=author_kind, cause=cause
        )
        initial_state = w.snapshot()
        data = {k: v for k, v in snap.to_json(initial_state).items() if k not in snap.DERIVED_KEYS}
        w.log.add(EventKind.CREATED, cause, data=data, first=True)
        # The first message is the request itself, not a reply: only `created` triggers fire.
        run_update_hooks(w, Event("created", channel_event_changes(channel_events)), initial_state)
        _finish(w)
        # What the answer needs, known here: no reload after the commit.
        ticket.follower_emails = w.followers
        return ticket


def check_requester(actor: User, email: str | None, name: str = "") -> User:
    """Whom a new ticket is for: customers open tickets for themselves; agents name the
    requester by e-mail (a new customer is created for an unknown address)."""
    from flowdesk.accounts.identities import customer_for_request

    if not actor.is_agent:
        if email and email.strip().lower() != actor.email:
            raise Forbidden("customers open tickets for themselves (requester_email)")
        return actor
    if not email:
        raise ValidationFailed(
            [FieldError("requester_email", "required when an agent creates a ticket")]
        )
    # The login, a merged customer's survivor, a verified secondary address, or a new customer.
    return customer_for_request(email, name)


def check_create_ticket(
    *,
    actor: User | None,
    requester: User,
    subject: str,
    message: NewMessage,
    channel: str,
    changes: ChangeSet,
    cause: Cause,
    now: datetime,
    source: dict[str, Any] | None = None,
) -> Ticket:
    """``actor``: who asks (None for trusted internal callers such as the demo seeding);
    ``source``: where the ticket came from (``tickets.source.check_source``)."""
    customer = actor is not None and not actor.is_agent
    if customer and changes:
        names = sorted(_error_name(k) for k in changes.fields())
        raise Forbidden(f"customers cannot set {', '.join(names)} on a new ticket")
    checked, errors = check_source(source, customer=customer)
    if not subject.strip():
        errors.append(FieldError("subject", "must not be blank"))
    errors += _message_errors(message, "body")
    if channel not in CHANNELS:
        errors.append(FieldError("channel", f"{channel!r} is not one of {', '.join(CHANNELS)}"))
    if errors:
        raise ValidationFailed(errors)
    return do_create_ticket(
        requester=requester,
        subject=subject,
        message=message,
        channel=channel,
        changes=changes,
        cause=cause,
        now=now,
        source=checked,
    )


def _message_errors(message: NewMessage, name: str) -> list[FieldError]:
    if not message.body_text.strip():
        return [FieldError(name, "must not be blank")]
    if len(message.body_text) > MESSAGE_BODY_MAX:
        return [FieldError(name, f"is longer than {MESSAGE_BODY_MAX:,} characters")]
    return []


def do_update_ticket(
    ticket_id: int,
    *,
    changes: ChangeSet,
    message: NewMessage | None,
    expected_version: int | None,
    cause: Cause,
    now: datetime,
    channel_events: tuple[str, ...] = (),
) -> Ticket:
    """Applies field changes and/or one message as one update, then runs the update hooks.
    An update that changes nothing writes nothing (the version stays), unless it carries
    ``channel_events`` (``chat_message``, ``chat_ended``: triggers of their own)."""
    with transaction.atomic():
        ticket = _lock(ticket_id)
        assert ticket is not None  # raises NotFound rather than None without skip_locked
        if expected_version is not None and ticket.version != expected_version:
            raise Conflict(
                f"ticket {ticket_id} is at version {ticket.version}, "
                f"the update was based on version {expected_version}: reload and retry",
                current_version=ticket.version,
            )
        w = TicketWrite(ticket, cause, now, new=False)
        field_changes = apply_change_set(w, changes, cause)
        if message is not None:
            ticket.added_message = do_add_message(
                w, message, author=cause.actor, author_kind=_author_kind(cause), cause=cause
            )
        if not w.touched and not channel_events:
            return ticket
        event_changes = {**field_changes, **channel_event_changes(channel_events)}
        run_update_hooks(w, Event("updated", event_changes, tuple(w.messages)), w.snapshot())
        if not w.touched:
            return ticket  # a channel event no rule acted on writes nothing
        ticket.version += 1
        _finish(w)
        ticket.follower_emails = w.followers
        return ticket


def do_timer_update(
    ticket_id: int,
    *,
    purpose: str,
    now: datetime,
    late_seconds: float = 0.0,
    skip_locked: bool = False,
    check: Callable[[TicketWrite], bool] | None = None,
    after: Callable[[TicketWrite], None] | None = None,
    preloaded: Preloaded | None = None,
) -> bool | None:
    """A timer of ``purpose`` came due: an update with no change of its own, caused by the
    timer, that runs every update hook (SLA clocks, the time rules, the timers' own moves).
    It is recorded only if a hook recorded something (a breach, a rule that fired); otherwise
    nothing is written and the ticket's version stays. Returns whether it was recorded, or None
    when it did not run: ``skip_locked`` and an update holds the ticket right now, or ``check``
    (called with the ticket locked) said no. ``after`` runs last, in the same transaction (the
    timer's own bookkeeping). A timer that fired a second or more after it was due says so in
    its cause's detail. Inside a caller's transaction it adds no savepoint of its own.
    ``preloaded``: the ticket, already locked by the caller, with its rows (tickets.batch)."""
    detail = purpose if late_seconds < 1 else f"{purpose} (fired {late_seconds:.0f} s late)"
    with transaction.atomic(savepoint=False):
        ticket = preloaded.ticket if preloaded else _lock(ticket_id, skip_locked=skip_locked)
        if ticket is None:
            return None
        w = TicketWrite(ticket, Cause(CauseKind.TIMER, detail=detail), now, new=False)
        if preloaded is not None:
            w.use_preloaded(preloaded)
        if check is not None and not check(w):
            return None
        run_update_hooks(w, Event("timer", timer=purpose), w.snapshot())
        recorded = w.touched
        if recorded:
            ticket.version += 1
            _finish(w)
        if after is not None:
            after(w)
        return recorded


def _author_kind(cause: Cause) -> str:
    if cause.actor is None:
        return AuthorKind.SYSTEM
    return AuthorKind.AGENT if cause.actor.is_agent else AuthorKind.CUSTOMER


def check_update_ticket(
    ticket: Ticket,
    *,
    changes: ChangeSet,
    message: NewMessage | None,
    expected_version: int | None,
    cause: Cause,
    now: datetime,
    channel_events: tuple[str, ...] = (),
) -> Ticket:
    actor = cause.actor
    if actor is not None and not actor.is_agent:
        refused = sorted(
            _error_name(k)
            for k in changes.fields()
            if not customer_may_change(k, changes.values.get(k))
        )
        if refused:
            raise Forbidden(
                f"customers cannot change {', '.join(refused)} (they may reply and mark "
                f"their ticket {Status.SOLVED})"
            )
        if message is not None and not message.public:
            raise Forbidden("customers cannot add internal notes (message.public)")
    errors = _message_errors(message, "message.body") if message is not None else []
    if errors:
        raise ValidationFailed(errors)
    return do_update_ticket(
        ticket.pk,
        changes=changes,
        message=message,
        expected_version=expected_version,
        cause=cause,
        now=now,
        channel_events=channel_events,
    )


# --- merges: structural changes of a ticket (flowdesk.accounts.merge, flowdesk.tickets.merge) --


@dataclass(frozen=True)
class Relink:
    """What a merge or an unmerge changes on one ticket besides its fields."""

    requester: User | None = None
    #: (message ids on this ticket, their new author)
    authors: tuple[Collection[int], User] | None = None
    #: message ids (of another ticket) this ticket takes into its conversation
    take_messages: Collection[int] = ()
    #: the ticket this one is merged into; ``unmerge``: clear it
    merged_into: Ticket | None = None
    unmerge: bool = False


def do_relink_ticket(
    ticket_id: int,
    relink: Relink,
    *,
    event: str,
    data: dict[str, Any],
    cause: Cause,
    now: datetime,
    changes: ChangeSet | None = None,
    note: NewMessage | None = None,
) -> Ticket:
    """One update of a ticket a merge touches: re-point its requester, its messages' author,
    take messages of another ticket, set or clear ``merged_into``, apply ``changes`` and add a
    note, record ``event`` and run the update hooks. The message counters and the instants of
    the last customer and agent messages are counted again (messages may have moved)."""
    from django.db.models import Count, Max, Q

    with transaction.atomic():
        ticket = _lock(ticket_id)
        assert ticket is not None
        w = TicketWrite(ticket, cause, now, new=False)
        if relink.requester is not None:
            Ticket.objects.filter(pk=ticket.pk).update(requester=relink.requester)
            ticket.requester = relink.requester
        if relink.authors is not None:
            ids, author = relink.authors
            Message.objects.filter(pk__in=list(ids), ticket=ticket).update(author=author)
        if relink.take_messages:
            Message.objects.filter(pk__in=list(relink.take_messages)).update(ticket=ticket)
        if relink.merged_into is not None or relink.unmerge:
            Ticket.objects.filter(pk=ticket.pk).update(merged_into=relink.merged_into)
            ticket.merged_into = relink.merged_into
        public = Q(public=True)
        counts = Message.objects.filter(ticket=ticket).aggregate(
            n=Count("id"),
            customer=Max("created_at", filter=public & Q(author_kind=AuthorKind.CUSTOMER)),
            agent=Max("created_at", filter=public & Q(author_kind=AuthorKind.AGENT)),
        )
        ticket.message_count = counts["n"]
        ticket.last_customer_message_at = counts["customer"]
        ticket.last_agent_message_at = counts["agent"]
        field_changes = apply_change_set(w, changes or ChangeSet(), cause)
        if note is not None:
            do_add_message(
                w, note, author=cause.actor, author_kind=_author_kind(cause), cause=cause
            )
        w.log.add(event, cause, data=data)
        w.update_row()
        run_update_hooks(w, Event("updated", field_changes, tuple(w.messages)), w.snapshot())
        ticket.version += 1
        _finish(w)
        ticket.follower_emails = w.followers
        return ticket
