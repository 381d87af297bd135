"""The landing page: public, so it shows no data at all (no tickets, teams, tags or rule names).

It says what is running and where to go: the agent workspace's sign-in, the API docs and the rule
schema. A signed-in agent is sent on to the workspace. A test walks every URL of the URL conf
anonymously and checks that this page is one of the few public ones and leaks nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from flowdesk.accounts.models import User

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flowdesk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem;line-height:1.45}</style>
</head><body><main>
<h1>flowdesk</h1>
<p>A self-hosted help desk built around explicit, testable automation rules.</p>
<p><a href="/login">Sign in</a> to the agent workspace (agents and admins).</p>
<p><a href="/api/docs">REST API documentation (OpenAPI)</a> ·
<a href="/api/rules/schema">rule-set JSON schema</a>. The API answers only with a token
(<code>Authorization: Bearer &lt;token&gt;</code>; an administrator creates one with
<code>flowdesk token create EMAIL</code>).</p>
</main></body></html>"""


@require_safe  # GET and HEAD: the page takes no input
def home_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.is_agent:
        return HttpResponseRedirect("/agent/")
    response = HttpResponse(PAGE)
    response["Cache-Control"] = "no-store"  # nothing to cache; and never a stale data page
    return response
