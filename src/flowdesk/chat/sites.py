"""Chat site writers (API, CLI, admin): validated here, every problem named by its field."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from flowdesk.accounts.models import Team
from flowdesk.chat.models import ChatSite, new_secret
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed

FIELDS = [
    "name",
    "allowed_origins",
    "team",
    "greeting",
    "offline_text",
    "name_required",
    "email_required",
    "active",
]
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def site_by_name(name: str) -> ChatSite:
    site = ChatSite.objects.select_related("team").filter(name=name).first()
    if site is None:
        raise NotFound(f"no chat site named {name!r}")
    return site


def clean_origin(value: Any) -> str | None:
    """``https://shop.example`` (scheme, host, optional port; no path), or None if it is not."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _check(data: dict[str, Any]) -> None:
    errors: list[FieldError] = []
    name = data.get("name")
    if not isinstance(name, str) or not name or not set(name) <= NAME_CHARS or len(name) > 64:
        errors.append(FieldError("name", f"{name!r} is not a name (letters, digits, - and _)"))
    origins = data.get("allowed_origins")
    if not isinstance(origins, list):
        errors.append(FieldError("allowed_origins", "must be a list of origins"))
    else:
        cleaned = []
        for n, origin in enumerate(origins):
            ok = clean_origin(origin)
            if ok is None:
                errors.append(
                    FieldError(
                        f"allowed_origins[{n}]",
                        f"{origin!r} is not an origin (https://shop.example, no path)",
                    )
                )
            cleaned.append(ok)
        data["allowed_origins"] = sorted({o for o in cleaned if o})
    for key in ("greeting", "offline_text"):
        text = data.get(key)
        if not isinstance(text, str) or len(text) > 500:
            errors.append(FieldError(key, "must be a text of at most 500 characters"))
    team = data.get("team")
    if isinstance(team, str):
        found = Team.objects.filter(name=team).first()
        if found is None:
            errors.append(FieldError("team", f"no team named {team!r}"))
        data["team"] = found
    elif team is not None and not isinstance(team, Team):
        errors.append(FieldError("team", "must be a team name"))
    if errors:
        raise ValidationFailed(errors)


def _defaults() -> dict[str, Any]:
    site = ChatSite()
    return {f: getattr(site, f) for f in FIELDS if f != "team"} | {"team": None}


def _write(site: ChatSite, data: dict[str, Any], fields: list[str]) -> ChatSite:
    for key in fields:
        setattr(site, key, data[key])
    try:
        with transaction.atomic():
            if site.pk is None:
                site.save()
            else:
                site.save(update_fields=fields)
    except IntegrityError as exc:
        raise Conflict(f"a chat site named {site.name!r} exists already") from exc
    return site


def check_create_site(values: dict[str, Any]) -> ChatSite:
    data = _defaults() | {k: v for k, v in values.items() if k in FIELDS}
    _check(data)
    if ChatSite.objects.filter(name=data["name"]).exists():
        raise Conflict(f"a chat site named {data['name']!r} exists already")
    return _write(ChatSite(), data, FIELDS)


def check_update_site(site: ChatSite, values: dict[str, Any]) -> ChatSite:
    """Change the sent keys (not the name); all or nothing."""
    if "name" in values and values["name"] != site.name:
        raise ValidationFailed([FieldError("name", "a chat site keeps its name")])
    current = {f: getattr(site, f) for f in FIELDS}
    data = current | {k: v for k, v in values.items() if k in FIELDS}
    _check(data)
    changed = [f for f in FIELDS if data[f] != current[f]]
    return _write(site, data, changed) if changed else site


def do_rotate_secret(site: ChatSite) -> ChatSite:
    """A new identity secret: hashes made with the old one stop being accepted at once."""
    site.identity_secret = new_secret()
    site.save(update_fields=["identity_secret"])
    return site


def check_delete_site(site: ChatSite) -> None:
    if site.conversations.exists():
        raise Conflict(
            f"chat site {site.name!r} has conversations: deactivate it (active: false) instead"
        )
    site.delete()
