"""The REST API: one NinjaAPI, token auth, and every error mapped to a 4xx with field messages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from flowdesk.api.auth import TokenAuth
from flowdesk.core.errors import FlowdeskError
from flowdesk.engine import RuleSetError

api = NinjaAPI(
    title="flowdesk API",
    version="1",
    description="Tickets, their history and explanations, rule sets, dry runs and the outbox. "
    "Authenticate with `Authorization: Bearer <token>` (create one with `flowdesk token create`).",
    auth=TokenAuth(),
    docs_url="/docs",
    urls_namespace="api",
)


def _loc(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path", "data")]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _loc(list(e.get("loc", []))), "message": e.get("msg", "invalid")}
        for e in exc.errors
    ]
    return api.create_response(
        request, {"detail": "validation failed", "errors": errors}, status=422
    )


@api.exception_handler(FlowdeskError)
def flowdesk_error(request: HttpRequest, exc: FlowdeskError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(RuleSetError)
def ruleset_error(request: HttpRequest, exc: RuleSetError) -> HttpResponse:
    issues = [
        {
            "source": i.source,
            "rule": i.rule,
            "path": i.path,
            "line": i.line,
            "message": i.message,
            "suggestion": i.suggestion,
            "text": str(i),
        }
        for i in exc.issues
    ]
    return api.create_response(
        request, {"detail": "invalid rule set; nothing was changed", "errors": issues}, status=422
    )


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, {"detail": "missing or invalid token (Authorization: Bearer <token>)"}, status=401
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


from flowdesk.api import fields, outbox, people, rules, tickets  # noqa: E402  (routers import `api` helpers)

api.add_router("/tickets", tickets.router)
api.add_router("/rules", rules.router)
api.add_router("/outbox", outbox.router)
api.add_router("/me", people.me_router)
api.add_router("/agents", people.agents_router)
api.add_router("/customers", people.customers_router)
api.add_router("/teams", people.teams_router)
api.add_router("/organizations", people.organizations_router)
api.add_router("/custom-fields", fields.router)
