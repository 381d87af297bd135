"""Signing in to the portal: by a link mailed to the customer, or by password; signing out
(POST); and ``customer_view``, the gate of every signed-in portal page.

The password form is the workspace's (``web.auth.AgentLoginForm``: e-mail lower-cased, failed
sign-ins limited per address and e-mail) without its refusal of customers. An agent who signs
in here, or opens any portal page while signed in, is sent to the workspace (/agent/). A
sign-in link is only mailed to an active customer, but the page says the same for every
address, so the form tells nobody who has an account. Opening the link shows a button; the
POST signs in, so a mail scanner that fetches links cannot use one up.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from flowdesk.accounts.identities import user_for_address
from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import NotFound
from flowdesk.core.i18n import in_language_of
from flowdesk.portal import limits
from flowdesk.portal.links import signin_token, use_signin_link
from flowdesk.portal.mail import queue_mail
from flowdesk.web.auth import AgentLoginForm

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)
LOGIN_URL = "/portal/login"
AGENT_HOME = "/agent/"
BACKEND = "django.contrib.auth.backends.ModelBackend"


class PortalLoginForm(AgentLoginForm):
    error_messages = {
        **AgentLoginForm.error_messages,
        "invalid_login": gettext_lazy("That e-mail and password do not match an account."),
        "inactive": gettext_lazy("This account is inactive."),
        "throttled": gettext_lazy("Too many failed sign-ins. Wait 15 minutes and try again."),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = gettext_lazy("E-mail")
        self.fields["password"].label = gettext_lazy("Password")

    def confirm_login_allowed(self, user: Any) -> None:
        # Customers and agents alike (agents are sent on to the workspace).
        AuthenticationForm.confirm_login_allowed(self, user)


class LinkForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254)


class PortalLoginView(LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        user = self.request.user
        if isinstance(user, User) and user.is_agent:
            return AGENT_HOME
        return self.get_redirect_url() or reverse("portal:home")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {"link_form": LinkForm(), **super().get_context_data(**kwargs)}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # One page, two forms: the sign-in link's says so with ``via=link``.
        if request.POST.get("via") == "link":
            return request_link(request)
        return super().post(request, *args, **kwargs)


login_view = PortalLoginView.as_view()
logout_view = LogoutView.as_view(next_page=LOGIN_URL)  # POST only


def too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/too_many.html", status=429)


def request_link(request: HttpRequest) -> HttpResponse:
    form = LinkForm(request.POST)
    if not form.is_valid():
        context = {"form": PortalLoginForm(request), "link_form": form}
        return render(request, "portal/login.html", context)
    email = form.cleaned_data["email"].strip().lower()
    if limits.over_limit(request, email):
        return too_many(request)
    # Any address the customer verified asks for their link (docs/portal.md).
    user = user_for_address(email)
    if user is not None and user.is_active and not user.is_agent:
        url = request.build_absolute_uri(reverse("portal:signin_page", args=[signin_token(user)]))
        minutes = int(settings.FLOWDESK["PORTAL_SIGNIN_LINK_MINUTES"])
        # The account's language; one not chosen yet is the page's the link was asked on.
        with in_language_of(user, get_language()):
            subject = _("Your sign-in link")
            body = _(
                "Open this link to sign in to the support portal:\n\n%(url)s\n\n"
                "It works once, for %(minutes)d minutes. If you did not ask for it, ignore "
                "this e-mail."
            ) % {"url": url, "minutes": minutes}
        # To the address asked for: the login or another address the customer verified.
        queue_mail(to=email, subject=subject, body=body, key=f"portal:signin:{uuid.uuid4().hex}")
    return render(request, "portal/link_sent.html", {"email": email})


def bad_link(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/bad_link.html", status=404)


@require_GET
def signin_page(request: HttpRequest, token: str) -> HttpResponse:
    user = use_signin_link(token, utcnow(), claim=False)
    if user is None:
        return bad_link(request)
    response = render(request, "portal/signin.html", {"person": user, "token": token})
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_POST
def signin(request: HttpRequest, token: str) -> HttpResponse:
    user = use_signin_link(token, utcnow(), claim=True)
    if user is None:
        return bad_link(request)
    login(request, user, backend=BACKEND)
    return HttpResponseRedirect(reverse("portal:home"))


def _gate(
    view: Callable[Concatenate[HttpRequest, User, P], R], *, agents_too: bool
) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
        user = request.user
        if not (user.is_authenticated and isinstance(user, User)):
            if request.headers.get("HX-Request"):
                refused = HttpResponse(status=401)
                refused["HX-Redirect"] = LOGIN_URL
                return refused
            return redirect_to_login(request.get_full_path(), LOGIN_URL)
        if user.is_agent and not agents_too:
            return HttpResponseRedirect(AGENT_HOME)
        response: R | HttpResponse
        try:
            response = view(request, user, *args, **kwargs)
        except NotFound:
            response = render(request, "portal/not_found.html", status=404)
        patch_cache_control(response, private=True, no_store=True)
        return response

    return wrapper


def customer_view(
    view: Callable[Concatenate[HttpRequest, User, P], R],
) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    """The gate of the signed-in portal pages: anonymous users go to the portal's sign-in (an
    htmx request gets 401 and ``HX-Redirect``), agents to the workspace, and the view receives
    the customer. ``NotFound`` of the selectors is the portal's 404 page. Never cached."""
    return _gate(view, agents_too=False)


def reader_view(
    view: Callable[Concatenate[HttpRequest, User, P], R],
) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    """The same gate, letting agents through: for what the workspace links to as well
    (attachment downloads), read with the agent's own permissions."""
    return _gate(view, agents_too=True)
