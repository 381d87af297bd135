"""Ticket writers. do_* change state and record events (no permission checks); check_* validate
caller input first and then call do_*. Every update is one transaction: the ticket change, its
events, the automation cascade and the outbox rows commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from flowdesk.accounts.models import ApiToken, Team, User
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.customfields import validate_custom_fields
from flowdesk.tickets.events import record_event, record_field_changes
from flowdesk.tickets.models import (
    AuthorKind,
    CauseKind,
    Channel,
    EventKind,
    Message,
    Priority,
    Status,
    Ticket,
    TicketTag,
    TicketType,
    TicketUpdate,
)


@dataclass(frozen=True)
class Cause:
    """Who or what made an update; copied onto every event the update records."""

    kind: str
    actor: User | None = None
    token: ApiToken | None = None
    rule: str = ""
    rule_chain: tuple[str, ...] = ()

    @classmethod
    def for_user(cls, user: User, token: ApiToken | None = None) -> Cause:
        if token is not None:
            return cls(CauseKind.TOKEN, user, token)
        return cls(CauseKind.AGENT if user.is_agent else CauseKind.CUSTOMER, user)

    @classmethod
    def system(cls) -> Cause:
        return cls(CauseKind.SYSTEM)

    def for_rule(self, rule: str, chain: tuple[str, ...]) -> Cause:
        return Cause(CauseKind.RULE, None, None, rule, chain)


@dataclass
class TicketChanges:
    """Requested field changes; None means "leave as is" (use clear_* to unset)."""

    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    type: str | None = None
    assignee: str | None = None  # agent e-mail
    team: str | None = None  # team name
    clear_assignee: bool = False
    clear_team: bool = False
    clear_type: bool = False
    tags: list[str] | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    add_followers: list[str] | None = None


@dataclass
class NewMessage:
    body_text: str
    public: bool = True
    body_html: str = ""
    channel: str = Channel.API
    attachments: list[dict[str, Any]] = field(default_factory=list)


def normalize_tags(tags: list[str]) -> list[str]:
    return sorted({t.strip().lower() for t in tags if t and t.strip()})


def _choice_error(name: str, value: str, choices: type[Any]) -> FieldError | None:
    allowed = [c.value for c in choices]
    if value not in allowed:
        return FieldError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return None


def _agent_by_email(email: str, field_name: str, errors: list[FieldError]) -> User | None:
    user = User.objects.filter(email=email.lower(), is_active=True).first()
    if user is None or not user.is_agent:
        errors.append(FieldError(field_name, f"no active agent with e-mail {email!r}"))
        return None
    return user


def _team_by_name(name: str, field_name: str, errors: list[FieldError]) -> Team | None:
    team = Team.objects.filter(name=name).first()
    if team is None:
        known = ", ".join(Team.objects.order_by("name").values_list("name", flat=True)) or "none"
        errors.append(FieldError(field_name, f"no team named {name!r} (teams: {known})"))
    return team


def _validate_changes(ticket: Ticket | None, changes: TicketChanges) -> list[FieldError]:
    errors: list[FieldError] = []
    if changes.subject is not None and not changes.subject.strip():
        errors.append(FieldError("subject", "must not be blank"))
    for name, value, choices in (
        ("status", changes.status, Status),
        ("priority", changes.priority, Priority),
        ("type", changes.type, TicketType),
    ):
        if value is not None and (err := _choice_error(name, value, choices)):
            errors.append(err)
    if changes.assignee is not None:
        _agent_by_email(changes.assignee, "assignee", errors)
    if changes.team is not None:
        _team_by_name(changes.team, "team", errors)
    for i, email in enumerate(changes.add_followers or []):
        _agent_by_email(email, f"add_followers[{i}]", errors)
    if changes.custom_fields:
        errors.extend(validate_custom_fields(changes.custom_fields))
    return errors


def _apply_changes(ticket: Ticket, changes: TicketChanges) -> None:
    """Applies validated changes to the in-memory ticket (saved by the caller)."""
    if changes.subject is not None:
        ticket.subject = changes.subject.strip()
    if changes.status is not None:
        ticket.status = changes.status
    if changes.priority is not None:
        ticket.priority = changes.priority
    if changes.clear_type:
        ticket.type = None
    elif changes.type is not None:
        ticket.type = changes.type
    if changes.clear_assignee:
        ticket.assignee = None
    elif changes.assignee is not None:
        ticket.assignee = User.objects.get(email=changes.assignee.lower())
    if changes.clear_team:
        ticket.team = None
    elif changes.team is not None:
        ticket.team = Team.objects.get(name=changes.team)
    tags = set(ticket.tags)
    if changes.tags is not None:
        tags = set(normalize_tags(changes.tags))
    tags |= set(normalize_tags(changes.add_tags or []))
    tags -= set(normalize_tags(changes.remove_tags or []))
    ticket.tags = sorted(tags)
    if changes.custom_fields:
        merged = dict(ticket.custom_fields)
        for key, value in changes.custom_fields.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        ticket.custom_fields = merged


TICKET_UPDATE_FIELDS = [
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
    "version",
]


def save_ticket_state(ticket: Ticket, now: datetime) -> None:
    """Persist the in-memory ticket and keep the tag index rows in step with ticket.tags."""
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        ticket.solved_at = ticket.solved_at or now
    else:
        ticket.solved_at = None
    ticket.updated_at = now
    ticket.save(update_fields=TICKET_UPDATE_FIELDS)
    existing = set(TicketTag.objects.filter(ticket=ticket).values_list("name", flat=True))
    wanted = set(ticket.tags)
    if existing - wanted:
        TicketTag.objects.filter(ticket=ticket, name__in=existing - wanted).delete()
    if wanted - existing:
        TicketTag.objects.bulk_create([TicketTag(ticket=ticket, name=n) for n in wanted - existing])


def _add_followers(ticket: Ticket, emails: list[str]) -> None:
    users = list(User.objects.filter(email__in=[e.lower() for e in emails]))
    ticket.followers.add(*users)


def _new_update(ticket: Ticket, cause: Cause, now: datetime) -> TicketUpdate:
    return TicketUpdate.objects.create(
        ticket=ticket, created_at=now, cause_kind=cause.kind, actor=cause.actor, token=cause.token
    )


def _add_message(
    ticket: Ticket,
    update: TicketUpdate,
    msg: NewMessage,
    author: User | None,
    author_kind: str,
    cause: Cause,
    now: datetime,
) -> Message:
    message = Message.objects.create(
        ticket=ticket,
        update=update,
        author=author,
        author_kind=author_kind,
        public=msg.public,
        channel=msg.channel,
        body_text=msg.body_text,
        body_html=msg.body_html,
        attachments=msg.attachments,
        created_at=now,
    )
    ticket.message_count += 1
    record_event(
        ticket,
        update,
        EventKind.MESSAGE_ADDED if msg.public else EventKind.NOTE_ADDED,
        cause,
        now,
        data={"message_id": message.pk, "author_kind": author_kind, "public": msg.public},
    )
    return message


def _lock(ticket_id: int) -> Ticket:
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("requester", "organization", "assignee", "team")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def do_create_ticket(
    *,
    requester: User,
    subject: str,
    message: NewMessage,
    channel: str,
    changes: TicketChanges,
    cause: Cause,
    now: datetime,
) -> Ticket:
    from flowdesk.automation.runner import run_automation

    with transaction.atomic():
        ticket = Ticket.objects.create(
            subject=subject.strip(),
            channel=channel,
            requester=requester,
            organization=requester.organization,
            created_at=now,
            updated_at=now,
        )
        _apply_changes(ticket, changes)
        update = _new_update(ticket, cause, now)
        author_kind = AuthorKind.CUSTOMER
        if cause.actor is not None and cause.actor.is_agent and cause.actor != requester:
            author_kind = AuthorKind.AGENT
        _add_message(ticket, update, message, cause.actor or requester, author_kind, cause, now)
        save_ticket_state(ticket, now)  # tags rows and fields must be stored before the snapshot
        if changes.add_followers:
            _add_followers(ticket, changes.add_followers)
        initial = snap.build_snapshot(ticket, now)
        record_event(
            ticket,
            update,
            EventKind.CREATED,
            cause,
            now,
            data={k: v for k, v in snap.to_json(initial).items() if k not in snap.DERIVED_KEYS},
        )
        # The first message is the request itself, not a reply: only `created` triggers fire.
        run_automation(ticket, update, "created", {}, [], now, initial)
        save_ticket_state(ticket, now)
        return ticket


def check_create_ticket(
    *,
    requester: User,
    subject: str,
    message: NewMessage,
    channel: str,
    changes: TicketChanges,
    cause: Cause,
    now: datetime,
) -> Ticket:
    errors = _validate_changes(None, changes)
    if not subject.strip():
        errors.append(FieldError("subject", "must not be blank"))
    if not message.body_text.strip():
        errors.append(FieldError("body", "must not be blank"))
    if (err := _choice_error("channel", channel, Channel)) is not None:
        errors.append(err)
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
    )


def do_update_ticket(
    ticket_id: int,
    *,
    changes: TicketChanges,
    message: NewMessage | None,
    expected_version: int | None,
    cause: Cause,
    now: datetime,
) -> Ticket:
    """Applies field changes and/or one message as one update, then runs automation."""
    with transaction.atomic():
        ticket = _apply_update(ticket_id, changes, message, expected_version, cause, now)
    if ticket is None:  # nothing changed: the update was rolled back
        return Ticket.objects.get(pk=ticket_id)
    return ticket


def _apply_update(
    ticket_id: int,
    changes: TicketChanges,
    message: NewMessage | None,
    expected_version: int | None,
    cause: Cause,
    now: datetime,
) -> Ticket | None:
    """The body of do_update_ticket, inside its transaction; None when nothing changed (then the
    transaction is marked for rollback and must not run another query)."""
    from flowdesk.automation.runner import run_automation

    ticket = _lock(ticket_id)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict(
            f"ticket {ticket_id} is at version {ticket.version}, "
            f"the update was based on version {expected_version}: reload and retry",
            current_version=ticket.version,
        )
    before = snap.build_snapshot(ticket, now)
    _apply_changes(ticket, changes)
    update = _new_update(ticket, cause, now)
    messages: list[tuple[str, bool]] = []
    if message is not None:
        author_kind = (
            AuthorKind.AGENT if cause.actor and cause.actor.is_agent else AuthorKind.CUSTOMER
        )
        if cause.actor is None:
            author_kind = AuthorKind.SYSTEM
        _add_message(ticket, update, message, cause.actor, author_kind, cause, now)
        messages.append((author_kind, message.public))
    if changes.add_followers:
        _add_followers(ticket, changes.add_followers)
    after = snap.build_snapshot(ticket, now)
    field_changes = snap.diff(before, after)
    if not field_changes and not messages:
        transaction.set_rollback(True)
        return None
    record_field_changes(ticket, update, field_changes, cause, now)
    run_automation(ticket, update, "updated", field_changes, messages, now, after)
    ticket.version += 1
    save_ticket_state(ticket, now)
    return ticket


def check_update_ticket(
    ticket: Ticket,
    *,
    changes: TicketChanges,
    message: NewMessage | None,
    expected_version: int | None,
    cause: Cause,
    now: datetime,
) -> Ticket:
    errors = _validate_changes(ticket, changes)
    if message is not None and not message.body_text.strip():
        errors.append(FieldError("message.body", "must not be blank"))
    if cause.actor is not None and not cause.actor.is_agent:
        # Customers may only talk and close their own request; the rest is the agents' job.
        for name in (
            "status",
            "priority",
            "type",
            "assignee",
            "team",
            "tags",
            "add_tags",
            "remove_tags",
            "custom_fields",
            "add_followers",
        ):
            value = getattr(changes, name)
            if value is not None and not (name == "status" and value == Status.SOLVED):
                errors.append(FieldError(name, "customers cannot change this field"))
        if message is not None and not message.public:
            errors.append(FieldError("message.public", "customers cannot add internal notes"))
    if errors:
        raise ValidationFailed(errors)
    return do_update_ticket(
        ticket.pk,
        changes=changes,
        message=message,
        expected_version=expected_version,
        cause=cause,
        now=now,
    )
