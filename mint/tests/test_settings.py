"""Production-style settings: start-up refuses what is missing, and `check --deploy` is clean."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.test import override_settings

from mint.checks import check_credentials_keys, check_task_queue

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x7!kq2@p9#vLm4$Rt8&zWc1^Yb6*Hn3(Jd5)Fg0_Se2+Qa9-Ur4=To7~Ei1?Kw3",
    "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mint.example.com",
    "EMAIL_URL": "smtp+tls://alerts:pw@smtp.example.com:587",
    "DJANGO_SETTINGS_MODULE": "mint.settings",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}
    for key in ("SECRET_KEY", "CREDENTIALS_KEYS", "TASKS_SYNC", "DEMO_MODE", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        clean.pop(key, None)
    return subprocess.run(  # noqa: S603
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_refuses_demo_mode_and_warns_about_undelivered_email():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "EMAIL_URL"}
    result = manage("check", "--deploy", env={**env, "DEMO_MODE": "1"})
    assert result.returncode != 0
    assert "mint.E004" in result.stderr
    assert "mint.W001" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CREDENTIALS_KEYS"])
def test_missing_secret_outside_debug_stops_startup_with_a_clear_message(missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_task_queue_check_requires_retry_above_timeout():
    broken = {**settings.Q_CLUSTER, "timeout": 300, "retry": 300}
    with override_settings(Q_CLUSTER=broken):
        assert [error.id for error in check_task_queue(None)] == ["mint.E002"]
    assert check_task_queue(None) == []


def test_credentials_keys_check_rejects_a_malformed_key():
    with override_settings(CREDENTIALS_KEYS=["not-a-fernet-key"]):
        assert [error.id for error in check_credentials_keys(None)] == ["mint.E003"]


@pytest.mark.django_db
def test_every_page_has_a_content_security_policy_and_api_money_is_not_stored(client, user_client, user):
    client.force_login(user)
    for path in ("/", "/accounts/", "/transactions/", "/login/"):
        assert "script-src 'self'" in client.get(path)["Content-Security-Policy"], path
    assert user_client.get("/api/v1/transactions/")["Cache-Control"] == "no-store"
    assert user_client.get("/api/v1/connections/")["Cache-Control"] == "no-store"
    # The widget keeps its own caching, for the mobile app's offline copy.
    assert "stale-if-error" in user_client.get("/api/v1/spending/current")["Cache-Control"]
