"""Refuse the NUL character in a request's query string and form fields, naming the field.

PostgreSQL's text columns cannot hold NUL (0x00), so a form post carrying one would otherwise
fail at the database as a 500 after the services had accepted it (SQLite would store it). The
API's JSON bodies are checked by its schemas (``flowdesk.api.schemas``); this covers the query
strings of every path and the form posts of the pages (workspace, portal, rule studio) before any
view reads them. A multipart upload's file contents are not text and are not looked at.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.html import escape
from django.utils.translation import gettext as _

from flowdesk.api.errors import is_api_path


def nul_field(request: HttpRequest) -> str | None:
    """The name of the first query or form field whose name or value holds NUL, else None."""
    sources = [request.GET]
    if request.method == "POST":
        sources.append(request.POST)
    for data in sources:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return key.replace("\x00", "\\0")
    return None


class NulInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path_info) or (field := nul_field(request)) is None:
            return self.get_response(request)
        message = _("The field “%(field)s” must not contain the NUL character (\\0).") % {
            "field": field
        }
        return HttpResponseBadRequest(
            f"<!doctype html><title>400</title><p>{escape(message)}</p>",
            content_type="text/html; charset=utf-8",
        )
