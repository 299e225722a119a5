"""Move DRF's authtoken keys into ApiToken, hashed, and empty the old table.

rest_framework.authtoken is no longer installed, so its model cannot be loaded: the old table
is read with SQL when it exists (a database made before this change) and skipped when it does
not (a new one). Each key keeps working for its app: it is stored as its sha256, as new keys
are. The old rows are then deleted, since they hold the keys in the clear; the empty table is
left for its migrations' record (drop it by hand once nothing rolls back to the old release).
Safe to run again: a key already moved is not moved twice.
"""

import datetime as dt
import hashlib

from django.db import migrations
from django.utils.dateparse import parse_datetime

OLD_TABLE = "authtoken_token"
BATCH = 1000


def _aware(created):
    """A raw SELECT gives SQLite's stored UTC text or a naive datetime; PostgreSQL an aware one."""
    if isinstance(created, str):
        created = parse_datetime(created)
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    return created


def move_authtoken_keys(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("security", "ApiToken")
    quote = connection.ops.quote_name
    select = (
        f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {quote(OLD_TABLE)}"
        f" WHERE {quote('key')} > %s ORDER BY {quote('key')} LIMIT {BATCH}"
    )
    after = ""
    while True:  # in key order, a batch at a time: millions of rows never sit in memory at once
        with connection.cursor() as cursor:
            cursor.execute(select, [after])
            rows = cursor.fetchall()
        if not rows:
            break
        after = rows[-1][0]
        by_hash = {hashlib.sha256(key.encode()).hexdigest(): (key, user_id, created) for key, user_id, created in rows}
        moved = set(ApiToken.objects.filter(key_hash__in=by_hash).values_list("key_hash", flat=True))
        new = ApiToken.objects.bulk_create(
            ApiToken(user_id=user_id, name="API token", key_hash=key_hash, prefix=key[:6])
            for key_hash, (key, user_id, _) in by_hash.items()
            if key_hash not in moved
        )
        for token in new:
            token.created_at = _aware(by_hash[token.key_hash][2]) or token.created_at  # auto_now_add wrote "now"
        ApiToken.objects.bulk_update(new, ["created_at"])
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(OLD_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0003_api_token"),
    ]

    operations = [
        migrations.RunPython(move_authtoken_keys, migrations.RunPython.noop),
    ]
