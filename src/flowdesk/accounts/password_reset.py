"""Password reset for agents and admins: Django's tokens and views, flowdesk's outbox.

The request page queues one outbox row per matching account (in the request's transaction; a
worker sends it after the commit) and answers the same for every address, so it tells nobody
whether an address has an account. The row holds no secret: the link is written when the mail
is delivered (``render_reset_mail``, registered as the outbox's ``password_reset`` mail
renderer), so an agent listing the outbox cannot read another user's link. The token is
Django's (``default_token_generator``): valid for ``PASSWORD_RESET_TIMEOUT`` seconds, and spent
once the password changes (it hashes the current password). The mail is in the user's language.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext, override

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.i18n import in_language_of, supported

RENDERER = "password_reset"
#: Requests per client address and per e-mail address per hour (0 = unlimited); a deployment
#: may set FLOWDESK["PASSWORD_RESETS_PER_HOUR"].
DEFAULT_PER_HOUR = 5
#: The validators a new password passes when the deployment configures none of its own
#: (AUTH_PASSWORD_VALIDATORS): Django's four, with flowdesk's minimum length.
DEFAULT_VALIDATORS: list[dict[str, Any]] = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


def per_hour() -> int:
    return int(settings.FLOWDESK.get("PASSWORD_RESETS_PER_HOUR", DEFAULT_PER_HOUR))


def validators() -> list[Any]:
    return password_validation.get_password_validators(
        settings.AUTH_PASSWORD_VALIDATORS or DEFAULT_VALIDATORS
    )


def queue_reset_mail(user: User, base_url: str) -> None:
    """One reset mail for ``user`` through the outbox; ``base_url`` is the site's address as the
    request named it (a host Django's ALLOWED_HOSTS accepted)."""
    from flowdesk.outbox.models import OutboxKind
    from flowdesk.outbox.services import do_enqueue

    with in_language_of(user) as language:
        subject = gettext("Reset your flowdesk password")
    with transaction.atomic():
        do_enqueue(
            kind=OutboxKind.NOTIFY,
            payload={
                "render": RENDERER,
                "user_id": user.pk,
                "to": [user.email],
                "subject": subject,
                "language": language,
                "base_url": base_url.rstrip("/"),
            },
            idempotency_key=f"password-reset:{user.pk}:{uuid.uuid4().hex}",
            now=utcnow(),
        )


def render_reset_mail(payload: dict[str, Any]) -> tuple[list[str], str, str]:
    """The mail, with a fresh token, to the account's own address of the moment."""
    from flowdesk.outbox.delivery import DeliveryError

    user = User.objects.filter(pk=int(payload.get("user_id") or 0), is_active=True).first()
    if user is None or not user.has_usable_password():
        raise DeliveryError("password reset: the account is gone or has no password")
    link = str(payload.get("base_url", "")) + reverse(
        "web:password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )
    language = supported(str(payload.get("language", ""))) or settings.LANGUAGE_CODE
    with override(language):
        hours = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
        subject = gettext("Reset your flowdesk password")
        body = render_to_string(
            "accounts/mail/password_reset.txt",
            {"user": user, "link": link, "hours": hours, "login": payload.get("base_url", "")},
        )
    return [user.email], subject, body


def register() -> None:
    from flowdesk.outbox.delivery import MAIL_RENDERERS

    if RENDERER not in MAIL_RENDERERS:
        MAIL_RENDERERS.add(RENDERER, render_reset_mail)
