"""Set-based writes the ORM has no spelling for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model


def increment_upsert(
    model: type[Model],
    *,
    keys: Sequence[str],
    increments: Sequence[str],
    replaces: Sequence[str] = (),
    rows: Sequence[dict[str, Any]],
) -> None:
    """Insert rows; where a row with the same key exists, add to its counters instead.

    One `INSERT ... ON CONFLICT (keys) DO UPDATE SET n = n + excluded.n` for all rows. It is
    atomic per row on PostgreSQL and SQLite, so concurrent writers adding to the same row
    lose nothing. Rows are written in key order, so two writers lock shared rows in the
    same order and cannot deadlock. `keys` must be the columns of a unique constraint.
    """
    if not rows:
        return
    columns = [*keys, *increments, *replaces]
    fields = {name: cast(Field, model._meta.get_field(name)) for name in columns}
    ordered = sorted(rows, key=lambda row: tuple(row[key] for key in keys))
    params = [fields[name].get_db_prep_value(row[name], connection) for row in ordered for name in columns]
    table = model._meta.db_table
    names = [fields[name].column for name in columns]
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(ordered))
    updates = [
        f"{fields[name].column} = {table}.{fields[name].column} + excluded.{fields[name].column}" for name in increments
    ]
    updates += [f"{fields[name].column} = excluded.{fields[name].column}" for name in replaces]
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES {placeholders} "  # noqa: S608  (identifiers from model meta)
        f"ON CONFLICT ({', '.join(fields[name].column for name in keys)}) DO UPDATE SET {', '.join(updates)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
