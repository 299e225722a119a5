"""The data migration that moves DRF authtoken keys into ApiToken, hashed, and empties the old table."""

from __future__ import annotations

import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from security.models import ApiToken
from security.services import api_token_key_hash

pytestmark = pytest.mark.django_db

OLD_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's shape: 40 hex characters
MADE = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
migration = importlib.import_module("security.migrations.0004_api_token_from_authtoken")


@pytest.fixture
def old_authtoken_table():
    """The table as rest_framework.authtoken made it (that app is no longer installed)."""
    with connection.cursor() as cursor:
        created = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
        cursor.execute(f"CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created {created}, user_id bigint)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")


def run_migration() -> None:
    state = MigrationExecutor(connection).loader.project_state(("security", "0004_api_token_from_authtoken"))
    # The function uses only the editor's connection; SQLite refuses a real editor inside the test's transaction.
    migration.move_authtoken_keys(state.apps, SimpleNamespace(connection=connection))


def test_old_keys_keep_working_stored_as_digests(old_authtoken_table, user, other_user):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s), (%s, %s, %s)",
            [OLD_KEY, MADE, user.pk, "a" * 40, MADE + dt.timedelta(days=30), other_user.pk],
        )
    run_migration()
    run_migration()  # safe to run again: nothing moved twice

    token = ApiToken.objects.get(user=user)
    assert (token.key_hash, token.prefix, token.name) == (api_token_key_hash(OLD_KEY), OLD_KEY[:6], "API token")
    assert token.created_at == MADE
    assert ApiToken.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # the keys in the clear are gone

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {OLD_KEY}")
    assert client.get("/api/v1/accounts/").status_code == 200


def test_a_database_without_the_old_table_is_left_alone(user):
    run_migration()
    assert not ApiToken.objects.exists()
