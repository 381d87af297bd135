"""Sign-in and sign-out for the agent workspace, and the one gate every agent page goes through.

Django's session auth with CSRF, through django.contrib.auth's own views: only the form is ours.
It lower-cases the e-mail (logins are stored lower-case), refuses customers (the workspace is for
agents and admins; the customer portal is a separate surface) and counts failed sign-ins per
client address and e-mail in Django's cache, refusing more than ``FLOWDESK["LOGIN_FAILURES"]``
in 15 minutes. Deactivated users cannot sign in (Django's ModelBackend refuses them).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from flowdesk.accounts.models import User
from flowdesk.core.errors import Forbidden, NotFound

P = ParamSpec("P")
FAILURE_WINDOW_SECONDS = 15 * 60
NOT_AGENT = "This sign-in is for agents and admins. Customers use the customer portal."


class AgentLoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "not_agent": NOT_AGENT,
        "throttled": "Too many failed sign-ins. Wait 15 minutes and try again.",
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "E-mail"
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
        who = f"{address}|{self.cleaned_data.get('username', '')}"
        return "flowdesk:web:login-failures:" + hashlib.sha256(who.encode()).hexdigest()


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
