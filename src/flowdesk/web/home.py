"""The landing page: public, so it shows no data at all (no tickets, teams, tags or rule names).

Until the agent UI (with its own sign-in) arrives, everything with data is behind the REST API's
token auth; this page only says what is running and where to go. A test walks every URL of the
URL conf anonymously and checks that this page is one of the few public ones and leaks nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>flowdesk</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}</style></head><body>
<h1>flowdesk</h1>
<p>A self-hosted help desk built around explicit, testable automation rules.</p>
<p><a href="/api/docs">REST API documentation (OpenAPI)</a> ·
<a href="/api/rules/schema">rule-set JSON schema</a></p>
<p>Sign in: the web interface is not there yet. Everything else answers only with an API token
(<code>Authorization: Bearer &lt;token&gt;</code>; an administrator creates one with
<code>flowdesk token create EMAIL</code>).</p>
</body></html>"""


@require_safe  # GET and HEAD: the page takes no input
def home_page(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE)
    response["Cache-Control"] = "no-store"  # nothing to cache; and never a stale data page
    return response
