"""Webhook endpoints (admins): where rules may send, and the secrets that sign every call.

A secret is in the answer of the call that issues it (create, rotate) and never again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.api.auth import require_admin
from flowdesk.api.schemas import BODY_ERRORS, RequestIn, errors
from flowdesk.automation.models import WebhookEndpoint, WebhookSecret
from flowdesk.outbox import webhooks as svc


class EndpointCreate(RequestIn):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description="What rules name: webhook {endpoint: NAME}")
    url: str = Field(max_length=2000, description="http(s) URL called (or the base URL)")
    prefix: bool = Field(
        False, description="true: every URL under url belongs to this endpoint (rules' url)"
    )
    allow_private: bool = Field(
        False, description="true: its host may be or resolve to a private address"
    )


class SecretOut(Schema):
    id: int
    created_at: datetime
    retired_at: datetime | None


class EndpointOut(Schema):
    id: int
    name: str
    url: str
    prefix: bool
    allow_private: bool
    created_at: datetime
    secrets: list[SecretOut] = Field(description="Newest first; the values are never shown here")


class IssuedOut(EndpointOut):
    secret: str = Field(description="The new secret: shown this once, store it now")
    secret_id: int


class EndpointPage(Schema):
    count: int
    items: list[EndpointOut]


def endpoint_out(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "url": row.url,
        "prefix": row.prefix,
        "allow_private": row.allow_private,
        "created_at": row.created_at,
        "secrets": [
            {"id": s.pk, "created_at": s.created_at, "retired_at": s.retired_at}
            for s in row.secrets.order_by("-created_at", "-id")
        ],
    }


def issued_out(row: WebhookEndpoint, secret: WebhookSecret) -> dict[str, Any]:
    return {**endpoint_out(row), "secret": secret.secret, "secret_id": secret.pk}


router = Router(tags=["webhooks"])


@router.get("", response={200: EndpointPage, **errors(401, 403)}, summary="Webhook endpoints")
def list_endpoints(request: HttpRequest) -> dict[str, Any]:
    require_admin(request)
    rows = list(WebhookEndpoint.objects.order_by("name"))
    return {"count": len(rows), "items": [endpoint_out(r) for r in rows]}


@router.post(
    "",
    response={201: IssuedOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Register a webhook endpoint; answers its first secret (shown once)",
)
def create_endpoint(request: HttpRequest, payload: EndpointCreate) -> Status[Any]:
    admin = require_admin(request)
    row, secret = svc.check_create_endpoint(
        name=payload.name,
        url=payload.url,
        prefix=payload.prefix,
        allow_private=payload.allow_private,
        author=admin,
    )
    return Status(201, issued_out(row, secret))


@router.post(
    "/{endpoint_id}/rotate",
    response={201: IssuedOut, **errors(401, 403, 404, 409, 422)},
    summary="Issue a new secret; both sign until the older one is retired",
)
def rotate_secret(request: HttpRequest, endpoint_id: int) -> Status[Any]:
    require_admin(request)
    row = svc.access_endpoint(endpoint_id)
    return Status(201, issued_out(row, svc.check_rotate_secret(row)))


@router.post(
    "/{endpoint_id}/secrets/{secret_id}/retire",
    response={200: EndpointOut, **errors(401, 403, 404, 409, 422)},
    summary="Retire a secret: it never signs again",
)
def retire_secret(request: HttpRequest, endpoint_id: int, secret_id: int) -> dict[str, Any]:
    require_admin(request)
    row = svc.access_endpoint(endpoint_id)
    svc.check_retire_secret(row, secret_id)
    return endpoint_out(row)
