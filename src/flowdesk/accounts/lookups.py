"""The people lookups every request or update makes, as prepared SQL (core.rows explains why).

Each returns what the ORM query it replaces returned (tests compare both): loaded instances with
the related rows the callers use already attached, so no lazy query follows.
"""

from __future__ import annotations

from flowdesk.accounts.models import ApiToken, Organization, Team, User
from flowdesk.core.rows import Rows, first, sql

_TOKEN = Rows(ApiToken, "t")
_USER = Rows(User, "u")
_ORG = Rows(Organization, "o")
_TEAM = Rows(Team, "m")


def _user_and_org(row: tuple[object, ...], start: int) -> User:
    user = _USER.build(row, start)
    assert user is not None  # an inner join
    user.organization = _ORG.build(row, start + len(_USER))
    return user


def _org_join() -> str:
    return f"LEFT JOIN {_ORG.table} ON {_ORG.column('id')} = {_USER.column('organization')}"


def token_by_hash(key_hash: str) -> ApiToken | None:
    """A live token (not revoked, its user active) with its user and the user's organization."""
    text = sql(
        ("token_by_hash",),
        lambda: (
            f"SELECT {_TOKEN.columns()}, {_USER.columns()}, {_ORG.columns()} "
            f"FROM {_TOKEN.table} INNER JOIN {_USER.table} "
            f"ON {_USER.column('id')} = {_TOKEN.column('user')} {_org_join()} "
            f"WHERE {_TOKEN.column('key_hash')} = %s AND {_TOKEN.column('revoked_at')} IS NULL "
            f"AND {_USER.column('is_active')}"
        ),
    )
    row = first(text, [key_hash])
    if row is None:
        return None
    token = _TOKEN.build(row)
    assert token is not None
    token.user = _user_and_org(row, len(_TOKEN))
    return token


def user_by_email(email: str) -> User | None:
    """The user with this (already lower-cased) e-mail, with its organization."""
    text = sql(
        ("user_by_email",),
        lambda: (
            f"SELECT {_USER.columns()}, {_ORG.columns()} FROM {_USER.table} {_org_join()} "
            f"WHERE {_USER.column('email')} = %s"
        ),
    )
    row = first(text, [email])
    return _user_and_org(row, 0) if row is not None else None


def team_by_name(name: str) -> Team | None:
    text = sql(
        ("team_by_name",),
        lambda: f"SELECT {_TEAM.columns()} FROM {_TEAM.table} WHERE {_TEAM.column('name')} = %s",
    )
    row = first(text, [name])
    return _TEAM.build(row) if row is not None else None
