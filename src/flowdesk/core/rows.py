"""Hot-path reads and writes without the ORM's per-query compilation.

Building and compiling a queryset costs far more than running it: on the 2-core reference
machine a token lookup with its user and organization took 560 us through the ORM and 18 us as
the same SQL on a cursor. A ticket create runs a handful of such lookups (the token, the
requester, the active rule set's head, the custom fields, a team named by a rule), so the few
that every request or every update makes are written here as SQL over the models' own table and
column names and turned into model instances with the same database converters the ORM applies
(datetimes on SQLite, JSON everywhere). Everything else uses the ORM.

The writes of a ticket update (the ticket, its update row, messages, events) are the same kind of
cost: ``insert``, ``insert_many`` and ``update_fields`` are ``save(force_insert=True)``,
``bulk_create`` and ``save(update_fields=...)`` with the statement built once per model and
column list. They prepare every value with the field's own ``pre_save`` and
``get_db_prep_save`` as the ORM does; they send no model signals (flowdesk connects none to the
models they write).

Statements run on the default connection's cursor, so they take part in the caller's
transaction and show up in Django's query capture like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def _db() -> Any:
    """This thread's connection itself (``django.db.connection`` is a proxy that looks it up
    on every attribute access: measurable when it is read once per column)."""
    return connections[DEFAULT_DB_ALIAS]


Converter = Callable[[Any, Any, Any], Any]


class Rows(Generic[M]):
    """The columns of ``model`` under a table alias, and a row's slice turned into an instance
    (``Model.from_db``: a loaded instance, as the ORM makes it)."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list[list[tuple[Converter, Any]]]] = {}

    @property
    def table(self) -> str:
        return f"{_q(self.model._meta.db_table)} {_q(self.alias)}"

    def columns(self) -> str:
        return ", ".join(f"{_q(self.alias)}.{_q(f.column)}" for f in self.fields)

    def column(self, name: str) -> str:
        field = self.model._meta.get_field(name)
        column = getattr(field, "column", None)
        if not isinstance(column, str):
            raise TypeError(f"{self.model.__name__}.{name} is not a column")
        return f"{_q(self.alias)}.{_q(column)}"

    def __len__(self) -> int:
        return len(self.fields)

    def build(self, row: Sequence[Any], start: int = 0) -> M | None:
        """The instance in ``row[start:start + len(self)]``; None for a LEFT JOIN's missing
        row (its primary key is NULL)."""
        db = _db()
        values = list(row[start : start + len(self.fields)])
        if values[self._pk_index()] is None:
            return None
        for i, steps in enumerate(self._converters_for()):
            for convert, expression in steps:
                values[i] = convert(values[i], expression, db)
        return self.model.from_db(db.alias, self.attnames, values)

    def _pk_index(self) -> int:
        return next(i for i, f in enumerate(self.fields) if f.primary_key)

    def _converters_for(self) -> list[list[tuple[Converter, Any]]]:
        """What the ORM's compiler applies to each column on this database (per vendor)."""
        db = _db()
        vendor = db.vendor
        cached = self._converters.get(vendor)
        if cached is None:
            cached = []
            for f in self.fields:
                col = f.get_col(self.model._meta.db_table)
                steps = db.ops.get_db_converters(col) + col.get_db_converters(db)
                cached.append([(step, col) for step in steps])
            self._converters[vendor] = cached
        return cached


