"""The intake's per-mail lookups as statements built once (``core.rows.sql``): every mail runs
them, and the ORM would compile each one again for every mail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

from flowdesk.core import rows


def first_row(
    model: type[Model],
    select: str,
    where: Sequence[tuple[str, str | int]],
    params: Sequence[Any],
    *,
    newest: bool = False,
) -> tuple[Any, ...] | None:
    """``SELECT select FROM model WHERE …  LIMIT 1``. ``where``: (column, op) pairs ANDed, op
    ``=`` or ``<`` (one parameter) or the number of parameters of an ``IN`` list; ``newest``:
    the row with the highest id."""

    def build() -> str:
        q = connection.ops.quote_name
        terms = [
            f"{q(col)} IN ({', '.join(['%s'] * op)})"
            if isinstance(op, int)
            else f"{q(col)} {op} %s"
            for col, op in where
        ]
        order = f" ORDER BY {q('id')} DESC" if newest else ""
        return (
            f"SELECT {q(select)} FROM {q(model._meta.db_table)} WHERE {' AND '.join(terms)}"
            f"{order} LIMIT 1"
        )

    key = ("mail_first_row", model._meta.label, select, tuple(where), newest)
    return rows.first(rows.sql(key, build), params)
