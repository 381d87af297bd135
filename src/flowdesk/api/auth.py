from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from flowdesk.accounts.models import ApiToken, User
from flowdesk.accounts.services import access_token, do_touch_token
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Forbidden


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = access_token(token)
        if found is not None:
            do_touch_token(found, utcnow())
        return found


def current_token(request: HttpRequest) -> ApiToken:
    token: ApiToken = request.auth  # type: ignore[attr-defined]  # set by TokenAuth
    return token


def current_user(request: HttpRequest) -> User:
    return current_token(request).user


def require_agent(request: HttpRequest) -> User:
    user = current_user(request)
    if not user.is_agent:
        raise Forbidden("this needs an agent or admin token")
    return user


def require_admin(request: HttpRequest) -> User:
    user = current_user(request)
    if not user.is_admin:
        raise Forbidden("this needs an admin token")
    return user
