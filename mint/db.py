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


def transaction_lock(name: str) -> None:
    """Hold a lock named `name` until the current transaction ends.

    PostgreSQL: an advisory transaction lock. SQLite needs none: with transaction_mode
    IMMEDIATE a writing transaction already holds the database's single write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


def insert_new(model: type[Model], *, keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Insert rows whose key is not there yet; return the keys of the rows that were new.

    `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so concurrent writers agree on who was first.
    """
    if not rows:
        return []
    fields = {name: cast(Field, model._meta.get_field(name)) for name in keys}
    column = {name: cast(str, fields[name].column) for name in keys}
    params = [fields[name].get_db_prep_value(row[name], connection) for row in rows for name in keys]
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(keys)) + ")"] * len(rows))
    names = ", ".join(column[name] for name in keys)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({names}) VALUES {placeholders} "  # noqa: S608  (identifiers from model meta)
        f"ON CONFLICT ({names}) DO NOTHING RETURNING {names}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def transaction_locks(names: Sequence[str]) -> None:
    """`transaction_lock` for many names in one statement, taken in sorted order."""
    if connection.vendor == "postgresql" and names:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(name)) FROM unnest(%s::text[]) AS name ORDER BY name",
                [sorted(set(names))],
            )
