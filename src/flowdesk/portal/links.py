"""The signed links the portal mails: a sign-in link (single-use, expiring) and the confirmation
link of a request filed without an account (expiring; it creates its ticket once).

Both are Django ``TimestampSigner`` values (signed with SECRET_KEY, each kind with its own salt,
so one kind is never accepted as the other). A sign-in link carries the user's ``last_login``
as it was when the link was made: signing in changes it, so a link works once, and a password
sign-in in between retires it too. ``use_signin_link`` claims that change with one conditional
UPDATE, so two clicks at the same instant sign in once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing

from flowdesk.accounts.models import User
from flowdesk.portal.models import PendingRequest

SIGNIN_SALT = "flowdesk.portal.signin"
CONFIRM_SALT = "flowdesk.portal.confirm"


def _stamp(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def signin_token(user: User) -> str:
    value = {"u": user.pk, "e": user.email, "l": _stamp(user.last_login)}
    return signing.dumps(value, salt=SIGNIN_SALT, compress=True)


def use_signin_link(token: str, now: datetime, *, claim: bool) -> User | None:
    """The customer a valid, unused, unexpired sign-in link is for, else None. ``claim``: use
    it up (the caller signs the user in); without, only look (the page with the button)."""
    max_age = timedelta(minutes=settings.FLOWDESK["PORTAL_SIGNIN_LINK_MINUTES"])
    try:
        value = signing.loads(token, salt=SIGNIN_SALT, max_age=max_age)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not (isinstance(value, dict) and isinstance(value.get("u"), int)):
        return None
    user = User.objects.filter(pk=value["u"], email=value.get("e"), is_active=True).first()
    if user is None or user.is_agent or _stamp(user.last_login) != value.get("l"):
        return None
    if claim:
        seen = User.objects.filter(pk=user.pk)
        seen = (
            seen.filter(last_login=user.last_login)
            if user.last_login
            else seen.filter(last_login__isnull=True)
        )
        # Only one of two simultaneous clicks moves last_login on from the value in the link.
        if seen.update(last_login=now) != 1:
            return None
        user.last_login = now
    return user


def confirm_token(pending: PendingRequest) -> str:
    return signing.dumps({"p": pending.pk, "e": pending.email}, salt=CONFIRM_SALT)


def pending_for(token: str) -> PendingRequest | None:
    """The request a valid, unexpired confirmation link is for (confirmed already or not)."""
    max_age = timedelta(hours=settings.FLOWDESK["PORTAL_CONFIRM_LINK_HOURS"])
    try:
        value = signing.loads(token, salt=CONFIRM_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("p"), int)):
        return None
    return PendingRequest.objects.filter(pk=value["p"], email=value.get("e")).first()
