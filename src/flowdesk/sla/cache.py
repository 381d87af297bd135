"""The stored calendars, team calendars and SLA policies, compiled once per process.

Every ticket update asks which calendar applies (and, soon, which policy), so the answer must
cost one small query, like ``automation.services.active_ruleset``: the fingerprint statement
reads the ``SlaStoreVersion`` token (changed by every transaction that writes calendars, team
links or policies; see ``changing``) and the count and id sum of the team links (which a team's
deletion removes by cascade, without a token change). Only when the fingerprint differs from
the one held is everything read again: a few rows, each calendar compiled by
``calendar_from_dict``. Other processes see a change at their next fingerprint read.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from flowdesk.calendars import Calendar, calendar_from_dict
from flowdesk.core.clock import utcnow
from flowdesk.core.rows import first, sql
from flowdesk.sla.models import Calendar as CalendarRow
from flowdesk.sla.models import SlaPolicy, SlaStoreVersion, TeamCalendar
from flowdesk.sla.policy import CompiledPolicy, PolicyError, compile_policies

if TYPE_CHECKING:
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import TicketWrite

Fingerprint = tuple[Any, ...]


@dataclass(frozen=True)
class StoredSla:
    """What is stored, as of one fingerprint. Treat it as read-only: it is shared."""

    fingerprint: Fingerprint
    calendars: dict[str, Calendar] = field(default_factory=dict)
    default: str | None = None
    teams: dict[int, str] = field(default_factory=dict)
    policies: tuple[dict[str, Any], ...] = ()
    #: the policies compiled (``flowdesk.sla.policy``), first match wins
    compiled: tuple[CompiledPolicy, ...] = ()

    def calendar_for_team(self, team_id: int | None, chosen: str | None = None) -> str | None:
        """The calendar a ticket of this team works by: the one its channel chose (``chosen``,
        a mailbox's, when it still exists), else the team's, else the default."""
        if chosen and chosen in self.calendars:
            return chosen
        if team_id is not None and team_id in self.teams:
            return self.teams[team_id]
        return self.default


_held: StoredSla | None = None
#: where a write keeps the store it read (``for_write``); a round of timer firings puts it there
STORE_KEY = "sla_store"
_lock = threading.Lock()


def _fingerprint_sql() -> str:
    q = connection.ops.quote_name
    version, links = q(SlaStoreVersion._meta.db_table), q(TeamCalendar._meta.db_table)
    return (
        f"SELECT (SELECT {q('token')} FROM {version} ORDER BY {q('id')} LIMIT 1), "
        f"(SELECT COUNT(*) FROM {links}), (SELECT COALESCE(SUM({q('team_id')}), 0) FROM {links})"
    )


def fingerprint() -> Fingerprint:
    """Changes whenever what is stored changes (read on every call: one small statement)."""
    row = first(sql(("sla_store_fingerprint",), _fingerprint_sql), [])
    assert row is not None
    return (row[0], int(row[1]), int(row[2]))


def _load(fp: Fingerprint) -> StoredSla:
    calendars: dict[str, Calendar] = {}
    default = None
    for row in CalendarRow.objects.order_by("name"):
        # Stored definitions were validated when written; a bad one (edited by hand in the
        # database) is left out rather than failing every ticket update.
        try:
            calendars[row.name] = calendar_from_dict(row.definition)
        except ValueError:
            continue
        if row.is_default:
            default = row.name
    teams = {
        team_id: name
        for team_id, name in TeamCalendar.objects.values_list("team_id", "calendar__name")
    }
    policies = tuple(
        dict(p.definition, name=p.name) for p in SlaPolicy.objects.order_by("position", "id")
    )
    try:
        compiled = compile_policies(list(policies), known_calendars=list(calendars))
    except PolicyError:
        # Stored policies were validated when written; a set that no longer compiles (edited
        # in the database by hand) applies no SLA rather than failing every ticket update.
        compiled = ()
    return StoredSla(fp, calendars, default, teams, policies, compiled)


def current() -> StoredSla:
    """The stored state, read again only when the fingerprint changed."""
    global _held
    fp = fingerprint()
    held = _held
    if held is not None and held.fingerprint == fp:
        return held
    loaded = _load(fp)
    with _lock:
        _held = loaded
    return loaded


def for_write(w: TicketWrite) -> StoredSla:
    """``current()`` once per ticket update: every hook of the update reads the same state."""
    held: StoredSla | None = w.hook_state.get(STORE_KEY)
    if held is None:
        held = w.hook_state[STORE_KEY] = current()
    return held


def chosen_calendar(ticket: Ticket) -> str | None:
    """The calendar the ticket's channel chose (a mailbox's: ``Ticket.source["calendar"]``)."""
    chosen = (ticket.source or {}).get("calendar")
    return chosen if isinstance(chosen, str) else None


def calendar_of_write(w: TicketWrite) -> str | None:
    """The calendar the ticket of this write works by, as of the write's stored state."""
    return for_write(w).calendar_for_team(w.ticket.team_id, chosen_calendar(w.ticket))


def calendars() -> dict[str, Calendar]:
    """The compiled calendars by name (shared: do not change the dict)."""
    return current().calendars


def default_calendar_name() -> str | None:
    return current().default


def team_calendar_name(team_id: int | None) -> str | None:
    """The calendar attached to the team (None: no team, or no calendar attached)."""
    if team_id is None:
        return None
    return current().teams.get(team_id)


def calendar_name_for(team_id: int | None, chosen: str | None = None) -> str | None:
    """The calendar a ticket of this team works by: the channel's choice (``chosen``), else
    the team's, else the default, else None."""
    return current().calendar_for_team(team_id, chosen)


def stored_policies() -> list[dict[str, Any]]:
    """The SLA policy definitions in order (first match wins), each with its ``name``; a copy,
    so a caller may change it. Cache a compiled form by ``fingerprint()``."""
    return copy.deepcopy(list(current().policies))


def compiled_policies() -> tuple[CompiledPolicy, ...]:
    """The stored SLA policies, compiled once per fingerprint (shared, immutable)."""
    return current().compiled


def _bump() -> None:
    token = uuid.uuid4().hex
    if not SlaStoreVersion.objects.update(token=token, changed_at=utcnow()):
        SlaStoreVersion.objects.create(token=token)


@contextmanager
def changing() -> Iterator[None]:
    """The transaction of every write of calendars, team links or policies. The token changes
    first and again last: a read of the cache in the middle (half-written state) is held under
    a token nobody will see committed."""
    with transaction.atomic():
        _bump()
        yield
        _bump()


def forget() -> None:
    """Drop what this process holds (tests; the fingerprint makes it unnecessary otherwise)."""
    global _held
    with _lock:
        _held = None
