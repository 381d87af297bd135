"""New requests: /portal/new for signed-in customers (the ticket is created at once) and for
visitors without an account (the ticket is created when the confirmation link mailed to them is
opened), and the knowledge-base suggestions the subject field asks for as it is typed.

Spam protection on the public form: a honeypot field (a filled one is dropped, answered like a
success) and the rate limit per client address and e-mail (``portal.limits``, 429).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from flowdesk.accounts.identities import customer_for_request
from flowdesk.accounts.models import User
from flowdesk.accounts.services import do_set_language
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Forbidden, ValidationFailed
from flowdesk.core.i18n import in_language_of, supported
from flowdesk.portal import attachments, limits
from flowdesk.portal.auth import AGENT_HOME, bad_link, too_many
from flowdesk.portal.forms import AnonymousTicketForm, NewTicketForm
from flowdesk.portal.links import confirm_token, pending_for
from flowdesk.portal.mail import queue_mail
from flowdesk.portal.models import PendingRequest
from flowdesk.portal.suggest import suggest, ticket_filed
from flowdesk.portal.views import errors_of, portal_cause, ticket_url
from flowdesk.portal.visitors import visitor_key
from flowdesk.tickets.models import Channel, Ticket
from flowdesk.tickets.services import ChangeSet, NewMessage, check_create_ticket


def _create(
    request: HttpRequest, requester: User, subject: str, message: NewMessage, language: str
) -> Ticket:
    """``language``: the one the request was written in (the page's)."""
    source = {"page_url": request.build_absolute_uri(reverse("portal:new"))}
    if language:
        source["language"] = language
    return check_create_ticket(
        actor=requester,
        requester=requester,
        subject=subject,
        message=message,
        channel=Channel.PORTAL,
        changes=ChangeSet(),
        cause=portal_cause(requester),
        now=utcnow(),
        source=source,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def new_ticket(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.is_agent:
        return HttpResponseRedirect(AGENT_HOME)
    visitor_key(request)  # the visitor the articles suggested here are counted for
    if isinstance(user, User):
        response = _signed_in(request, user)
        patch_cache_control(response, private=True, no_store=True)
        return response
    return _anonymous(request)


def filed(request: HttpRequest) -> None:
    """This visitor filed a request: the articles they opened in the window before it were not
    deflections (docs/knowledge.md). A request waiting for its e-mail confirmation counts: the
    visitor chose to write to us."""
    ticket_filed(visitor_key(request), utcnow())


def _form_page(request: HttpRequest, form: NewTicketForm, status: int = 200) -> HttpResponse:
    context = {"form": form, "limits": attachments.limits()}
    return render(request, "portal/new.html", context, status=status)


def _signed_in(request: HttpRequest, user: User) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, NewTicketForm())
    form = NewTicketForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, 422)
    if limits.over_limit(request, user.email):
        return too_many(request)
    files = form.cleaned_data["upload"]
    try:
        attachments.check_files(files)
    except attachments.Refused as refused:
        form.add_error("upload", refused.message)
        return _form_page(request, form, 422)
    stored = attachments.store_files(user.pk, files)
    body = form.cleaned_data["body"]
    message = NewMessage(body_text=body, channel=Channel.PORTAL, attachments=stored)
    try:
        ticket = _create(request, user, form.cleaned_data["subject"], message, get_language())
    except (ValidationFailed, Forbidden) as error:
        attachments.discard(user.pk, stored)
        form.add_error(None, errors_of(error))
        return _form_page(request, form, 422)
    filed(request)
    return HttpResponseRedirect(ticket_url(ticket.pk) + "?new=1")


def _anonymous(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "portal/new.html", {"form": AnonymousTicketForm()})
    if limits.honeypot_filled(request):
        # Dropped without a word: the bot sees what a person would.
        return render(request, "portal/check_mail.html", {"email": request.POST.get("email")})
    form = AnonymousTicketForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/new.html", {"form": form})
    data = form.cleaned_data
    email = data["email"].strip().lower()
    if limits.over_limit(request, email):
        return too_many(request)
    with transaction.atomic():
        pending = PendingRequest.objects.create(
            name=data["name"].strip(),
            email=email,
            subject=data["subject"].strip(),
            body=data["body"],
            language=get_language() or "",
            created_at=utcnow(),
        )
        url = request.build_absolute_uri(reverse("portal:confirm", args=[confirm_token(pending)]))
        # A visitor has no account to ask: the mail speaks the language the form was filed in.
        with in_language_of(None, pending.language):
            subject = _("Please confirm your request: %(subject)s") % {"subject": pending.subject}
            body = _(
                "Hello %(name)s,\n\nwe received your request “%(subject)s”. Open this link to "
                "confirm it, and it goes to our support team:\n\n%(url)s\n\nIf you did not "
                "write to us, ignore this e-mail: nothing is filed without the link."
            ) % {"name": pending.name, "subject": pending.subject, "url": url}
        queue_mail(to=email, subject=subject, body=body, key=f"portal:confirm:{pending.pk}")
    filed(request)
    return render(request, "portal/check_mail.html", {"email": email})


@require_GET
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Opening the link files the request, once: the row is locked and remembers its ticket,
    so a second opening (or two at once) shows the same ticket and creates nothing."""
    pending = pending_for(token)
    if pending is None:
        return bad_link(request)
    created = False
    with transaction.atomic():
        locked = PendingRequest.objects.select_for_update().get(pk=pending.pk)
        if locked.confirmed_at is None:
            requester = customer_for_request(locked.email, locked.name)  # docs/customers.md
            if not requester.language and supported(locked.language):
                # What they wrote the request in is what the answers to it are mailed in.
                do_set_language(requester, locked.language)
            message = NewMessage(body_text=locked.body, channel=Channel.PORTAL)
            locked.ticket = _create(request, requester, locked.subject, message, locked.language)
            locked.confirmed_at = utcnow()
            locked.save(update_fields=["ticket", "confirmed_at"])
            created = True
    context = {"pending": locked, "created": created}
    response = render(request, "portal/confirmed.html", context)
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
def suggestions(request: HttpRequest) -> HttpResponse:
    """The partial the subject field loads as it is typed (htmx GET)."""
    found = suggest(request.GET.get("subject", "")[:500], get_language() or "")
    return render(request, "portal/_suggestions.html", {"suggestions": found})
