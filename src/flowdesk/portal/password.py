"""Setting a password from the portal: a customer signed in (by mailed link or password) sets
one, checked by the password validators, and can then sign in with e-mail and password on the
portal's sign-in page. The session stays signed in (``update_session_auth_hash``); other
sessions of the account are signed out, as Django does on every password change.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation, update_session_auth_hash
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from flowdesk.accounts.models import User
from flowdesk.portal.auth import customer_view

#: Django's validators, used when the project configures none (AUTH_PASSWORD_VALIDATORS).
DEFAULT_VALIDATORS: list[Any] = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ["email", "name"]},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


def validators() -> list[Any]:
    configured: list[Any] = list(settings.AUTH_PASSWORD_VALIDATORS) or DEFAULT_VALIDATORS
    return password_validation.get_password_validators(configured)


class PortalPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Django's form with the portal's words and validators, saving only the password column."""

    error_messages = {"password_mismatch": gettext_lazy("The two passwords differ.")}

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.fields["new_password1"].label = gettext_lazy("New password")
        self.fields["new_password2"].label = gettext_lazy("New password again")
        for field in self.fields.values():
            field.help_text = ""
            field.error_messages["required"] = gettext_lazy("This field is required.")

    def validate_password_for_user(self, user: Any, password_field_name: str = "") -> None:
        password = self.cleaned_data.get(password_field_name or "new_password2")
        if password:
            try:
                password_validation.validate_password(password, user, validators())
            except ValidationError as error:
                self.add_error(password_field_name or "new_password2", error)

    def save(self, commit: bool = True) -> Any:
        self.user.set_password(self.cleaned_data["new_password1"])
        if commit:
            self.user.save(update_fields=["password"])
        return self.user


@require_http_methods(["GET", "HEAD", "POST"])
@customer_view
def set_password(request: HttpRequest, user: User) -> HttpResponse:
    form = PortalPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            update_session_auth_hash(request, user)
            return render(request, "portal/password.html", {"done": True})
        return render(request, "portal/password.html", _context(form), status=422)
    return render(request, "portal/password.html", _context(form))


def _context(form: PortalPasswordForm) -> dict[str, Any]:
    help_texts = password_validation.password_validators_help_texts(validators())
    return {"form": form, "help_texts": help_texts}
