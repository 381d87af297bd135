"""Writers for accounts. Like every service module: no permission checks here, callers do those."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from flowdesk.accounts.models import ApiToken, Organization, Role, Team, User, hash_token


def do_create_organization(name: str, attributes: dict[str, Any] | None = None) -> Organization:
    return Organization.objects.create(name=name, attributes=attributes or {})


def do_create_user(
    email: str,
    *,
    name: str = "",
    role: str = Role.CUSTOMER,
    organization: Organization | None = None,
    attributes: dict[str, Any] | None = None,
    password: str | None = None,
) -> User:
    return User.objects.create_user(
        email,
        password,
        name=name,
        role=role,
        organization=organization,
        attributes=attributes or {},
        is_staff=role == Role.ADMIN,
    )


def do_create_team(name: str, members: Iterable[User] = (), description: str = "") -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name, description=description)
        team.members.set(list(members))
    return team


def do_create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the plain key, which is not stored and cannot be shown again."""
    raw = ApiToken.new_key()
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:10])
    return token, raw


def access_token(raw: str) -> ApiToken | None:
    """The only loader of tokens by key: unknown, revoked and inactive-user tokens are all None.
    A loader never writes; the caller records the use with ``do_touch_token``."""
    return (
        ApiToken.objects.select_related("user", "user__organization")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def do_touch_token(token: ApiToken, now: datetime) -> None:
    """Record a use, at most once a minute, so reads don't turn every request into a write."""
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def do_revoke_token(token: ApiToken, now: datetime) -> None:
    token.revoked_at = now
    token.save(update_fields=["revoked_at"])
