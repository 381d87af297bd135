"""One customer, one history: identities, merge suggestions, customer merges and ticket merges
(docs/customers.md).

Agents read and write all of it. A customer may list its own identities, add unverified ones and
remove its secondary ones; a clash with another customer's identity is named to agents only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from flowdesk.accounts import identities as ids
from flowdesk.accounts import merge as customer_merge
from flowdesk.accounts import selectors
from flowdesk.accounts.models import CustomerMerge, MergeSuggestion, User
from flowdesk.api.auth import current_token, current_user, require_agent
from flowdesk.api.people import WriteIn
from flowdesk.api.schemas import BODY_ERRORS, RequestIn, errors
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, Forbidden, ValidationFailed
from flowdesk.tickets import merge as ticket_merge
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.models import TicketMerge
from flowdesk.tickets.selectors import access_ticket_by_id

router = Router(tags=["customers"])

KindT = Literal["email", "phone", "chat", "site_user"]


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    verified: bool
    primary: bool
    created_at: datetime
    bounced_at: datetime | None = Field(
        None, description="e-mail: when a delivery report last named this address"
    )
    bounce_count: int = Field(0, description="e-mail: delivery reports naming this address")


class IdentityIn(WriteIn):
    kind: KindT
    value: str = Field(max_length=300)
    verified: bool = Field(False, description="agents only: the customer proved it")


class CustomerRef(Schema):
    id: int
    email: str
    name: str


class SuggestionOut(Schema):
    id: int
    customers: list[CustomerRef]
    reason: str
    created_at: datetime
    dismissed_at: datetime | None


class SuggestionFilters(RequestIn):
    customer: int | None = Field(None, description="only suggestions naming this customer")
    dismissed: bool = False


class MergeIn(WriteIn):
    into: int = Field(description="the id of the survivor")


class CustomerMergeOut(Schema):
    id: int
    source: int
    target: int
    tickets: list[int]
    messages: list[int]
    identities: list[int]
    created_at: datetime
    undone_at: datetime | None


class TicketMergeOut(Schema):
    id: int
    source: int
    target: int
    messages: list[int]
    created_at: datetime
    undone_at: datetime | None


def suggestion_out(s: MergeSuggestion) -> dict[str, Any]:
    return {
        "id": s.pk,
        "customers": [{"id": u.pk, "email": u.email, "name": u.name} for u in (s.first, s.second)],
        "reason": s.reason,
        "created_at": s.created_at,
        "dismissed_at": s.dismissed_at,
    }


def customer_merge_out(m: CustomerMerge) -> dict[str, Any]:
    moved = m.moved
    return {
        "id": m.pk,
        "source": m.source_id,
        "target": m.target_id,
        "tickets": moved["tickets"],
        "messages": sorted(pk for v in moved["messages"].values() for pk in v),
        "identities": moved["identities"],
        "created_at": m.created_at,
        "undone_at": m.undone_at,
    }


def ticket_merge_out(m: TicketMerge) -> dict[str, Any]:
    return {
        "id": m.pk,
        "source": m.source_id,
        "target": m.target_id,
        "messages": m.moved["messages"],
        "created_at": m.created_at,
        "undone_at": m.undone_at,
    }


def _live_customer(user: User, customer_id: int) -> User:
    """A customer whose identities may be read or written by ``user``: agents any live one, a
    customer itself. A tombstone has none; its survivor does."""
    if user.is_agent:
        customer = selectors.access_customer_by_id(user, customer_id)
    elif user.pk == customer_id:
        customer = user
    else:
        raise Forbidden("customers read and change only their own identities")
    if customer.merged_into_id is not None:
        survivor = ids.survivor(customer)
        raise ValidationFailed(
            [FieldError("customer", f"customer {customer_id} was merged into {survivor.pk}")]
        )
    return customer


def _cause(request: HttpRequest) -> Cause:
    token = current_token(request)
    return Cause.for_user(token.user, token)


# --- identities ------------------------------------------------------------------------------


@router.get(
    "customers/{customer_id}/identities",
    response={200: list[IdentityOut], **errors(401, 403, 404, 422)},
    summary="A customer's identities (agents; a customer: its own)",
)
def list_identities(request: HttpRequest, customer_id: int) -> list[dict[str, Any]]:
    customer = _live_customer(current_user(request), customer_id)
    return [ids.identity_fields(i) for i in customer.identities.all()]


@router.post(
    "customers/{customer_id}/identities",
    response={201: IdentityOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Add an identity (agents; a customer: an unverified one of its own)",
)
def add_identity(request: HttpRequest, customer_id: int, payload: IdentityIn) -> Status[Any]:
    user = current_user(request)
    customer = _live_customer(user, customer_id)
    if payload.verified and not user.is_agent:
        raise Forbidden("only agents verify identities")
    row = ids.check_add_identity(
        customer,
        kind=payload.kind,
        value=payload.value,
        verified=payload.verified,
        caller=ids.Caller(is_agent=user.is_agent),
    )
    return Status(201, ids.identity_fields(row))


@router.post(
    "customers/{customer_id}/identities/{identity_id}/verify",
    response={200: IdentityOut, **errors(401, 403, 404, 422)},
    summary="Mark an identity verified (agents)",
)
def verify_identity(request: HttpRequest, customer_id: int, identity_id: int) -> dict[str, Any]:
    customer = _live_customer(require_agent(request), customer_id)
    return ids.identity_fields(ids.check_verify_identity(customer, identity_id))


@router.post(
    "customers/{customer_id}/identities/{identity_id}/primary",
    response={200: IdentityOut, **errors(401, 403, 404, 422)},
    summary="Make an identity the primary of its kind (agents; a primary e-mail is the sign-in)",
)
def make_primary(request: HttpRequest, customer_id: int, identity_id: int) -> dict[str, Any]:
    customer = _live_customer(require_agent(request), customer_id)
    return ids.identity_fields(ids.check_make_primary(customer, identity_id))


@router.delete(
    "customers/{customer_id}/identities/{identity_id}",
    response={204: None, **errors(401, 403, 404, 409, 422)},
    summary="Remove an identity (not the primary e-mail)",
)
def remove_identity(request: HttpRequest, customer_id: int, identity_id: int) -> Status[None]:
    user = current_user(request)
    customer = _live_customer(user, customer_id)
    if not user.is_agent and ids.access_identity(customer, identity_id).primary:
        raise Forbidden("an agent removes a primary identity")
    ids.check_remove_identity(customer, identity_id)
    return Status(204, None)


# --- suggestions -----------------------------------------------------------------------------


@router.get(
    "customers/merge-suggestions",
    response={200: list[SuggestionOut], **errors(401, 403, 422)},
    summary="Customers who may be one person (agents)",
)
def list_suggestions(
    request: HttpRequest, filters: Query[SuggestionFilters]
) -> list[dict[str, Any]]:
    user = require_agent(request)
    customer = selectors.access_customer_by_id(user, filters.customer) if filters.customer else None
    qs = ids.suggestions_for(customer, dismissed=filters.dismissed)
    return [suggestion_out(s) for s in qs[:200]]


@router.post(
    "customers/merge-suggestions/{suggestion_id}/dismiss",
    response={200: SuggestionOut, **errors(401, 403, 404, 422)},
    summary="Dismiss a merge suggestion (agents): it is not suggested again",
)
def dismiss_suggestion(request: HttpRequest, suggestion_id: int) -> dict[str, Any]:
    return suggestion_out(ids.do_dismiss_suggestion(suggestion_id, require_agent(request)))


# --- merges ----------------------------------------------------------------------------------


@router.post(
    "customers/{customer_id}/merge",
    response={200: CustomerMergeOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Merge this customer into another (agents): one transaction, undoable",
)
def merge_customer(request: HttpRequest, customer_id: int, payload: MergeIn) -> dict[str, Any]:
    user = require_agent(request)
    selectors.access_customer_by_id(user, customer_id)
    merge = customer_merge.check_merge_customers(
        customer_id, payload.into, actor=user, now=utcnow()
    )
    return customer_merge_out(merge)


@router.post(
    "customers/{customer_id}/unmerge",
    response={200: CustomerMergeOut, **errors(401, 403, 404, 409, 422)},
    summary="Undo this customer's merge exactly, or refuse with the reason (agents)",
)
def unmerge_customer(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    user = require_agent(request)
    merge = customer_merge.check_unmerge_customer(customer_id, actor=user, now=utcnow())
    return customer_merge_out(merge)


@router.post(
    "tickets/{ticket_id}/merge",
    response={200: TicketMergeOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Merge this ticket into another of its requester (agents): undoable",
)
def merge_ticket(request: HttpRequest, ticket_id: int, payload: MergeIn) -> dict[str, Any]:
    user = require_agent(request)
    access_ticket_by_id(user, ticket_id)
    access_ticket_by_id(user, payload.into)
    merge = ticket_merge.check_merge_tickets(
        ticket_id, payload.into, cause=_cause(request), now=utcnow()
    )
    return ticket_merge_out(merge)


@router.post(
    "tickets/{ticket_id}/unmerge",
    response={200: TicketMergeOut, **errors(401, 403, 404, 409, 422)},
    summary="Undo this ticket's merge exactly, or refuse with the reason (agents)",
)
def unmerge_ticket(request: HttpRequest, ticket_id: int) -> dict[str, Any]:
    user = require_agent(request)
    access_ticket_by_id(user, ticket_id)
    merge = ticket_merge.check_unmerge_ticket(ticket_id, cause=_cause(request), now=utcnow())
    return ticket_merge_out(merge)
