"""Chat sites over the REST API (admins): ``/api/chat/sites``. The identity secret is shown to
admins (their site's server needs it to compute identity hashes); ``rotate-secret`` replaces it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.api.auth import require_admin
from flowdesk.api.schemas import (
    ADMIN_LIST_ERRORS,
    ADMIN_READ_ERRORS,
    ADMIN_WRITE_ERRORS,
    RequestIn,
)
from flowdesk.chat import sites as svc
from flowdesk.chat.models import ChatSite


class ChatSiteIn(RequestIn):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description="letters, digits, - and _")
    allowed_origins: list[str] = Field(
        default_factory=list, description="origins that may embed the widget (CORS)"
    )
    team: str | None = Field(None, description="team name: new chats go to it")
    greeting: str = Field("Hi! How can we help?", max_length=500)
    offline_text: str = Field(
        "We are away right now. Leave a message and we will answer by e-mail.", max_length=500
    )
    name_required: bool = False
    email_required: bool = False
    active: bool = True


class ChatSitePatch(RequestIn):
    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[str] | None = None
    team: str | None = None
    greeting: str | None = Field(None, max_length=500)
    offline_text: str | None = Field(None, max_length=500)
    name_required: bool | None = None
    email_required: bool | None = None
    active: bool | None = None


class ChatSiteOut(Schema):
    id: int
    name: str
    public_key: str = Field(description="the widget's data-site")
    identity_secret: str = Field(description="HMAC-SHA256 key of identity hashes")
    allowed_origins: list[str]
    team: str | None
    greeting: str
    offline_text: str
    name_required: bool
    email_required: bool
    active: bool
    created_at: datetime
    embed: str = Field(description="the <script> tag to paste (the server's own address)")


def site_out(request: HttpRequest, s: ChatSite) -> dict[str, Any]:
    src = request.build_absolute_uri("/static/chat/widget.js")
    return {
        **{f: getattr(s, f) for f in svc.FIELDS if f != "team"},
        "id": s.pk,
        "public_key": s.public_key,
        "identity_secret": s.identity_secret,
        "team": s.team.name if s.team else None,
        "created_at": s.created_at,
        "embed": f'<script src="{src}" data-site="{s.public_key}" async></script>',
    }


router = Router(tags=["chat"])
_LIST, _READ, _WRITE = ADMIN_LIST_ERRORS, ADMIN_READ_ERRORS, ADMIN_WRITE_ERRORS


@router.get("", response={200: list[ChatSiteOut], **_LIST}, summary="Chat sites")
def list_sites(request: HttpRequest) -> list[dict[str, Any]]:
    require_admin(request)
    return [site_out(request, s) for s in ChatSite.objects.select_related("team").order_by("name")]


@router.post("", response={201: ChatSiteOut, **_WRITE}, summary="Add a chat site")
def create_site(request: HttpRequest, payload: ChatSiteIn) -> Status[Any]:
    require_admin(request)
    return Status(201, site_out(request, svc.check_create_site(payload.model_dump())))


@router.get("/{name}", response={200: ChatSiteOut, **_READ}, summary="One chat site")
def get_site(request: HttpRequest, name: str) -> dict[str, Any]:
    require_admin(request)
    return site_out(request, svc.site_by_name(name))


@router.patch("/{name}", response={200: ChatSiteOut, **_WRITE}, summary="Change a chat site")
def update_site(request: HttpRequest, name: str, payload: ChatSitePatch) -> dict[str, Any]:
    require_admin(request)
    values = payload.model_dump(exclude_unset=True)
    return site_out(request, svc.check_update_site(svc.site_by_name(name), values))


@router.post(
    "/{name}/rotate-secret",
    response={200: ChatSiteOut, **_WRITE},
    summary="Replace a chat site's identity secret",
)
def rotate_secret(request: HttpRequest, name: str) -> dict[str, Any]:
    require_admin(request)
    return site_out(request, svc.do_rotate_secret(svc.site_by_name(name)))


@router.delete("/{name}", response={204: None, **_WRITE}, summary="Remove a chat site")
def delete_site(request: HttpRequest, name: str) -> Status[None]:
    require_admin(request)
    svc.check_delete_site(svc.site_by_name(name))
    return Status(204, None)
