"""Mailbox writers (API, CLI, admin): validated here, every problem named by its field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction

from flowdesk.accounts.models import Team
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.mail.lmtp import parse_listen
from flowdesk.mail.models import InboundMail, Mailbox, MailboxKind, TlsMode
from flowdesk.sla.models import Calendar

FIELDS = [
    "name",
    "kind",
    "active",
    "host",
    "port",
    "tls",
    "username",
    "password",
    "folder",
    "move_to",
    "poll_seconds",
    "batch",
    "listen",
    "team",
    "calendar",
    "addresses",
]


def _check(data: dict[str, Any], errors: list[FieldError]) -> None:
    kind = data.get("kind")
    if kind not in MailboxKind.values:
        errors.append(FieldError("kind", f"must be one of {', '.join(MailboxKind.values)}"))
    if data.get("tls") not in TlsMode.values:
        errors.append(FieldError("tls", f"must be one of {', '.join(TlsMode.values)}"))
    if kind == MailboxKind.IMAP:
        for name in ("host", "username", "password"):
            if not str(data.get(name) or "").strip():
                errors.append(FieldError(name, "required for an IMAP mailbox"))
        if not str(data.get("folder") or "").strip():
            errors.append(FieldError("folder", "must not be blank"))
    if kind == MailboxKind.LMTP:
        try:
            parse_listen(str(data.get("listen") or ""))
        except ValueError:
            errors.append(
                FieldError("listen", "required for an LMTP mailbox, as host:port (port 1-65535)")
            )
    port = data.get("port")
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        errors.append(FieldError("port", "must be a port number (1-65535)"))
    for name, low, high in (("poll_seconds", 1, 86400), ("batch", 1, 10000)):
        value = data.get(name)
        if not (isinstance(value, int) and low <= value <= high):
            errors.append(FieldError(name, f"must be a whole number from {low} to {high}"))
    addresses = data.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        errors.append(FieldError("addresses", "at least one address this mailbox receives for"))
    else:
        for n, address in enumerate(addresses):
            try:
                validate_email(str(address))
            except DjangoValidationError:
                errors.append(
                    FieldError(f"addresses[{n}]", f"{address!r} is not an e-mail address")
                )
        data["addresses"] = [str(a).strip().lower() for a in addresses]


def _resolve(data: dict[str, Any], errors: list[FieldError]) -> None:
    """Team and calendar by name."""
    for key, model in (("team", Team), ("calendar", Calendar)):
        name = data.get(key)
        if isinstance(name, str):
            found = model.objects.filter(name=name).first()
            if found is None:
                errors.append(FieldError(key, f"no {key} named {name!r}"))
            data[key] = found


def _defaults() -> dict[str, Any]:
    m = Mailbox()
    return {f: getattr(m, f if f not in ("team", "calendar") else f + "_id") for f in FIELDS}


def check_create_mailbox(values: Mapping[str, Any]) -> Mailbox:
    data = {**_defaults(), **{k: v for k, v in values.items() if v is not None}}
    data["team"], data["calendar"] = values.get("team"), values.get("calendar")
    errors: list[FieldError] = []
    name = str(data.get("name") or "").strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        errors.append(FieldError("name", "letters, digits, - and _ only"))
    elif Mailbox.objects.filter(name=name).exists():
        errors.append(FieldError("name", f"a mailbox named {name!r} exists"))
    _check(data, errors)
    _resolve(data, errors)
    if errors:
        raise ValidationFailed(errors)
    mailbox = Mailbox(**{f: data[f] for f in FIELDS})
    mailbox.save()
    return mailbox


def check_update_mailbox(mailbox: Mailbox, values: Mapping[str, Any]) -> Mailbox:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValidationFailed([FieldError(u, "unknown field") for u in unknown])
    data = {f: getattr(mailbox, f) for f in FIELDS}
    data.update(values)
    errors: list[FieldError] = []
    if "name" in values and values["name"] != mailbox.name:
        errors.append(FieldError("name", "cannot be changed (rules and tags name it)"))
    _check(data, errors)
    _resolve(data, errors)
    if errors:
        raise ValidationFailed(errors)
    changed = [f for f in FIELDS if f in values]
    for f in changed:
        setattr(mailbox, f, data[f])
    if {"host", "username", "folder"} & set(changed):  # another folder: start its sync anew
        mailbox.uidvalidity, mailbox.last_uid = None, 0
        changed += ["uidvalidity", "last_uid"]
    if changed:
        mailbox.save(update_fields=changed)
    return mailbox


def check_delete_mailbox(mailbox: Mailbox) -> None:
    with transaction.atomic():
        if InboundMail.objects.filter(mailbox=mailbox).exists():
            raise Conflict(
                f"mailbox {mailbox.name} has received mails: deactivate it (active: false) "
                "instead, so their history stays"
            )
        mailbox.delete()


def mailbox_by_name(name: str) -> Mailbox:
    found = Mailbox.objects.filter(name=name).first()
    if found is None:
        raise NotFound(f"no mailbox named {name!r}")
    return found