def _q(name: str) -> str:
    return str(_db().ops.quote_name(name))


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def first(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


_SQL: dict[tuple[Any, ...], str] = {}


def sql(key: tuple[Any, ...], build: Callable[[], str]) -> str:
    """A statement built once per database vendor and ``key``."""
    full = (_db().vendor, *key)
    text = _SQL.get(full)
    if text is None:
        text = _SQL[full] = build()
    return text


def _insert_fields(obj: Model) -> list[Field[Any, Any]]:
    return [
        f
        for f in obj._meta.concrete_fields
        if not (f.primary_key and getattr(obj, f.attname) is None)
    ]


def _insert_sql(
    model: type[Model], fields: list[Field[Any, Any]], rows: int, returning: bool, ignore: bool
) -> str:
    """``ignore``: a row a unique key already holds is skipped (SQLite ``OR IGNORE``,
    PostgreSQL ``ON CONFLICT DO NOTHING``)."""
    meta = model._meta
    sqlite = _db().vendor == "sqlite"
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = "INSERT OR IGNORE INTO" if ignore and sqlite else "INSERT INTO"
    tail = " ON CONFLICT DO NOTHING" if ignore and not sqlite else ""
    tail += f" RETURNING {_q(meta.pk.column)}" if returning else ""
    return (
        f"{head} {_q(meta.db_table)} ({', '.join(_q(f.column) for f in fields)}) "
        f"VALUES {', '.join([one] * rows)}{tail}"
    )


def _values(obj: Model, fields: list[Field[Any, Any]], add: bool) -> list[Any]:
    db = _db()
    return [f.get_db_prep_save(f.pre_save(obj, add), db) for f in fields]


def _loaded(obj: Model, pk: Any) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS


#: rows per INSERT statement (far below SQLite's limit on bound parameters)
CHUNK = 200


def insert(obj: Model) -> None:
    """``obj.save(force_insert=True)``: one INSERT; the new primary key is set on ``obj``."""
    insert_many([obj])


def insert_many(objs: Sequence[Model], *, returning: bool = True) -> None:
    """``bulk_create(objs)`` for instances of one model: one INSERT per ``CHUNK`` rows; every
    instance gets its primary key. An instance whose key is set already (``reserve_ids``) is
    inserted with it, and ``returning=False`` (nobody reads the keys) reads none back: such an
    INSERT waits for no answer (a pipelined round sends it without a round trip) and, inside
    ``deferred_writes``, is sent with the others of its kind at the end."""
    if not objs:
        return
    returning = returning and objs[0].pk is None
    _insert(objs, ignore=False, returning=returning)


def insert_ignore(objs: Sequence[Model]) -> None:
    """``bulk_create(objs, ignore_conflicts=True)``: rows a unique key already holds are
    skipped; no primary key is read back (deferred like ``insert_many(returning=False)``)."""
    if objs:
        _insert(objs, ignore=True, returning=False)


def _insert(objs: Sequence[Model], *, ignore: bool, returning: bool) -> None:
    model = type(objs[0])
    fields = _insert_fields(objs[0])
    params = [_values(obj, fields, True) for obj in objs]
    buffer = _DEFERRED.get()
    if buffer is not None and not returning:
        key = (model, tuple(f.attname for f in fields), ignore)
        buffer.inserts.setdefault(key, (model, fields, []))[2].extend(params)
        buffer.wait(model._meta.db_table)
        for obj in objs:
            _loaded(obj, obj.pk)
        return
    pks = _insert_rows(model, fields, params, ignore=ignore, returning=returning)
    for obj, pk in zip(objs, pks, strict=True):
        _loaded(obj, obj.pk if pk is None else pk)


def _insert_rows(
    model: type[Model],
    fields: list[Field[Any, Any]],
    params: list[list[Any]],
    *,
    ignore: bool,
    returning: bool,
) -> list[Any]:
    """The rows inserted, ``CHUNK`` per statement; their new keys (None each without
    ``returning``)."""
    db = _db()
    names = tuple(f.attname for f in fields)
    out: list[Any] = []
    for start in range(0, len(params), CHUNK):
        chunk = params[start : start + CHUNK]
        text = sql(
            ("insert", model, names, len(chunk), returning, ignore),
            partial(_insert_sql, model, fields, len(chunk), returning, ignore),
        )
        with db.cursor() as cursor:
            cursor.execute(text, [v for row in chunk for v in row])
            out += [row[0] for row in cursor.fetchall()] if returning else [None] * len(chunk)
    return out


def reserve_ids(model: type[Model], n: int) -> list[int]:
    """``n`` primary keys drawn from the table's sequence (PostgreSQL), for rows inserted later
    with their key set; an unused one is a gap, as a rolled-back insert leaves. Elsewhere:
    none (the rows get theirs when inserted)."""
    db = _db()
    if db.vendor != "postgresql" or n <= 0:
        return []
    meta = model._meta
    text = sql(
        ("reserve_ids", model),
        lambda: (
            f"SELECT nextval(pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}')) "
            "FROM generate_series(1, %s)"
        ),
    )
    return [int(row[0]) for row in fetch(text, [n])]


@dataclass
class _Deferred:
    #: (model, column names, ignore) -> (model, fields, rows of values), in first-use order
    inserts: dict[tuple[Any, ...], tuple[type[Model], list[Field[Any, Any]], list[list[Any]]]]
    #: statement -> its parameter rows, in first-use order
    updates: dict[str, list[list[Any]]]
    #: the tables with writes waiting, and a pattern finding any of them in a statement
    tables: set[str] = field(default_factory=set)
    pattern: re.Pattern[str] | None = None
    flushes: int = 0

    def wait(self, table: str) -> None:
        if table not in self.tables:
            self.tables.add(table)
            names = "|".join(re.escape(t) for t in sorted(self.tables))
            self.pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{names})(?![A-Za-z0-9_])")

    def reads_waiting(self, sql: str) -> bool:
        """Whether ``sql`` reads (SELECT, or WITH ... SELECT) a table with writes waiting."""
        if self.pattern is None or not sql.lstrip()[:6].upper().startswith(("SELECT", "WITH")):
            return False
        return self.pattern.search(sql) is not None


