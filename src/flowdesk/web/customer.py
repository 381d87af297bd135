"""The customer page (/agent/customers/<id>): identities, organization, tier and attributes,
merge suggestions, and every ticket of the customer across channels in one timeline by last
activity. Merging asks for a confirmation first (a page that says what will move); a merged
customer's page redirects to its survivor, which lists the merges it can undo.

Reads go through the directory and ticket selectors the API uses (agents only; team scope
applies to the tickets); writes through the same services as ``/api/customers/...``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from flowdesk.accounts import identities
from flowdesk.accounts.merge import check_merge_customers, check_unmerge_customer
from flowdesk.accounts.models import CustomerMerge, User
from flowdesk.accounts.selectors import access_customer_by_id
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, NotFound, ValidationFailed
from flowdesk.tickets.selectors import tickets_for
from flowdesk.web.auth import agent_view

PAGE_SIZE = 25


def _page(request: HttpRequest, agent: User, customer: User, **extra: object) -> HttpResponse:
    tickets = tickets_for(agent).filter(requester=customer).order_by("-updated_at", "-id")
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    merges = CustomerMerge.objects.filter(target=customer, undone_at__isnull=True).select_related(
        "source"
    )
    context = {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "suggestions": [
            (s, s.second if s.first_id == customer.pk else s.first)
            for s in identities.suggestions_for(customer)
        ],
        "page": page,
        "merges": list(merges),
        **extra,
    }
    status = 422 if "error" in extra else 200
    return render(request, "web/customer.html", context, status=status)


def _live(agent: User, customer_id: int) -> User | HttpResponse:
    customer = access_customer_by_id(agent, customer_id)
    if customer.merged_into_id is not None:
        return redirect("web:customer", identities.survivor(customer).pk)
    return customer


@require_safe
@agent_view
def customer_page(request: HttpRequest, agent: User, customer_id: int) -> HttpResponse:
    customer = _live(agent, customer_id)
    if isinstance(customer, HttpResponse):
        return customer
    return _page(request, agent, customer)


@require_POST
@agent_view
def merge_customer(request: HttpRequest, agent: User, customer_id: int) -> HttpResponse:
    """Without ``confirm``: the page again, with what the merge would move and a confirm
    button; with it: the merge, then the survivor's page."""
    customer = _live(agent, customer_id)
    if isinstance(customer, HttpResponse):
        return customer
    raw = request.POST.get("into", "").strip()
    try:
        into = access_customer_by_id(agent, int(raw)) if raw.isdigit() else None
    except NotFound:
        into = None
    if into is None or into.pk == customer.pk or into.merged_into_id is not None:
        error = _("No other live customer with id %(id)r.") % {"id": raw}
        return _page(request, agent, customer, error=error)
    if request.POST.get("confirm") != "yes":
        moving = customer.requested_tickets.count()
        return _page(request, agent, customer, confirm=into, moving=moving)
    try:
        check_merge_customers(customer.pk, into.pk, actor=agent, now=utcnow())
    except (Conflict, ValidationFailed) as exc:
        return _page(request, agent, customer, error=str(exc))
    names = {"source": customer.email, "target": into.email}
    done = _("Merged %(source)s into %(target)s.") % names
    messages.success(request, done, extra_tags="customer")
    return redirect("web:customer", into.pk)


@require_POST
@agent_view
def unmerge_customer(request: HttpRequest, agent: User, customer_id: int) -> HttpResponse:
    source = access_customer_by_id(agent, customer_id)
    try:
        merge = check_unmerge_customer(source.pk, actor=agent, now=utcnow())
    except Conflict as exc:
        messages.error(request, _("Cannot unmerge: %(why)s") % {"why": exc}, extra_tags="customer")
        return redirect("web:customer", identities.survivor(source).pk)
    messages.success(request, _("Unmerged %(who)s.") % {"who": source.email}, extra_tags="customer")
    return redirect("web:customer", merge.source_id)


@require_POST
@agent_view
def dismiss_suggestion(
    request: HttpRequest, agent: User, customer_id: int, suggestion_id: int
) -> HttpResponse:
    access_customer_by_id(agent, customer_id)
    identities.do_dismiss_suggestion(suggestion_id, agent)
    messages.success(request, _("Suggestion dismissed."), extra_tags="customer")
    return redirect("web:customer", customer_id)


urlpatterns = [
    path("agent/customers/<int:customer_id>", customer_page, name="customer"),
    path("agent/customers/<int:customer_id>/merge", merge_customer, name="customer_merge"),
    path("agent/customers/<int:customer_id>/unmerge", unmerge_customer, name="customer_unmerge"),
    path(
        "agent/customers/<int:customer_id>/suggestions/<int:suggestion_id>/dismiss",
        dismiss_suggestion,
        name="dismiss_suggestion",
    ),
]
