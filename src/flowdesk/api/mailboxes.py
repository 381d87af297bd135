"""Mailboxes (admins): where mail comes in, and what came in (parked mails, retries).

Passwords are write-only: accepted on create and update, never answered (``has_password``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

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
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import NotFound
from flowdesk.mail import services as svc
from flowdesk.mail.models import InboundMail, InboundStatus, Mailbox

Kind = Literal["imap", "lmtp"]
Tls = Literal["ssl", "starttls", "none"]


class MailboxIn(RequestIn):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description="letters, digits, - and _")
    kind: Kind
    active: bool = True
    host: str = Field("", max_length=255, description="IMAP server")
    port: int | None = Field(None, description="default 993 (ssl) or 143")
    tls: Tls = "ssl"
    username: str = Field("", max_length=255)
    password: str = Field("", max_length=1000, description="stored; never shown again")
    folder: str = Field("INBOX", max_length=255)
    move_to: str = Field("", max_length=255, description='after import; "" = flag \\Seen')
    poll_seconds: int = 60
    batch: int = Field(200, description="mails fetched per round")
    listen: str = Field("", max_length=255, description="LMTP receiver: host:port")
    team: str | None = Field(None, description="team name: new tickets go to it")
    calendar: str | None = Field(None, description="calendar name")
    addresses: list[str] = Field(description="the addresses it receives for (Reply-To)")


class MailboxPatch(RequestIn):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    host: str | None = Field(None, max_length=255)
    port: int | None = None
    tls: Tls | None = None
    username: str | None = Field(None, max_length=255)
    password: str | None = Field(None, max_length=1000)
    folder: str | None = Field(None, max_length=255)
    move_to: str | None = Field(None, max_length=255)
    poll_seconds: int | None = None
    batch: int | None = None
    listen: str | None = Field(None, max_length=255)
    team: str | None = None
    calendar: str | None = None
    addresses: list[str] | None = None


class MailboxOut(Schema):
    id: int
    name: str
    kind: str
    active: bool
    host: str
    port: int | None
    tls: str
    username: str
    has_password: bool
    folder: str
    move_to: str
    poll_seconds: int
    batch: int
    listen: str
    team: str | None
    calendar: str | None
    addresses: list[str]
    uidvalidity: int | None
    last_uid: int
    last_polled_at: datetime | None
    last_error: str
    counts: dict[str, int] = Field(description="stored mails by status")


class InboundOut(Schema):
    id: int
    mailbox: str
    uid: int | None
    status: str
    error: str
    attempts: int
    received_at: datetime
    next_attempt_at: datetime
    size: int
    message_id: str
    ticket_id: int | None


class InboundPage(Schema):
    count: int
    items: list[InboundOut]


def mailbox_out(m: Mailbox) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for status in InboundMail.objects.filter(mailbox=m).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return {
        **{f: getattr(m, f) for f in svc.FIELDS if f not in ("team", "calendar", "password")},
        "id": m.pk,
        "has_password": bool(m.password),
        "team": m.team.name if m.team else None,
        "calendar": m.calendar.name if m.calendar else None,
        "uidvalidity": m.uidvalidity,
        "last_uid": m.last_uid,
        "last_polled_at": m.last_polled_at,
        "last_error": m.last_error,
        "counts": counts,
    }


def inbound_out(row: InboundMail) -> dict[str, Any]:
    return {
        "id": row.pk,
        "mailbox": row.mailbox.name,
        "uid": row.uid,
        "status": row.status,
        "error": row.error,
        "attempts": row.attempts,
        "received_at": row.received_at,
        "next_attempt_at": row.next_attempt_at,
        "size": row.size,
        "message_id": row.message_id,
        "ticket_id": row.ticket_id,
    }


router = Router(tags=["mailboxes"])
_LIST, _READ, _WRITE = ADMIN_LIST_ERRORS, ADMIN_READ_ERRORS, ADMIN_WRITE_ERRORS


@router.get("", response={200: list[MailboxOut], **_LIST}, summary="Mailboxes")
def list_mailboxes(request: HttpRequest) -> list[dict[str, Any]]:
    require_admin(request)
    return [mailbox_out(m) for m in Mailbox.objects.select_related("team", "calendar")]


@router.post("", response={201: MailboxOut, **_WRITE}, summary="Add a mailbox")
def create_mailbox(request: HttpRequest, payload: MailboxIn) -> Status[Any]:
    require_admin(request)
    return Status(201, mailbox_out(svc.check_create_mailbox(payload.model_dump())))


@router.get(
    "/inbound",
    response={200: InboundPage, **_READ},
    summary="Stored mails (filter: status=parked to see what could not be processed)",
)
def list_inbound(
    request: HttpRequest,
    status: Literal["new", "parsed", "parked", "ignored", "duplicate", "bounce"] | None = None,
    mailbox: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    require_admin(request)
    qs = InboundMail.objects.select_related("mailbox").defer("raw").order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if mailbox:
        qs = qs.filter(mailbox__name=mailbox)
    items = list(qs[: max(1, min(limit, 200))])
    return {"count": qs.count(), "items": [inbound_out(r) for r in items]}


@router.post(
    "/inbound/{inbound_id}/retry",
    response={200: InboundOut, **_WRITE},
    summary="Retry a parked mail now",
)
def retry_inbound(request: HttpRequest, inbound_id: int) -> dict[str, Any]:
    require_admin(request)
    row = InboundMail.objects.select_related("mailbox").filter(pk=inbound_id).first()
    if row is None:
        raise NotFound(f"no stored mail {inbound_id}")
    if row.status == InboundStatus.PARKED:
        InboundMail.objects.filter(pk=row.pk).update(next_attempt_at=utcnow(), attempts=0)
        row.refresh_from_db()
    return inbound_out(row)


@router.get("/{name}", response={200: MailboxOut, **_READ}, summary="One mailbox")
def get_mailbox(request: HttpRequest, name: str) -> dict[str, Any]:
    require_admin(request)
    return mailbox_out(svc.mailbox_by_name(name))


@router.patch("/{name}", response={200: MailboxOut, **_WRITE}, summary="Change a mailbox")
def update_mailbox(request: HttpRequest, name: str, payload: MailboxPatch) -> dict[str, Any]:
    require_admin(request)
    values = payload.model_dump(exclude_unset=True)
    return mailbox_out(svc.check_update_mailbox(svc.mailbox_by_name(name), values))


@router.delete("/{name}", response={204: None, **_WRITE}, summary="Remove a mailbox")
def delete_mailbox(request: HttpRequest, name: str) -> Status[None]:
    require_admin(request)
    svc.check_delete_mailbox(svc.mailbox_by_name(name))
    return Status(204, None)