_DEFERRED: ContextVar[_Deferred | None] = ContextVar("deferred_writes", default=None)


@contextmanager
def deferred_writes() -> Iterator[None]:
    """Within: the writes that read nothing back (``update_fields``, ``insert_ignore``,
    ``insert_many`` of rows with their keys set or ``returning=False``) are collected and sent
    at the end, one multi-row INSERT per kind of row and one ``executemany`` per kind of UPDATE:
    a round of timer firings (timers.services) sends a handful of statements instead of five per
    firing. Every INSERT goes before every UPDATE (an UPDATE may be of a row inserted in the
    round; no write of the round updates a row and then inserts it), and the updates of one
    statement keep their order. The rows are not in the database until then: whatever reads
    them: a statement that reads a table with writes waiting sends them first (a wrapper on the
    connection looks for the table names in every SELECT), so a read inside never misses a
    write of the round; ``flush_deferred`` sends them early by hand. On an error nothing is sent
    (the caller's transaction rolls back)."""
    buffer = _Deferred({}, {})
    token = _DEFERRED.set(buffer)

    def flush_before_reading(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if buffer.reads_waiting(sql):
            buffer.flushes += 1
            _flush(buffer)
        return execute(sql, params, many, context)

    try:
        with _db().execute_wrapper(flush_before_reading):
            yield
            _flush(buffer)
    finally:
        _DEFERRED.reset(token)


def deferred_flushes() -> int:
    """How many times, so far in the current ``deferred_writes`` block, a read sent the waiting
    writes early (benchmarks and tests: a round that reads what it wrote flushes per firing)."""
    buffer = _DEFERRED.get()
    return buffer.flushes if buffer is not None else 0


def flush_deferred() -> None:
    """Send what ``deferred_writes`` collected so far (before reading those rows)."""
    buffer = _DEFERRED.get()
    if buffer is not None:
        _flush(buffer)


def _flush(buffer: _Deferred) -> None:
    inserts, updates = list(buffer.inserts.items()), list(buffer.updates.items())
    buffer.inserts.clear()
    buffer.updates.clear()
    buffer.tables.clear()
    buffer.pattern = None
    for (_, _, ignore), (model, fields, rows) in inserts:
        _insert_rows(model, fields, rows, ignore=ignore, returning=False)
    for text, rows in updates:
        with _db().cursor() as cursor:
            if len(rows) == 1:
                cursor.execute(text, rows[0])
            else:
                cursor.executemany(text, rows)


def update_fields(obj: Model, names: Sequence[str]) -> None:
    """``obj.save(update_fields=names)`` for a row known to exist: one UPDATE by primary key."""
    model = type(obj)
    meta = model._meta
    fields: list[Field[Any, Any]] = [meta.get_field(n) for n in names]  # type: ignore[misc]

    def build() -> str:
        assignments = ", ".join(f"{_q(f.column)} = %s" for f in fields)
        return f"UPDATE {_q(meta.db_table)} SET {assignments} WHERE {_q(meta.pk.column)} = %s"

    text = sql(("update", model, tuple(names)), build)
    params = [*_values(obj, fields, False), obj.pk]
    buffer = _DEFERRED.get()
    if buffer is not None:
        buffer.updates.setdefault(text, []).append(params)
        buffer.wait(meta.db_table)
        return
    with _db().cursor() as cursor:
        cursor.execute(text, params)
