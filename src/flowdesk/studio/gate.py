"""Who may do what in the studio: every page goes through the workspace's own gate
(``flowdesk.web.auth.agent_view``: anonymous to /login, customers 403); agents read, validate
and dry-run, like the API lets them; only admins write (save, restore) and backtest."""

from __future__ import annotations

from django.utils.translation import gettext

from flowdesk.accounts.models import User
from flowdesk.core.errors import Forbidden
from flowdesk.web.auth import agent_view

__all__ = ["agent_view", "require_admin"]


def require_admin(user: User, what: str) -> None:
    """Forbidden (403 through ``agent_view``) unless ``user`` is an admin. ``what``: the act,
    already in the active language ("save a rule set")."""
    if not user.is_admin:
        raise Forbidden(gettext("Only admins may %(what)s.") % {"what": what})
