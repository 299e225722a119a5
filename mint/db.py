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
    inserts: Sequence[str] = (),
    rows: Sequence[dict[str, Any]],
) -> None:
    """Insert rows; where a row with the same key exists, add to its counters instead.

    One `INSERT ... ON CONFLICT (keys) DO UPDATE SET n = n + excluded.n` for all rows: the
    `increments` are added, the `replaces` overwritten, the `inserts` only written by the
    insert. It is atomic per row on PostgreSQL and SQLite, so concurrent writers adding to
    the same row lose nothing. Rows are written in key order, so two writers lock shared
    rows in the same order and cannot deadlock. `keys` must be a unique constraint's columns.
    """
    if not rows:
        return
    names = [*keys, *increments, *replaces, *inserts]
    fields = {name: cast(Field, model._meta.get_field(name)) for name in names}
    column = {name: cast(str, fields[name].column) for name in names}
    ordered = sorted(rows, key=lambda row: tuple(row[key] for key in keys))
    params = [fields[name].get_db_prep_value(row[name], connection) for row in ordered for name in names]
    table = model._meta.db_table
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(ordered))
    updates = [f"{column[name]} = {table}.{column[name]} + excluded.{column[name]}" for name in increments]
    updates += [f"{column[name]} = excluded.{column[name]}" for name in replaces]
    sql = (
        f"INSERT INTO {table} ({', '.join(column[name] for name in names)}) VALUES {placeholders} "  # noqa: S608
        f"ON CONFLICT ({', '.join(column[name] for name in keys)}) DO UPDATE SET {', '.join(updates)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
