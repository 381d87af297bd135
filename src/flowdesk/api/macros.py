"""Macros: canned replies and field changes (docs/macros.md).

Admins write; agents read the active macros visible to them (everyone's, their teams', their
own) and preview or apply them on the tickets they can access; customers get 403. A macro is
addressed by its id or its name (case-insensitive; URL-encode the spaces).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.api.auth import current_token, current_user, require_admin
from flowdesk.api.schemas import BODY_ERRORS, RequestIn, TicketOut, errors
from flowdesk.api.tickets import ticket_out
from flowdesk.core.clock import utcnow
from flowdesk.macros import services
from flowdesk.macros.definition import MacroDef, ReplyDef, definition_of
from flowdesk.macros.models import Macro
from flowdesk.tickets.cause import Cause

router = Router(tags=["macros"])
ticket_router = Router(tags=["macros"])

EXAMPLE: dict[str, Any] = {
    "name": "Ask for order number",
    "description": "The customer did not say which order",
    "visibility": "team",
    "team": "Billing",
    "reply": {
        "body": 'Hi {{ requester.name | default("there") }}, which order is this about?',
        "public": True,
    },
    "changes": {"status": "pending", "add_tags": ["awaiting-order-number"]},
}


class MacroIn(MacroDef, RequestIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})


class MacroOut(Schema):
    id: int
    name: str
    description: str
    active: bool
    visibility: str = Field(description="everyone, team (of `team`) or personal (of `owner`)")
    team: str | None
    owner: str | None
    position: int
    reply: ReplyDef | None
    changes: dict[str, Any] = Field(
        description="only the fields the macro sets (the keys of the request's `changes`)"
    )
    usage_count: int = Field(description="updates it made")
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime


class MacroPage(Schema):
    count: int
    items: list[MacroOut]


class ApplyIn(RequestIn):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expected_version": 3}]}
    )
    expected_version: int = Field(description="the ticket's version the agent saw; stale: 409")


class PreviewOut(Schema):
    macro: str
    ticket_id: int
    version: int = Field(description="send it as `expected_version` to apply what you saw")
    body: str | None = Field(description="the message with its placeholders filled")
    public: bool
    changes: list[dict[str, Any]] = Field(
        description='{"field", "from", "to"} for each field that would change'
    )


class AppliedOut(Schema):
    macro: str
    usage_count: int
    ticket: TicketOut
    body: str | None
    public: bool
    changes: list[dict[str, Any]]


def macro_out(row: Macro) -> dict[str, Any]:
    return {
        **definition_of(row),
        "id": row.pk,
        "usage_count": row.usage_count,
        "created_by": row.created_by.email if row.created_by else None,
        "updated_by": row.updated_by.email if row.updated_by else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _definition(payload: MacroIn) -> MacroDef:
    return MacroDef.model_validate(payload.model_dump(exclude_unset=True))


@router.get("", response={200: MacroPage, **errors(401, 403)}, summary="The macros you can use")
def list_macros(request: HttpRequest) -> dict[str, Any]:
    rows = services.macros_for(current_user(request)).order_by("position", "name")
    items = [macro_out(m) for m in rows]
    return {"count": len(items), "items": items}


@router.post(
    "",
    response={201: MacroOut, **errors(401, 403, *BODY_ERRORS)},
    summary="Create a macro (admins)",
)
def create_macro(request: HttpRequest, payload: MacroIn) -> Status[Any]:
    actor = require_admin(request)
    row = services.check_create_macro(_definition(payload), actor=actor, now=utcnow())
    return Status(201, macro_out(row))


@router.get(
    "/{ref}",
    response={200: MacroOut, **errors(401, 403, 404, 422)},
    summary="One macro, by id or name",
)
def get_macro(request: HttpRequest, ref: str) -> dict[str, Any]:
    return macro_out(services.access_macro(current_user(request), ref))


@router.put(
    "/{ref}",
    response={200: MacroOut, **errors(401, 403, 404, *BODY_ERRORS)},
    summary="Replace a macro's definition (admins; its usage count is kept)",
)
def replace_macro(request: HttpRequest, ref: str, payload: MacroIn) -> dict[str, Any]:
    actor = require_admin(request)
    row = services.access_macro(actor, ref)
    row = services.check_update_macro(row, _definition(payload), actor=actor, now=utcnow())
    return macro_out(row)


@router.delete(
    "/{ref}",
    response={204: None, **errors(401, 403, 404, 422)},
    summary="Delete a macro (admins)",
)
def delete_macro(request: HttpRequest, ref: str) -> Status[Any]:
    actor = require_admin(request)
    services.do_delete_macro(services.access_macro(actor, ref))
    return Status(204, None)


def _preview_out(p: services.Preview) -> dict[str, Any]:
    return {
        "macro": p.macro.name,
        "ticket_id": p.ticket.pk,
        "version": p.ticket.version,
        "body": p.body,
        "public": p.public,
        "changes": p.changes,
    }


@ticket_router.post(
    "/{ticket_id}/macros/{ref}/preview",
    response={200: PreviewOut, **errors(401, 403, 404, 422)},
    summary="What a macro would do to a ticket: the rendered message and the changes (writes "
    "nothing)",
)
def preview_macro(request: HttpRequest, ticket_id: int, ref: str) -> dict[str, Any]:
    return _preview_out(services.preview_macro(current_user(request), ticket_id, ref, utcnow()))


@ticket_router.post(
    "/{ticket_id}/macros/{ref}/apply",
    response={200: AppliedOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Apply a macro: its changes and message as one update (409 on a stale version)",
)
def apply_macro(request: HttpRequest, ticket_id: int, ref: str, payload: ApplyIn) -> dict[str, Any]:
    cause = Cause.for_user(current_user(request), current_token(request))
    p = services.check_apply_macro(
        cause, ticket_id, ref, expected_version=payload.expected_version, now=utcnow()
    )
    out = _preview_out(p)
    del out["ticket_id"], out["version"]
    return {**out, "usage_count": p.macro.usage_count, "ticket": ticket_out(p.ticket)}
