"""Sign-in and sign-out for the agent workspace, and the one gate every agent page goes through.

Django's session auth with CSRF, through django.contrib.auth's own views: only the form is ours.
It lower-cases the e-mail (logins are stored lower-case), refuses customers (the workspace is for
agents and admins; the customer portal is a separate surface) and counts failed sign-ins per
client address and e-mail in Django's cache, refusing more than ``FLOWDESK["LOGIN_FAILURES"]``
in 15 minutes. Deactivated users cannot sign in (Django's ModelBackend refuses them).

Password reset ("Forgot password?") is Django's flow (tokens, views) with flowdesk's forms: the
mail leaves through the outbox in the user's language (``accounts.password_reset``), every
address gets the same answer, requests are limited per client address and per e-mail, and the
new password passes Django's validators.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
    redirect_to_login,
)
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.cache import patch_cache_control
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from flowdesk.accounts import password_reset
from flowdesk.accounts.models import User
from flowdesk.accounts.services import do_set_password
from flowdesk.core.errors import Forbidden, NotFound

P = ParamSpec("P")
FAILURE_WINDOW_SECONDS = 15 * 60
RESET_WINDOW_SECONDS = 60 * 60
NOT_AGENT = _("This sign-in is for agents and admins. Customers use the customer portal.")


class AgentLoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Enter a correct e-mail address and password. Both may be case-sensitive."
        ),
        "inactive": _("This account is inactive."),
        "not_agent": NOT_AGENT,
        "throttled": _("Too many failed sign-ins. Wait 15 minutes and try again."),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("E-mail")
        self.fields["password"].label = _("Password")
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autocomplete": "username", "autofocus": True, "spellcheck": "false"}
        )

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username") or "").strip().lower()

    def clean(self) -> dict[str, Any]:
        key = self._failure_key()
        limit = settings.FLOWDESK["LOGIN_FAILURES"]
        if limit and cache.get(key, 0) >= limit:
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                cache.set(key, cache.get(key, 0) + 1, FAILURE_WINDOW_SECONDS)
            raise
        cache.delete(key)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not (isinstance(user, User) and user.is_agent):
            raise ValidationError(self.error_messages["not_agent"], code="not_agent")

    def _failure_key(self) -> str:
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return "flowdesk:web:login-failures:" + _client_hash(
            address, str(self.cleaned_data.get("username", ""))
        )


def _client_hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class AgentPasswordResetForm(PasswordResetForm):
    """Django's form, answering the same for every address; the mail goes through the outbox,
    only to agents and admins (customers sign in to the portal with a link, no password)."""

    error_messages = {
        "throttled": _("Too many password reset requests. Wait an hour and try again."),
    }

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["email"].label = _("E-mail")
        self.fields["email"].widget.attrs.update({"autofocus": True, "spellcheck": "false"})

    def clean_email(self) -> str:
        email = str(self.cleaned_data.get("email") or "").strip().lower()
        limit = password_reset.per_hour()
        if limit:
            address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
            keys = [
                "flowdesk:web:reset-requests:" + _client_hash("address", address),
                "flowdesk:web:reset-requests:" + _client_hash("email", email),
            ]
            if any(cache.get(key, 0) >= limit for key in keys):
                raise ValidationError(self.error_messages["throttled"], code="throttled")
            for key in keys:
                cache.set(key, cache.get(key, 0) + 1, RESET_WINDOW_SECONDS)
        return email

    def save(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        request = request or self.request
        base_url = request.build_absolute_uri("/") if request is not None else ""
        for user in self.get_users(self.cleaned_data["email"]):
            if isinstance(user, User) and user.is_agent:
                password_reset.queue_reset_mail(user, base_url)


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Django's form; the validators are the deployment's, else Django's four
    (``password_reset.validators``); the password is written by the accounts service."""

    error_messages = {
        **SetPasswordForm.error_messages,
        "password_mismatch": _("The two passwords do not match."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].label = _("New password")
        self.fields["new_password2"].label = _("New password again")
        self.fields["new_password1"].help_text = self.rules_html()

    @staticmethod
    def rules_html() -> str:
        texts = password_validation.password_validators_help_texts(password_reset.validators())
        if not texts:
            return ""
        items = format_html_join("", "<li>{}</li>", ((t,) for t in texts))
        return format_html("<ul>{}</ul>", items)

    def clean_new_password2(self) -> str:
        first = self.cleaned_data.get("new_password1")
        second = str(self.cleaned_data.get("new_password2") or "")
        if first and second and first != second:
            raise ValidationError(
                self.error_messages["password_mismatch"], code="password_mismatch"
            )
        password_validation.validate_password(second, self.user, password_reset.validators())
        return second

    def save(self, commit: bool = True) -> Any:
        do_set_password(self.user, self.cleaned_data["new_password1"])
        return self.user


class ResetRequestView(PasswordResetView):
    """The form's ``save`` queues the mail; Django's own mail arguments are unused."""

    form_class = AgentPasswordResetForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("web:password_reset_sent")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


password_reset_view = ResetRequestView.as_view()
password_reset_sent_view = PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_sent.html"
)
password_reset_confirm_view = PasswordResetConfirmView.as_view(
    form_class=NewPasswordForm,
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("web:password_reset_complete"),
)
password_reset_complete_view = PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)

login_view = LoginView.as_view(
    template_name="web/login.html",
    authentication_form=AgentLoginForm,
    redirect_authenticated_user=True,
)
# POST only (Django's LogoutView refuses GET), so a link or an image cannot sign anyone out.
logout_view = LogoutView.as_view()


def agent_view(
    view: Callable[Concatenate[HttpRequest, User, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """The gate of every workspace page: anonymous users go to the sign-in page (an htmx request
    is told to load it whole), customers get 403, and the view receives the signed-in agent.
    Domain errors of the selectors map as in the API: NotFound is 404, Forbidden 403. Pages are
    never cached (no stale ticket behind the back button after signing out)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = settings.LOGIN_URL
                return response
            return redirect_to_login(request.get_full_path())
        if not (isinstance(user, User) and user.is_agent):
            return render(request, "web/refused.html", {"message": NOT_AGENT}, status=403)
        try:
            response = view(request, user, *args, **kwargs)
        except NotFound as error:
            raise Http404(str(error)) from error
        except Forbidden as error:
            raise PermissionDenied(str(error)) from error
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapper
