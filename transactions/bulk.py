"""Bulk ingestion: many users' statements in one database transaction, through set-based SQL.

`statements_ingest` does one user per transaction with ORM calls: right for a sync job, too
slow for a backfill, the data generator or a large file. `statements_ingest_bulk` gives the
same rows and the same monthly_spending for the same input (a test holds this), with a fixed
number of statements per batch instead of a few per user:

1. lock every account of the batch by pk, then every user's spending lock (in lock-name
   order, the order `transaction_locks` and `spending_rebuild` use, so two multi-user writers
   cannot deadlock), as statements_ingest does for one user;
2. read the users' rules in one query and categorize every line in Python with the same
   categorizer;
3. COPY the candidate rows into a TEMP staging table;
4. one statement: the keys into the key table (`INSERT ... SELECT FROM staging ON CONFLICT
   (account_id, external_id) DO NOTHING RETURNING`, the dedupe authority: see TransactionKey),
   the staged rows whose keys were new into the transactions table under the ids allocated
   for them beforehand, the aggregate upsert grouped from exactly the rows inserted, and the
   counts the caller needs (new rows per user and month, unmatched merchants);
5. a line that restates a pending row the table already holds (posted now, or another amount
   or date) goes through statements_ingest, which updates that row and its deltas: it is
   rare, and correctness matters more than speed there. New pending lines are inserted here
   like any other (statements_ingest does the same);
6. balances, unmatched merchants, the payload's status, and after commit the cache refresh and
   the budget check of every user touched (`after_spending_change_many`: one cache refresh and
   one budget task for the batch, not one of each per user).

On a database other than PostgreSQL it runs statements_ingest for each user, in user-id
order, inside one transaction: the same result, without COPY. There is no `window`: dropping
pending rows a fetch no longer lists belongs to the sync of one connection (statements_ingest).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account
from accounts.providers.base import Statement, StatementLine
from categories.categorizer import get_categorizer
from categories.models import CategorySource
from categories.selectors import category_ids_by_path, user_rules_for_users
from categories.services import unmatched_merchants_record_many
from mint.db import transaction_locks

from .aggregates import after_spending_change_many, spending_lock_name
from .models import MonthlySpending, RawPayload, Transaction, TransactionKey
from .services import ImportResult, statements_ingest

UserStatements = Mapping[int, Sequence[tuple[Account, Statement]]]

STAGING = "transactions_ingest_staging"
STAGED_COLUMNS = (
    "seq",
    "id",
    "account_id",
    "user_id",
    "external_id",
    "posted_on",
    "amount",
    "currency",
    "description",
    "memo",
    "mcc",
    "pending",
    "merchant_id",
    "merchant_key",
    "category_id",
    "category_source",
    "raw_payload_id",
)
_STAGING_DDL = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING} (
    seq integer NOT NULL, id bigint NOT NULL, account_id bigint NOT NULL, user_id bigint NOT NULL,
    external_id text NOT NULL, posted_on date NOT NULL, amount numeric(14, 2) NOT NULL, currency text NOT NULL,
    description text NOT NULL, memo text NOT NULL, mcc text NOT NULL, pending boolean NOT NULL,
    merchant_id bigint, merchant_key text NOT NULL, category_id bigint NOT NULL, category_source text NOT NULL,
    raw_payload_id bigint
) ON COMMIT DELETE ROWS
"""
# Copied columns that are the table's own, in the table's names.
_INSERTED = [name for name in STAGED_COLUMNS if name != "seq"]
_STAGED_INSERTED = ", ".join(f"s.{name}" for name in _INSERTED)


@dataclass(frozen=True)
class _Candidate:
    account: Account
    user_id: int
    line: StatementLine
    currency: str


def statements_ingest_bulk(
    *, batch: UserStatements, raw_payload: RawPayload | None = None, replay: bool = False, refresh_cache: bool = True
) -> dict[int, ImportResult]:
    """Import many users' statements in one transaction: rows, aggregates, all or nothing.

    `batch` maps each user id to that user's (account, statement) pairs, as statements_ingest
    takes them; every account must belong to the user it is listed under. A `raw_payload`
    (one user's upload) is recorded on the rows and marked imported, as statements_ingest
    does. Replaying a batch inserts nothing and changes no total. Returns each user's result.
    A backfill of many users passes `refresh_cache=False`: their cached months are dropped
    after commit rather than refilled (see after_spending_change_many).
    """
    for user_id, pairs in batch.items():
        for account, _ in pairs:
            if account.user_id != user_id:
                raise ValueError(f"Account {account.pk} does not belong to user {user_id}.")
    if raw_payload is not None and set(batch) - {raw_payload.user_id}:
        raise ValueError("A raw payload belongs to one user; import other users' statements without it.")
    if connection.vendor != "postgresql":
        with transaction.atomic():
            return {
                user_id: statements_ingest(
                    user_id=user_id, statements=batch[user_id], raw_payload=raw_payload, replay=replay
                )
                for user_id in sorted(batch)
            }
    return _ingest_postgresql(batch, raw_payload, replay, refresh_cache)


def _ingest_postgresql(
    batch: UserStatements, raw_payload: RawPayload | None, replay: bool, refresh_cache: bool
) -> dict[int, ImportResult]:
    categorizer = get_categorizer()
    # One account's lines from every statement of its user; an external id seen twice counts
    # once (the first), as in statements_ingest.
    by_account: dict[int, dict[str, _Candidate]] = {}
    for user_id in sorted(batch):
        for account, statement in batch[user_id]:
            lines = by_account.setdefault(account.pk, {})
            for line in statement.lines:
                if not (replay and line.pending):
                    lines.setdefault(line.external_id, _Candidate(account, user_id, line, statement.currency))
    with transaction.atomic():
        locked = {
            account.pk: account
            for account in Account.objects.select_for_update().filter(pk__in=list(by_account)).order_by("pk")
        }
        transaction_locks([spending_lock_name(user_id) for user_id in batch])
        rules = user_rules_for_users(user_ids=batch)
        provider_categories = category_ids_by_path(
            candidate.line.category for lines in by_account.values() for candidate in lines.values()
        )
        payload_id = raw_payload.pk if raw_payload is not None else None
        rows = []
        seq = 0
        for lines in by_account.values():
            for external_id, candidate in lines.items():
                line = candidate.line
                decision = categorizer.categorize(
                    line.description,
                    amount=line.amount,
                    mcc=line.mcc,
                    provider_category=provider_categories.get(line.category),
                    user_rules=rules.get(candidate.user_id),
                )
                rows.append(
                    (
                        seq,
                        candidate.account.pk,
                        candidate.user_id,
                        external_id,
                        line.posted_on,
                        line.amount,
                        candidate.currency,
                        line.description,
                        line.memo,
                        line.mcc,
                        line.pending,
                        decision.merchant_id,
                        decision.merchant_key,
                        decision.category_id,
                        decision.source,
                        payload_id,
                    )
                )
                seq += 1
        new_by_user, months_by_user, unmatched = _insert_staged(rows)
        restated = _restate_pending(by_account, locked)
        for user_id in sorted(batch):
            for account, statement in batch[user_id]:
                account_services.account_balance_update(
                    account=locked[account.pk], balance=statement.balance, as_of=statement.balance_as_of
                )
        unmatched_merchants_record_many(seen_by_user=unmatched)
        lines_by_user: dict[int, int] = defaultdict(int)
        for lines in by_account.values():
            for candidate in lines.values():
                lines_by_user[candidate.user_id] += 1
        after_spending_change_many(months_by_user, refresh_cache=refresh_cache)
        results = {}
        for user_id in sorted(batch):
            new = new_by_user.get(user_id, 0)
            months = frozenset(months_by_user.get(user_id, ()))
            earlier = restated.get(user_id)
            results[user_id] = ImportResult(
                new=new,
                existing=lines_by_user[user_id] - new,
                months=months | (earlier.months if earlier else frozenset()),
                updated=earlier.updated if earlier else 0,
            )
        if raw_payload is not None:
            result = results.get(raw_payload.user_id, ImportResult(new=0, existing=0))
            RawPayload.objects.filter(pk=raw_payload.pk).update(
                status=RawPayload.Status.IMPORTED,
                rows_new=F("rows_new") + result.new,
                rows_existing=result.existing,
                error="",
            )
    return results


def _insert_staged(
    rows: list[tuple],
) -> tuple[dict[int, int], dict[int, set[dt.date]], dict[int, dict[str, tuple[int, str]]]]:
    """COPY the rows to staging, insert the new ones and their aggregate deltas in one statement.

    Returns new rows per user, the months each user's new rows fall in, and per user the
    unmatched merchants among the new rows (merchant key -> (rows, the last descriptor), the
    shape unmatched_merchants_record takes).
    """
    table = Transaction._meta.db_table
    keys = TransactionKey._meta.db_table
    spending = MonthlySpending._meta.db_table
    columns = ", ".join(_INSERTED)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_STAGING_DDL)
        # Empty even when an outer transaction (a test's) means no commit emptied it yet.
        cursor.execute(f"DELETE FROM {STAGING}")  # noqa: S608  (a constant name)
        # Ids before the insert, so the key and its row are written together in one statement;
        # in input order, as with bulk_create. A line already stored uses one up for nothing.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s) ORDER BY 1",
            [table, len(rows)],
        )
        ids = [row_id for (row_id,) in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {STAGING} ({', '.join(STAGED_COLUMNS)}) FROM STDIN") as copy:
            for row_id, row in zip(ids, rows, strict=True):
                copy.write_row((row[0], row_id, *row[1:]))
        # Only the rows whose keys were new go in; the grouped upsert touches each (user, month,
        # category) once, in key order, like monthly_spending_apply, so it never meets its own
        # row twice and locks in one order.
        cursor.execute(
            f"""
            WITH new_keys AS (
                INSERT INTO {keys} (account_id, external_id, transaction_id)
                SELECT account_id, external_id, id FROM {STAGING} ORDER BY seq
                ON CONFLICT (account_id, external_id) DO NOTHING
                RETURNING transaction_id
            ),
            inserted AS (
                INSERT INTO {table} ({columns}, created_at, updated_at)
                SELECT {_STAGED_INSERTED}, %(now)s, %(now)s
                FROM {STAGING} s JOIN new_keys k ON k.transaction_id = s.id ORDER BY s.seq
                RETURNING id, user_id, posted_on, amount, category_id, merchant_key, category_source, description
            ),
            deltas AS (
                INSERT INTO {spending} (user_id, month, category_id, amount, txn_count, updated_at)
                SELECT user_id, date_trunc('month', posted_on)::date, category_id, sum(amount), count(*), %(now)s
                FROM inserted GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (user_id, month, category_id) DO UPDATE
                SET amount = {spending}.amount + excluded.amount,
                    txn_count = {spending}.txn_count + excluded.txn_count,
                    updated_at = excluded.updated_at
            )
            SELECT 'month', user_id, date_trunc('month', posted_on)::date, NULL, count(*), NULL
            FROM inserted GROUP BY user_id, 3
            UNION ALL
            SELECT 'unmatched', user_id, NULL, merchant_key, count(*), (array_agg(description ORDER BY id DESC))[1]
            FROM inserted WHERE category_source = %(fallback)s AND merchant_key <> ''
            GROUP BY user_id, merchant_key
            """,  # noqa: S608  (identifiers from model meta and constants)
            {"now": now, "fallback": CategorySource.FALLBACK.value},
        )
        found = cursor.fetchall()
    new_by_user: dict[int, int] = defaultdict(int)
    months_by_user: dict[int, set[dt.date]] = defaultdict(set)
    unmatched: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for kind, user_id, month, merchant_key, count, example in found:
        if kind == "month":
            new_by_user[user_id] += count
            months_by_user[user_id].add(month)
        else:
            unmatched[user_id][merchant_key] = (count, example)
    return new_by_user, months_by_user, unmatched


def _restate_pending(
    by_account: dict[int, dict[str, _Candidate]], locked: dict[int, Account]
) -> dict[int, ImportResult]:
    """Hand the lines that restate a stored pending row to statements_ingest; its result per user.

    Only lines matching a pending row whose state, amount or date they change: an unchanged
    pending line changes nothing in either path. The new rows are already in; statements_ingest
    finds them and updates only the pending ones.

    The lookup is one index probe per staged line (LATERAL ... LIMIT 1; on PostgreSQL one per
    month partition). As a plain join
    the planner, knowing pending rows are rare, scans the whole table for them: 0.12 s per
    batch at a million rows, growing with the table.
    """
    table = Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.account_id, s.external_id FROM {STAGING} s
            CROSS JOIN LATERAL (
                SELECT t.pending, t.amount, t.posted_on FROM {table} t
                WHERE t.account_id = s.account_id AND t.external_id = s.external_id LIMIT 1
            ) t
            WHERE t.pending AND (NOT s.pending OR s.amount <> t.amount OR s.posted_on <> t.posted_on)
            ORDER BY s.account_id, s.seq
            """  # noqa: S608  (identifiers from model meta and constants)
        )
        changed = cursor.fetchall()
    if not changed:
        return {}
    by_user: dict[int, dict[int, list[StatementLine]]] = defaultdict(lambda: defaultdict(list))
    currencies: dict[int, str] = {}
    for account_id, external_id in changed:
        candidate = by_account[account_id][external_id]
        by_user[candidate.user_id][account_id].append(candidate.line)
        currencies[account_id] = candidate.currency
    results = {}
    for user_id in sorted(by_user):
        pairs = []
        for account_id, lines in by_user[user_id].items():
            account = locked[account_id]
            statement = Statement(
                account=account_services.account_ref(account=account),
                currency=currencies[account_id],
                lines=tuple(lines),
            )
            pairs.append((account, statement))
        results[user_id] = statements_ingest(user_id=user_id, statements=pairs)
    return results
