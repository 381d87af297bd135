"""Who a portal visitor is, for the knowledge base's views, votes and deflection.

A visitor is a browser session: a random id kept in the session (it survives signing in, which
keeps the session's data, and ends with signing out). The help center and the new-request form
give every visitor one. A view is only counted for an *established* visitor, one whose request
brought back the session of an earlier page: a client that does not keep the session cookie (most
bots, link checkers, mail scanners) is never counted, so it can neither inflate views nor pass
for a deflection. A signed-in user votes as themselves (one vote per account, on every device).
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest

from flowdesk.accounts.models import User

SESSION_KEY = "kb_visitor"


def visitor_key(request: HttpRequest) -> str:
    """This session's visitor key (``v:<id>``, the API's form), made on first use."""
    found = request.session.get(SESSION_KEY)
    if not isinstance(found, str):
        found = secrets.token_urlsafe(16)
        request.session[SESSION_KEY] = found
    return f"v:{found}"


def established_visitor(request: HttpRequest) -> str | None:
    """The visitor key if this session was made by an earlier request; else None (and the session
    gets a visitor, so the next request is established)."""
    known = isinstance(request.session.get(SESSION_KEY), str)
    key = visitor_key(request)
    return key if known else None


def voter_key(request: HttpRequest) -> str:
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return f"user:{user.pk}"
    return visitor_key(request)
