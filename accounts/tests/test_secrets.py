"""Bank secrets stay secret: a canary login and password, and a SimpleFIN access URL, never show in
a database dump, a log, a task row, an API answer, an email or an error page; a damaged ciphertext
fails loudly and asks the user to link again; key rotation survives being killed halfway."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection as db

from accounts.credentials import BankCredentials, credentials_encrypt
from accounts.models import Connection, SyncJob
from accounts.tests.ofx_servers import ACCOUNT_ID, BANK_ID, ofx_server, server_url, statement
from mint.tests.factories import UserFactory
from transactions.services import sync_job_run

CANARY_LOGIN = "canary-login-5b1e"
CANARY_PASSWORD = "canary-pass-9c2d7"


@pytest.fixture
def permissive_bank():
    """An OFX server that answers a statement for any login: the canary reaches a real exchange."""
    server = ofx_server(statement(20))
    yield server_url(server)
    server.shutdown()
    server.server_close()


def database_dump() -> str:
    """Every row the app stores, as `dumpdata` writes it (django-q2's task and schedule tables included)."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    dump = out.getvalue()
    if db.vendor == "postgresql":
        database = db.settings_dict
        dump += subprocess.run(  # noqa: S603
            [
                shutil.which("pg_dump") or "/usr/bin/pg_dump",
                "-h",
                database["HOST"],
                "-p",
                str(database["PORT"]),
                "-U",
                database["USER"],
                database["NAME"],
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return dump


@pytest.mark.django_db
def test_canary_credentials_appear_nowhere(
    user_client,
    user,
    client,
    permissive_bank,
    simplefin_bridge,
    mailoutbox,
    capfd,
    caplog,
    django_capture_on_commit_callbacks,
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        linked = user_client.post(
            "/api/v1/account",
            {
                "account_url": permissive_bank,
                "account_login": CANARY_LOGIN,
                "account_password": CANARY_PASSWORD,
                "account_id": ACCOUNT_ID,
                "bank_id": BANK_ID,
            },
            format="json",
        )
        simplefin = user_client.post(
            "/api/v1/connections/simplefin", {"setup_token": simplefin_bridge.setup_token()}, format="json"
        )
    assert (linked.status_code, simplefin.status_code) == (201, 201), (linked.content, simplefin.content)
    bridge = Connection.objects.get(user=user, provider="simplefin")
    from accounts.services import connection_credentials

    access_password = urlsplit(connection_credentials(connection=bridge).access_url).password
    assert access_password
    canaries = (CANARY_LOGIN, CANARY_PASSWORD, access_password)

    # A failure path: the bank refuses the login, the user is told by email and in the app.
    ofx = Connection.objects.get(user=user, provider="ofx")
    simplefin_bridge.revoke()
    job = SyncJob.objects.create(connection=bridge, user=user, trigger=SyncJob.Trigger.DAILY)
    with django_capture_on_commit_callbacks(execute=True):
        sync_job_run(job_id=job.pk)
    assert mailoutbox, "the needs-attention email was sent"
    # The credentials typed again through the page, and what it answers.
    client.force_login(user)
    credentials_page = client.post(
        f"/accounts/connections/{ofx.pk}/credentials/", {"login": CANARY_LOGIN, "password": CANARY_PASSWORD + "x"}
    )

    answers = [
        user_client.get(path).content.decode()
        for path in (
            "/api/v1/connections/",
            f"/api/v1/connections/{ofx.pk}/",
            f"/api/v1/connections/{bridge.pk}/",
            "/api/v1/accounts/",
            "/api/v1/sync-jobs/",
            "/api/v1/notifications/",
            "/api/v1/transactions/",
        )
    ]
    pages = [client.get(path).content.decode() for path in ("/accounts/", "/", "/notifications/")]
    emails = [f"{message.subject}\n{message.body}\n{message.alternatives}" for message in mailoutbox]
    captured = capfd.readouterr()
    places = {
        "database dump": database_dump(),
        "logs": caplog.text + captured.out + captured.err,
        "API answers": "\n".join(answers),
        "pages": "\n".join(pages) + credentials_page.content.decode(),
        "emails": "\n".join(emails),
    }
    for where, text in places.items():
        for canary in canaries:
            assert canary not in text, f"a secret is in the {where}"


@pytest.mark.django_db
def test_a_damaged_ciphertext_fails_loudly_and_asks_to_link_again(user, permissive_bank, caplog):
    token = credentials_encrypt(BankCredentials(CANARY_LOGIN, CANARY_PASSWORD))
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    connection = Connection.objects.create(
        user=user, url=permissive_bank, encrypted_credentials=flipped, history_from="2026-01-01"
    )
    job = SyncJob.objects.create(connection=connection, user=user, trigger=SyncJob.Trigger.DAILY)

    outcome = sync_job_run(job_id=job.pk)

    connection.refresh_from_db()
    assert outcome.status == "needs-attention"
    assert connection.status == Connection.Status.NEEDS_ATTENTION
    assert "could not be read. Please enter it again" in connection.last_error
    assert "do not decrypt" in caplog.text  # loud, for the operators: a key is missing or data is damaged


@pytest.mark.django_db(transaction=True)
def test_key_rotation_over_10000_credentials_survives_a_kill_halfway(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old_key]
    user = UserFactory.create()
    token = credentials_encrypt(BankCredentials(CANARY_LOGIN, CANARY_PASSWORD))
    old = MultiFernet([Fernet(old_key)])
    Connection.objects.bulk_create(
        Connection(
            user=user,
            url="https://ofx.example-bank.com/ofx",
            encrypted_credentials=old.rotate(token.encode()).decode() if n else token,
            history_from="2026-01-01",
        )
        for n in range(10_000)
    )

    def rotated() -> int:
        sample = Connection.objects.order_by("pk").values_list("encrypted_credentials", flat=True)[::50]
        newest = Fernet(new_key)
        count = 0
        for stored in sample:
            try:
                newest.decrypt(stored.encode())
            except InvalidToken:
                continue
            count += 1
        return count * 50

    database = db.settings_dict
    url = (
        f"sqlite:///{database['NAME']}"
        if db.vendor == "sqlite"
        else f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "CREDENTIALS_KEYS": f"{new_key},{old_key}"}
    command = [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), "rotate_credentials"]
    rotation = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 120
    while rotated() < 2_500 and rotation.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    rotation.send_signal(signal.SIGKILL)
    rotation.wait()

    halfway = rotated()
    assert 0 < halfway < 10_000, f"not killed halfway ({halfway} of 10,000 rotated)"
    both = MultiFernet([Fernet(new_key), Fernet(old_key)])
    assert all(
        json.loads(both.decrypt(stored.encode()))["password"] == CANARY_PASSWORD
        for stored in Connection.objects.values_list("encrypted_credentials", flat=True)
    )

    subprocess.run(command, env=env, check=True, capture_output=True)  # noqa: S603  (the rerun)

    newest_only = Fernet(new_key)
    assert all(
        json.loads(newest_only.decrypt(stored.encode()))["password"] == CANARY_PASSWORD
        for stored in Connection.objects.values_list("encrypted_credentials", flat=True)
    )
