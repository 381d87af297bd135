"""Every failure under /api/ answers JSON: body limits, the JSON parser, and Django's own errors.

- ``ApiErrorMiddleware`` refuses a body over its endpoint's limit (413) before anything reads
  it, and turns every non-JSON error response under /api/ (Django's 404 for an unknown URL,
  ninja's 405, the 400 of a bad Host header, the 500 of an unhandled exception) into
  ``{"detail": ...}`` with the same status. Tracebacks go to the log, never into the response.
- ``JsonBodyParser`` names the line and column of malformed JSON (400), and refuses JSON nested
  deeper than the engine's limit (422), including JSON too deep for ``json.loads`` itself.
Pages outside /api/ are left as they are (HTML).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja.parser import Parser
from ninja.types import DictStrAny

from flowdesk.engine.limits import (
    MAX_NESTING,
    check_nesting,
    json_nesting_position,
    too_deep_message,
)

API_PREFIX = "/api/"
# Rule-set imports, validation and dry runs may carry a whole (large) rule set.
RULES_PATHS = frozenset({"/api/rules", "/api/rules/validate", "/api/rules/dry-run"})


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def body_limit(path: str) -> tuple[int, str]:
    """The largest request body accepted on ``path``, in bytes, and the setting that sets it."""
    if path.rstrip("/") in RULES_PATHS:
        return int(settings.FLOWDESK["RULES_MAX_BYTES"]), "FLOWDESK_RULES_MAX_BYTES"
    return int(settings.FLOWDESK["API_MAX_BYTES"]), "FLOWDESK_API_MAX_BYTES"


def _content_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # Django reads no body then either


def json_error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not is_api_path(path):
            return self.get_response(request)
        limit, setting = body_limit(path)
        length = _content_length(request)
        if length > limit:
            return json_error(
                413,
                f"the request body is {length:,} bytes; the limit for {path} is {limit:,} bytes "
                f"(setting {setting})",
            )
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return self._as_json(request, response)
        return response

    def _as_json(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        if status == 404:
            detail = f"no such API endpoint: {request.path_info} (the endpoints are at /api/docs)"
        elif status == 405:
            allowed = response.get("Allow", "")
            detail = f"method {request.method} is not allowed here; allowed: {allowed}"
        elif status >= 500:
            detail = "internal server error (it was logged); nothing more is shown here"
        else:
            try:
                detail = HTTPStatus(status).phrase.lower()
            except ValueError:
                detail = "error"
        replacement = json_error(status, detail)
        if "Allow" in response:
            replacement["Allow"] = response["Allow"]
        return replacement


class BodyError(Exception):
    """A request body that cannot be used as JSON; main.py answers it as it is."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None):
        self.status = status
        self.detail = detail
        self.errors = errors
        super().__init__(detail)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def _too_deep(path: str, message: str) -> BodyError:
    return BodyError(422, "validation failed", [{"field": path or "body", "message": message}])


class JsonBodyParser(Parser):
    """ninja's JSON parser, with errors that say where: malformed JSON names its line and column,
    and JSON nested deeper than MAX_NESTING levels (below the body object) is refused."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        raw = request.body
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BodyError(
                400, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except UnicodeDecodeError:
            raise BodyError(400, "the request body is not UTF-8 text") from None
        except RecursionError:
            # Too deep for json itself: find where without parsing (a scan, no recursion).
            pos = json_nesting_position(raw.decode("utf-8", "replace"), MAX_NESTING + 1)
            where = f" (at line {pos[0]} column {pos[1]})" if pos else ""
            raise _too_deep("body", too_deep_message() + where) from None
        check_nesting(data, _too_deep, levels_above=1)
        return cast(DictStrAny, data)
