"""Many timer updates in one round: what each update reads, read once for the whole round.

A worker fires a claimed batch of timers in one transaction. Fired one by one, every firing
locks its ticket and reads its followers, its latest message, its timers and SLA row, the active
rule set's head and the SLA store's fingerprint: a dozen statements before the first write, and
most of a firing's cost (each statement is small; building it is not). ``preload`` reads all of
that for the batch's tickets at once: the tickets locked in one statement (skipping those an
update holds right now, as one ticket's lock would), and one statement per kind of related row.
Packages above the ticket services contribute their own rows through ``register_preloader``
(tickets.hooks has the other seams); what they return is put into each ticket's
``TicketWrite.hook_state``, where their hooks look first.

The rows are as of the round's start. That is what the ticket's own update would read: every
writer of a ticket's timers, SLA row, followers and messages holds the ticket's lock, which the
round holds until it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from flowdesk.accounts.models import Organization, Team, User
from flowdesk.core.rows import Rows, fetch, reserve_ids, sql
from flowdesk.tickets.models import Message, Ticket, TicketUpdate

#: ticket ids -> per ticket, the ``hook_state`` entries to start its write with. A value shared
#: by every ticket (a compiled store) must be read-only; a per-ticket one is the write's own.
Preloader = Callable[[Sequence[int]], dict[int, dict[str, Any]]]
_preloaders: list[Preloader] = []

_T = Rows(Ticket, "t")
_REQUESTER = Rows(User, "r")
_ORG = Rows(Organization, "o")
_ASSIGNEE = Rows(User, "a")
_TEAM = Rows(Team, "m")
_MSG = Rows(Message, "g")


@dataclass
class Preloaded:
    """One ticket's rows for its write (``TicketWrite.preloaded``)."""

    ticket: Ticket
    followers: frozenset[str] = frozenset()
    latest: Message | None = None
    hook_state: dict[str, Any] = field(default_factory=dict)


_update_ids: ContextVar[list[int] | None] = ContextVar("update_ids", default=None)


@contextmanager
def update_ids(n: int) -> Iterator[None]:
    """Within: the first ``n`` update rows inserted take keys reserved at once (PostgreSQL), so
    their INSERTs read nothing back and a pipelined round sends them without waiting. Each
    ticket's updates still get increasing keys: the keys are drawn after the round locked its
    tickets, and any other update of those tickets draws its key after the round commits."""
    token = _update_ids.set(list(reversed(reserve_ids(TicketUpdate, n))))
    try:
        yield
    finally:
        _update_ids.reset(token)


def next_update_id() -> int | None:
    """A reserved update key (``update_ids``), or None: let the database assign one."""
    pool = _update_ids.get()
    return pool.pop() if pool else None


def register_preloader(loader: Preloader) -> None:
    if loader not in _preloaders:
        _preloaders.append(loader)


def preload(ticket_ids: Sequence[int], *, skip_locked: bool) -> dict[int, Preloaded]:
    """The tickets among ``ticket_ids`` that could be locked, with their rows. A ticket missing
    from the answer is held by another update (``skip_locked``, PostgreSQL) or was deleted."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return {}
    tickets = lock_many(ids, skip_locked=skip_locked)
    if not tickets:
        return {}
    locked = sorted(tickets)
    out = {pk: Preloaded(ticket) for pk, ticket in tickets.items()}
    for pk, emails in _followers(locked).items():
        out[pk].followers = frozenset(emails)
    for message in _latest_messages(locked):
        out[message.ticket_id].latest = message
    for loader in _preloaders:
        for pk, state in loader(locked).items():
            if pk in out:
                out[pk].hook_state.update(state)
    return out


def _placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


def lock_many(ids: list[int], *, skip_locked: bool) -> dict[int, Ticket]:
    """The tickets locked for their updates, in id order (the order every round takes, so two
    rounds never wait on each other in a cycle), with the related rows the writes read
    (requester, organization, assignee, team). ``skip_locked``: leave out a ticket another
    transaction holds right now (PostgreSQL; SQLite has one writer at a time anyway)."""
    skip = skip_locked and connection.features.has_select_for_update_skip_locked
    lock = ""
    if connection.features.has_select_for_update:
        lock = " FOR UPDATE OF t SKIP LOCKED" if skip else " FOR UPDATE OF t"

    def build() -> str:
        return (
            f"SELECT {_T.columns()}, {_REQUESTER.columns()}, {_ORG.columns()}, "
            f"{_ASSIGNEE.columns()}, {_TEAM.columns()} FROM {_T.table} "
            f"INNER JOIN {_REQUESTER.table} ON {_REQUESTER.column('id')} = "
            f"{_T.column('requester')} "
            f"LEFT JOIN {_ORG.table} ON {_ORG.column('id')} = {_T.column('organization')} "
            f"LEFT JOIN {_ASSIGNEE.table} ON {_ASSIGNEE.column('id')} = {_T.column('assignee')} "
            f"LEFT JOIN {_TEAM.table} ON {_TEAM.column('id')} = {_T.column('team')} "
            f"WHERE {_T.column('id')} IN ({_placeholders(len(ids))}) "
            f"ORDER BY {_T.column('id')}{lock}"
        )

    out: dict[int, Ticket] = {}
    meta = Ticket._meta
    for row in fetch(sql(("lock_many", len(ids), lock), build), ids):
        ticket = _T.build(row)
        assert ticket is not None
        at = len(_T)
        for name, rows in (
            ("requester", _REQUESTER),
            ("organization", _ORG),
            ("assignee", _ASSIGNEE),
            ("team", _TEAM),
        ):
            meta.get_field(name).set_cached_value(ticket, rows.build(row, at))  # type: ignore[union-attr]
            at += len(rows)
        out[ticket.pk] = ticket
    return out


def _followers(ids: list[int]) -> dict[int, list[str]]:
    through = Ticket.followers.through
    q = connection.ops.quote_name

    def build() -> str:
        return (
            f"SELECT f.{q('ticket_id')}, u.{q('email')} FROM {q(through._meta.db_table)} f "
            f"INNER JOIN {q(User._meta.db_table)} u ON u.{q('id')} = f.{q('user_id')} "
            f"WHERE f.{q('ticket_id')} IN ({_placeholders(len(ids))})"
        )

    out: dict[int, list[str]] = {}
    for ticket_id, email in fetch(sql(("followers_many", len(ids)), build), ids):
        out.setdefault(int(ticket_id), []).append(str(email))
    return out


def _latest_messages(ids: list[int]) -> list[Message]:
    """Each ticket's newest message (highest id), as ``TicketWrite.latest`` reads it."""
    q = connection.ops.quote_name
    table = q(Message._meta.db_table)

    def build() -> str:
        return (
            f"SELECT {_MSG.columns()} FROM {_MSG.table} WHERE {_MSG.column('id')} IN "
            f"(SELECT MAX({q('id')}) FROM {table} WHERE {q('ticket_id')} "
            f"IN ({_placeholders(len(ids))}) GROUP BY {q('ticket_id')})"
        )

    out = []
    for row in fetch(sql(("latest_many", len(ids)), build), ids):
        message = _MSG.build(row)
        assert message is not None
        out.append(message)
    return out
