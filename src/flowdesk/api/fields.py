"""Custom-field definitions: list (agents), create, edit and delete (admins)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from flowdesk.api.auth import current_user, require_admin
from flowdesk.api.people import PageIn, PageOut, WriteIn, page
from flowdesk.api.schemas import BODY_ERRORS, errors
from flowdesk.tickets import fielddefs
from flowdesk.tickets.models import CustomFieldDef

KIND_HELP = "one of " + ", ".join(fielddefs.KINDS)


class FieldOut(Schema):
    id: int
    key: str
    label: str
    kind: str
    choices: list[str]


class FieldPage(PageOut):
    items: list[FieldOut]


class FieldCreate(WriteIn):
    key: str = Field(max_length=64, description="slug; rules address the field as custom.<key>")
    label: str = Field(max_length=200)
    kind: str = Field(max_length=16, description=KIND_HELP)
    choices: list[str] | None = Field(
        None, max_length=fielddefs.MAX_CHOICES, description="enum only: non-empty, unique"
    )


class FieldPatch(WriteIn):
    label: str | None = Field(None, max_length=200)
    choices: list[str] | None = Field(
        None,
        max_length=fielddefs.MAX_CHOICES,
        description="enum only; the full new list (a choice tickets use cannot be removed)",
    )
    key: str | None = Field(None, max_length=64, description="immutable: may only be echoed")
    kind: str | None = Field(None, max_length=16, description="immutable: may only be echoed")


def field_out(d: CustomFieldDef) -> dict[str, Any]:
    return {"id": d.pk, "key": d.key, "label": d.label, "kind": d.kind, "choices": d.choices}


router = Router(tags=["custom fields"])


@router.get(
    "",
    response={200: FieldPage, **errors(401, 403, 422)},
    summary="Custom-field definitions (agents)",
)
def list_fields(request: HttpRequest, filters: Query[PageIn]) -> dict[str, Any]:
    qs = fielddefs.field_defs_for(current_user(request), q=filters.q)
    return page(qs, filters, field_out)


@router.get(
    "/{field_id}",
    response={200: FieldOut, **errors(401, 403, 404, 422)},
    summary="One custom-field definition (agents)",
)
def get_field(request: HttpRequest, field_id: int) -> dict[str, Any]:
    return field_out(fielddefs.access_field_def_by_id(current_user(request), field_id))


@router.post(
    "",
    response={201: FieldOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Define a custom field (admins)",
)
def create_field(request: HttpRequest, payload: FieldCreate) -> Status[Any]:
    require_admin(request)
    defn = fielddefs.check_create_field_def(
        key=payload.key, label=payload.label, kind=payload.kind, choices=payload.choices
    )
    return Status(201, field_out(defn))


@router.patch(
    "/{field_id}",
    response={200: FieldOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Edit label or choices (admins)",
)
def update_field(request: HttpRequest, field_id: int, payload: FieldPatch) -> dict[str, Any]:
    defn = fielddefs.access_field_def_by_id(require_admin(request), field_id)
    updated = fielddefs.check_update_field_def(
        defn, label=payload.label, choices=payload.choices, key=payload.key, kind=payload.kind
    )
    return field_out(updated)


@router.delete(
    "/{field_id}",
    response={204: None, **errors(401, 403, 404, 409, 422)},
    summary="Delete an unused field (admins)",
)
def delete_field(request: HttpRequest, field_id: int) -> Status[Any]:
    fielddefs.check_delete_field_def(
        fielddefs.access_field_def_by_id(require_admin(request), field_id)
    )
    return Status(204, None)
