"""Spam protection of the public forms: a honeypot field and a rate limit.

The rate limit counts requests per client address and per e-mail address in Django's cache (one
window of an hour each); over ``FLOWDESK["PORTAL_REQUESTS_PER_HOUR"]`` either one, the form is
refused with 429. With the default in-memory cache the count is per web process; configure a
shared cache (``CACHES``) to count across processes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 60 * 60
#: The honeypot: a text field people never see (hidden, out of the tab order, not announced);
#: bots that fill every field fill it too.
HONEYPOT = "website"


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(kind: str, value: str) -> str:
    return f"flowdesk:portal:{kind}:" + hashlib.sha256(value.encode()).hexdigest()


def over_limit(request: HttpRequest, email: str) -> bool:
    """Counts this request against its address and its e-mail; True when either is over."""
    limit = settings.FLOWDESK["PORTAL_REQUESTS_PER_HOUR"]
    if not limit:
        return False
    over = False
    for key in (_key("address", client_address(request)), _key("email", email.strip().lower())):
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)
            count = 1
        over = over or count > limit
    return over


def honeypot_filled(request: HttpRequest) -> bool:
    return bool(request.POST.get(HONEYPOT, "").strip())
