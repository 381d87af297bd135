"""The REST API: one NinjaAPI, token auth, and every error mapped to a 4xx with field messages.

Failures outside a view (unknown URLs, wrong methods, body limits, unhandled exceptions) are made
JSON by flowdesk.api.errors.ApiErrorMiddleware.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from flowdesk.api.auth import TokenAuth
from flowdesk.api.errors import BodyError, JsonBodyParser
from flowdesk.core.errors import FlowdeskError
from flowdesk.engine import RuleSetError

api = NinjaAPI(
    title="flowdesk API",
    version="1",
    description="Tickets, their history and explanations, rule sets, dry runs and the outbox. "
    "Authenticate with `Authorization: Bearer <token>` (create one with `flowdesk token create`).",
    auth=TokenAuth(),
    docs_url="/docs",
    # Everything the docs page loads is served by flowdesk itself (no CDN, no online validator).
    docs=Swagger(settings={"validatorUrl": None}),
    parser=JsonBodyParser(),
    urls_namespace="api",
)

_SOURCES = ("body", "query", "path", "header", "cookie", "form", "file")


def _path(parts: list[Any]) -> str:
    """Keys and indexes as a field path: ``message.body``, ``attachments[0].filename``."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _loc(loc: list[Any]) -> str:
    """A pydantic error location as a field path, without where ninja read it from."""
    parts = loc[1:] if loc and loc[0] in _SOURCES else loc
    if parts and parts[0] == "payload":  # the name of the body argument of every view
        parts = parts[1:]
    return _path(parts) or "body"


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    # A check of the whole request object (schemas.RequestIn) gives the exact path itself.
    errors = [
        {
            "field": _path(list(e["ctx"]["path"]) or ["body"])
            if "path" in (e.get("ctx") or {})
            else _loc(list(e.get("loc", []))),
            "message": e.get("msg", "invalid"),
        }
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
    if isinstance(exc.__cause__, BodyError):  # ninja wraps every parser error in a plain 400
        body_error = exc.__cause__
        return api.create_response(request, body_error.as_dict(), status=body_error.status)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


from flowdesk.api import (  # noqa: E402  (routers import `api` helpers)
    fields,
    outbox,
    people,
    routing,
    rules,
    sla,
    tickets,
)

api.add_router("/", "flowdesk.api.customers.router")  # first: /customers/merge-suggestions
api.add_router("/tickets", tickets.router)
api.add_router("/rules", rules.router)
api.add_router("/outbox", outbox.router)
api.add_router("/me", people.me_router)
api.add_router("/agents", people.agents_router)
api.add_router("/customers", people.customers_router)
api.add_router("/teams", people.teams_router)
api.add_router("/teams", sla.team_calendar_router)
api.add_router("/calendars", sla.calendars_router)
api.add_router("/sla-policies", sla.policies_router)
api.add_router("/organizations", people.organizations_router)
api.add_router("/custom-fields", fields.router)
api.add_router("/webhooks", "flowdesk.api.webhooks.router")
api.add_router("/timers", "flowdesk.api.timers.router")
api.add_router("/escalation-paths", routing.paths_router)
api.add_router("/macros", "flowdesk.api.macros.router")
api.add_router("/tickets", "flowdesk.api.macros.ticket_router")
api.add_router("/kb", "flowdesk.api.knowledge.router")
api.add_router("/mailboxes", "flowdesk.api.mailboxes.router")
api.add_router("/chat/sites", "flowdesk.chat.siteapi.router")
