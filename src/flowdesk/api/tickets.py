"""Tickets, messages, history (events), updates and explanations."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import Field

from flowdesk.accounts.models import User
from flowdesk.api.auth import current_token, current_user
from flowdesk.api.schemas import (
    BODY_ERRORS,
    ChannelT,
    EventOut,
    Limit,
    MessageCreate,
    MessageIn,
    MessageOut,
    Offset,
    PriorityT,
    RequestIn,
    StatusT,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketPatch,
    UpdateOut,
    errors,
)
from flowdesk.api.sla_report import SlaReportOut
from flowdesk.automation.explain import explain_update
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import NotFound
from flowdesk.sla.report import sla_report
from flowdesk.tickets.models import Message, Ticket, TicketEvent, TicketUpdate
from flowdesk.tickets.selectors import (
    access_ticket_by_id,
    check_can_read_history,
    messages_for,
    tickets_for,
)
from flowdesk.tickets.services import (
    Cause,
    ChangeSet,
    NewMessage,
    check_create_ticket,
    check_requester,
    check_update_ticket,
)
from flowdesk.tickets.source import INTERNAL_KEYS

router = Router(tags=["tickets"])


def ticket_out(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.pk,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "type": t.type,
        "channel": t.channel,
        "requester": {"id": t.requester.pk, "email": t.requester.email, "name": t.requester.name},
        "organization": t.organization.name if t.organization else None,
        "assignee": t.assignee.email if t.assignee else None,
        "team": t.team.name if t.team else None,
        "followers": sorted(_followers(t)),
        "tags": list(t.tags),
        "custom_fields": t.custom_fields,
        "source": {k: v for k, v in (t.source or {}).items() if k not in INTERNAL_KEYS},
        "message_count": t.message_count,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "solved_at": t.solved_at,
        "version": t.version,
    }


def _followers(t: Ticket) -> Collection[str]:
    """The writers leave the followers they wrote on the ticket (no query for a new one)."""
    known = t.follower_emails
    return known if known is not None else [u.email for u in t.followers.all()]


def _cause(request: HttpRequest) -> Cause:
    return Cause.for_user(current_user(request), current_token(request))


def _create_changes(payload: TicketCreate) -> ChangeSet:
    """The optional initial fields of a new ticket, as a change set (only what was sent)."""
    values: dict[str, Any] = {
        k: getattr(payload, k)
        for k in ("priority", "type", "assignee", "team")
        if getattr(payload, k) is not None
    }
    if payload.tags:
        values["tags"] = payload.tags
    for key, value in payload.custom_fields.items():
        values[f"custom.{key}"] = value
    return ChangeSet(values=values)


@router.post(
    "",
    response={201: TicketOut, **errors(401, 403, *BODY_ERRORS)},
    summary="Create a ticket (runs the rules)",
)
def create_ticket(request: HttpRequest, payload: TicketCreate) -> Status[Any]:
    user = current_user(request)
    # One transaction: a rejected ticket must not leave a newly created requester behind.
    with transaction.atomic():
        requester = check_requester(user, payload.requester_email, payload.requester_name)
        ticket = check_create_ticket(
            actor=user,
            requester=requester,
            subject=payload.subject,
            message=NewMessage(
                body_text=payload.body,
                body_html=payload.body_html,
                channel=payload.channel,
                attachments=[a.model_dump() for a in payload.attachments],
            ),
            channel=payload.channel,
            changes=_create_changes(payload),
            cause=_cause(request),
            now=utcnow(),
            source=payload.source,
        )
    # The rows just written are the answer: the ticket, its requester and organization, and
    # the assignee and team the writers resolved (objects, not ids), so nothing is read again.
    return Status(201, ticket_out(ticket))


class TicketFilters(RequestIn):
    status: list[StatusT] | None = Field(None, description="repeat to match any")
    priority: list[PriorityT] | None = None
    channel: ChannelT | None = None
    assignee: str | None = Field(None, description="agent e-mail, or 'none'")
    team: str | None = Field(None, description="team name, or 'none'")
    tag: str | None = None
    requester: str | None = None
    q: str | None = Field(None, description="words in the subject")
    ordering: str = Field("-updated_at", pattern=r"^-?(id|created_at|updated_at|priority|status)$")
    limit: Limit = 50
    offset: Offset = 0


@router.get(
    "",
    response={200: TicketPage, **errors(401, 422)},
    summary="List tickets with filters and pagination",
)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]) -> dict[str, Any]:
    qs = tickets_for(current_user(request)).prefetch_related("followers")
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.priority:
        qs = qs.filter(priority__in=filters.priority)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.assignee:
        qs = (
            qs.filter(assignee__isnull=True)
            if filters.assignee == "none"
            else qs.filter(assignee__email=filters.assignee.lower())
        )
    if filters.team:
        qs = (
            qs.filter(team__isnull=True)
            if filters.team == "none"
            else qs.filter(team__name=filters.team)
        )
    if filters.tag:
        qs = qs.filter(tag_rows__name=filters.tag.lower())
    if filters.requester:
        qs = qs.filter(requester__email=filters.requester.lower())
    if filters.q:
        for word in filters.q.split():
            qs = qs.filter(subject__icontains=word)
    qs = qs.order_by(filters.ordering, "-id")
    count = qs.count()
    items = [ticket_out(t) for t in qs[filters.offset : filters.offset + filters.limit]]
    return {"count": count, "limit": filters.limit, "offset": filters.offset, "items": items}


@router.get(
    "/{ticket_id}", response={200: TicketOut, **errors(401, 404, 422)}, summary="Read a ticket"
)
def get_ticket(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    return ticket_out(access_ticket_by_id(current_user(request), ticket_id))


@router.patch(
    "/{ticket_id}",
    response={200: TicketOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Update a ticket (409 on a stale version)",
)
def update_ticket(request: HttpRequest, ticket_id: int, payload: TicketPatch) -> dict[str, Any]:
    ticket = access_ticket_by_id(current_user(request), ticket_id)
    updated = check_update_ticket(
        ticket,
        changes=_patch_changes(payload),
        message=_new_message(payload.message) if payload.message is not None else None,
        expected_version=payload.version,
        cause=_cause(request),
        now=utcnow(),
    )
    return ticket_out(updated)


def _patch_changes(payload: TicketPatch) -> ChangeSet:
    """A PATCH body as a change set: a field sent as null clears it (``assignee: null``
    unassigns); a field not sent is left as it is."""
    sent = payload.model_fields_set
    values: dict[str, Any] = {
        k: getattr(payload, k)
        for k in ("subject", "status", "priority", "type", "assignee", "team", "tags")
        if k in sent
    }
    for key, value in (payload.custom_fields or {}).items():
        values[f"custom.{key}"] = value
    return ChangeSet(
        values=values,
        add={"tags": payload.add_tags or (), "followers": payload.add_followers or ()},
        remove={"tags": payload.remove_tags or (), "followers": payload.remove_followers or ()},
    )


def _new_message(m: MessageIn) -> NewMessage:
    return NewMessage(
        body_text=m.body,
        body_html=m.body_html,
        public=m.public,
        channel=m.channel,
        attachments=[a.model_dump() for a in m.attachments],
    )


def message_out(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "author": m.author.email if m.author else None,
        "author_kind": m.author_kind,
        "public": m.public,
        "channel": m.channel,
        "body": m.body_text,
        "body_html": m.body_html,
        "attachments": m.attachments,
        "created_at": m.created_at,
    }


@router.get(
    "/{ticket_id}/messages",
    response={200: list[MessageOut], **errors(401, 404, 422)},
    summary="The conversation",
)
def list_messages(request: HttpRequest, ticket_id: int) -> list[dict[str, Any]]:
    user = current_user(request)
    return [message_out(m) for m in messages_for(user, access_ticket_by_id(user, ticket_id))]


@router.post(
    "/{ticket_id}/messages",
    response={201: TicketOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Add a reply or internal note (runs the rules)",
)
def add_message(request: HttpRequest, ticket_id: int, payload: MessageCreate) -> Status[Any]:
    ticket = access_ticket_by_id(current_user(request), ticket_id)
    updated = check_update_ticket(
        ticket,
        changes=ChangeSet(),
        message=_new_message(payload),
        expected_version=payload.version,
        cause=_cause(request),
        now=utcnow(),
    )
    return Status(201, ticket_out(updated))


def _agent_only(request: HttpRequest) -> User:
    user = current_user(request)
    check_can_read_history(user)
    return user


@router.get(
    "/{ticket_id}/events",
    response={200: list[EventOut], **errors(401, 403, 404, 422)},
    summary="History: the event log",
)
def list_events(request: HttpRequest, ticket_id: int) -> list[dict[str, Any]]:
    ticket = access_ticket_by_id(_agent_only(request), ticket_id)
    events = TicketEvent.objects.filter(ticket=ticket).select_related("actor", "token")
    return [
        {
            "id": e.pk,
            "update_id": e.update_id,
            "kind": e.kind,
            "field": e.field,
            "old": e.old_value,
            "new": e.new_value,
            "data": e.data,
            "cause": e.cause_kind,
            "cause_detail": e.cause_detail,
            "actor": e.actor.email if e.actor else None,
            "token": e.token.name if e.token else None,
            "rule": e.rule,
            "rule_chain": e.rule_chain,
            "created_at": e.created_at,
        }
        for e in events
    ]


@router.get(
    "/{ticket_id}/sla",
    response={200: SlaReportOut, **errors(401, 403, 404, 422)},
    summary="The SLA clocks as of now, and the breaches recorded",
)
def get_sla(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    """The policy that applies, its calendar, and each clock computed fresh from the ticket's
    history as of now (state, due instant, time used and left, pauses, met or breached instant,
    cycle; earlier cycles of the repeating clocks), with every breach recorded (docs/sla.md,
    "SLA at run time"). For agents; a ticket the agent cannot see is 404."""
    ticket = access_ticket_by_id(_agent_only(request), ticket_id)
    return sla_report(ticket, utcnow())


@router.get(
    "/{ticket_id}/updates",
    response={200: list[UpdateOut], **errors(401, 403, 404, 422)},
    summary="Updates and what fired",
)
def list_updates(request: HttpRequest, ticket_id: int) -> list[dict[str, Any]]:
    ticket = access_ticket_by_id(_agent_only(request), ticket_id)
    return [
        {
            "id": u.pk,
            "created_at": u.created_at,
            "cause": u.cause_kind,
            "actor": u.actor.email if u.actor else None,
            "ruleset_version": u.ruleset_version,
            "automation": u.automation,
        }
        for u in TicketUpdate.objects.filter(ticket=ticket).select_related("actor")
    ]


@router.get(
    "/{ticket_id}/explanation",
    response={200: dict[str, Any], **errors(401, 403, 404, 422)},
    summary="Why the rules did what they did",
)
def explanation(
    request: HttpRequest, ticket_id: int, update: int | None = None, full: bool = False
) -> dict[str, Any]:
    """Why the rules did what they did on one update (default: the latest one automation ran
    on): the rules that fired, what they changed, conflicts and how the cascade ended, and of the
    other rules the closest misses (trigger matched, conditions did not: the deciding condition),
    every rule counted by outcome in `counts`. `full=true` lists every rule with its whole
    condition tree (large with a large rule set)."""
    ticket = access_ticket_by_id(_agent_only(request), ticket_id)
    qs = TicketUpdate.objects.filter(ticket=ticket, ruleset_version__isnull=False)
    row = qs.filter(pk=update).first() if update is not None else qs.order_by("-id").first()
    if row is None:
        raise NotFound(
            "no update of this ticket was evaluated by rules"
            if update is None
            else f"update {update} of ticket {ticket_id} not found or not evaluated"
        )
    return explain_update(row, full=full)
