"""Full-text search of tickets: subject, messages (notes included: only agents search) and the
requester's name and e-mail, one interface over SQLite FTS5 and PostgreSQL full-text search.

Both databases index the same text: accent-folded and case-folded in Python (``fold``: "José"
and "jose" are one word, no ``unaccent`` extension needed) and reduced to words (``words``), so
the two tokenizers see plain space-separated words and agree. PostgreSQL uses the ``simple``
configuration (no stemming, no stop words), so Filipino, or any language, is searched as typed.

A query matches a ticket when every word of it appears (the last one as a prefix, for
search-as-you-type); results rank subject and requester words above message words (FTS5
``bm25`` with weights 10:1; ``ts_rank`` with weights A and D).

The index is kept by an update hook (``index_update``, registered in WebConfig.ready) inside
the ticket services' own transaction: a new ticket gets its document, a message is appended to
it, a subject change or a customer merge rewrites its head words. It writes only its own table,
never a ticket field. ``manage.py search_index`` rebuilds it (after a requester renamed
themselves, for example: that changes no ticket).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import BooleanField, FloatField, QuerySet
from django.db.models.expressions import RawSQL

from flowdesk.tickets.models import EventKind, Message, Ticket

if TYPE_CHECKING:
    from flowdesk.engine import Event
    from flowdesk.tickets.services import TicketWrite

TABLE = "web_searchdoc"
MAX_WORDS = 10
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents: NFKD, combining marks dropped, case-folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> str:
    return " ".join(_WORD.findall(fold(text)))


def query_words(q: str) -> list[str]:
    return _WORD.findall(fold(q))[:MAX_WORDS]


def head_text(subject: str, name: str, email: str) -> str:
    return words(f"{subject} {name} {email}")


class _Backend:
    def match_sql(self) -> str:
        raise NotImplementedError

    def rank_sql(self) -> str:
        raise NotImplementedError

    def expression(self, tokens: list[str]) -> str:
        raise NotImplementedError

    def upsert_sql(self) -> str:
        raise NotImplementedError


class _Sqlite(_Backend):
    def match_sql(self) -> str:
        return f'"{TABLE}" MATCH %s'

    def rank_sql(self) -> str:
        return f'-bm25("{TABLE}", 10.0, 1.0)'

    def expression(self, tokens: list[str]) -> str:
        # Tokens are word characters only: quoting them cannot break the FTS5 syntax.
        return " ".join(f'"{t}"' for t in tokens[:-1]) + f' "{tokens[-1]}"*'

    def upsert_sql(self) -> str:
        return f"INSERT OR REPLACE INTO {TABLE} (rowid, head, body) VALUES (%s, %s, %s)"


class _Postgres(_Backend):
    def match_sql(self) -> str:
        return f'"{TABLE}"."tsv" @@ to_tsquery(\'simple\', %s)'

    def rank_sql(self) -> str:
        return f'ts_rank("{TABLE}"."tsv", to_tsquery(\'simple\', %s))'

    def expression(self, tokens: list[str]) -> str:
        return " & ".join([*tokens[:-1], f"{tokens[-1]}:*"])

    def upsert_sql(self) -> str:
        return (
            f"INSERT INTO {TABLE} (rowid, head, body) VALUES (%s, %s, %s) ON CONFLICT (rowid) "
            "DO UPDATE SET head = EXCLUDED.head, body = EXCLUDED.body"
        )


def backend() -> _Backend:
    return _Postgres() if connection.vendor == "postgresql" else _Sqlite()


def search(qs: QuerySet[Ticket], q: str) -> QuerySet[Ticket]:
    """``qs`` narrowed to the tickets matching ``q``, annotated ``search_rank`` (higher is
    better). ``qs`` keeps its own filters, so a result is never outside the caller's scope."""
    tokens = query_words(q)
    if not tokens:
        return qs
    b = backend()
    expr = b.expression(tokens)
    rank_params = [expr] if "%s" in b.rank_sql() else []
    return (
        qs.filter(search_doc__isnull=False)
        .filter(RawSQL(b.match_sql(), [expr], output_field=BooleanField()))
        .annotate(search_rank=RawSQL(b.rank_sql(), rank_params, output_field=FloatField()))
    )


# --- writing the index -------------------------------------------------------------------


def _upsert(rows: Iterable[tuple[int, str, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.executemany(backend().upsert_sql(), list(rows))


def _append(ticket_id: int, text: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET body = body || %s WHERE rowid = %s", [" " + text, ticket_id]
        )
        return bool(cursor.rowcount)


def _documents(tickets: list[Ticket]) -> Iterator[tuple[int, str, str]]:
    bodies: dict[int, list[str]] = {t.pk: [] for t in tickets}
    messages = (
        Message.objects.filter(ticket_id__in=list(bodies))
        .order_by("ticket_id", "id")
        .values_list("ticket_id", "body_text")
    )
    for ticket_id, text in messages:
        bodies[ticket_id].append(words(text))
    for t in tickets:
        head = head_text(t.subject, t.requester.name, t.requester.email)
        yield t.pk, head, " ".join(bodies[t.pk])


def index_tickets(tickets: list[Ticket]) -> None:
    """(Re)write the documents of ``tickets`` (with their requesters loaded)."""
    _upsert(_documents(tickets))


#: events after which a ticket's head words (subject, requester) are written again
_HEAD_EVENTS = frozenset({EventKind.CUSTOMER_MERGED, EventKind.CUSTOMER_UNMERGED})


def _head_changed(w: TicketWrite) -> bool:
    return any(
        (e.kind == EventKind.FIELD_CHANGED and e.field == "subject") or e.kind in _HEAD_EVENTS
        for e in w.log.rows
    )


def index_update(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    """The update hook: a new ticket's document, or the messages of this update appended; a
    renamed subject or a new requester (a customer merge) rewrites the head words."""
    if not w.new and _head_changed(w):
        r = w.ticket.requester
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} SET head = %s WHERE rowid = %s",
                [head_text(w.ticket.subject, r.name, r.email), w.ticket.pk],
            )
    if not w.messages:
        return
    if len(w.messages) == 1 and w.latest is not None:
        texts = [w.latest.body_text]
    else:
        rows = Message.objects.filter(ticket_id=w.ticket.pk).order_by("-id")
        texts = list(rows.values_list("body_text", flat=True)[: len(w.messages)])[::-1]
    body = " ".join(words(t) for t in texts)
    if w.new:
        r = w.ticket.requester
        _upsert([(w.ticket.pk, head_text(w.ticket.subject, r.name, r.email), body)])
    elif not _append(w.ticket.pk, body):
        # A ticket from before the index existed: its whole document, once.
        index_tickets(list(Ticket.objects.select_related("requester").filter(pk=w.ticket.pk)))


def rebuild(batch: int = 2000) -> int:
    """Rewrite the whole index from the tickets and messages; returns the number of tickets."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
    done, last = 0, 0
    qs = (
        Ticket.objects.select_related("requester")
        .order_by("id")
        .only("id", "subject", "requester__name", "requester__email")
    )
    while chunk := list(qs.filter(pk__gt=last)[:batch]):
        index_tickets(chunk)
        done += len(chunk)
        last = chunk[-1].pk
    return done
