"""Two-factor sign-in: turning it on and off, the code step, replays and recovery codes."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from mint.tests.factories import USER_PASSWORD
from security import services
from security.models import AuditEvent, RecoveryCode, SignInFailureCount
from security.tests.factories import TOTPDeviceFactory
from security.tests.helpers import app_code

pytestmark = pytest.mark.django_db

CODE_STEP = "/security/sign-in/code/"


@pytest.fixture(autouse=True)
def _one_window(settings):
    settings.LOGIN_ACCOUNT_WINDOW_SECONDS = 10**9
    settings.LOGIN_IP_WINDOW_SECONDS = 10**9


@pytest.fixture
def device(user) -> TOTPDevice:
    return TOTPDeviceFactory.create(user=user)


@pytest.fixture
def recovery_codes(user, device) -> list[str]:
    return services.recovery_codes_regenerate(user=user)


def password_step(client, user, next_url: str = ""):
    return client.post(f"/login/{next_url}", {"username": user.username, "password": USER_PASSWORD})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def codes_on(page: str) -> list[str]:
    return re.findall(r"<code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code>", page)


def test_turning_it_on_shows_the_secret_and_qr_then_the_recovery_codes_once(client, user):
    client.force_login(user)
    page = client.get("/security/").content.decode()
    assert "Turn on two-factor sign-in" in page

    setup = client.get("/security/two-factor/")
    assert setup["Cache-Control"] == "no-store"
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert '<svg width="' in setup.content.decode()
    assert 'class="qr"' in setup.content.decode()
    assert services.two_factor_secret(device=device) in setup.content.decode()
    assert client.get("/security/two-factor/").context["secret"] == services.two_factor_secret(device=device)

    wrong = client.post(
        "/security/two-factor/",
        {"password": USER_PASSWORD, "code": "000000" if app_code(device) != "000000" else "111111"},
    )
    assert "That code is not right" in wrong.content.decode()
    assert not services.two_factor_is_enabled(user=user)

    device.throttle_reset()  # the wrong code above started django-otp's back-off
    response = client.post("/security/two-factor/", {"password": USER_PASSWORD, "code": app_code(device)})
    codes = codes_on(response.content.decode())
    assert len(set(codes)) == 10
    assert response["Cache-Control"] == "no-store"
    assert services.two_factor_is_enabled(user=user)
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.TWO_FACTOR_ENABLED).count() == 1

    page = client.get("/security/").content.decode()
    assert "10 of 10 recovery codes left" in page
    assert codes_on(page) == []  # shown that once only


def test_turning_it_on_needs_the_password_checked_within_the_limits(client, user, settings):
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 2
    client.force_login(user)
    assert 'autocomplete="current-password"' in client.get("/security/two-factor/").content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    missing = client.post("/security/two-factor/", {"code": app_code(device)})
    assert "This field is required" in missing.content.decode()
    for _ in range(2):
        wrong = client.post("/security/two-factor/", {"password": "not my password", "code": app_code(device)})
        assert "That is not your password" in wrong.content.decode()
    assert not services.two_factor_is_enabled(user=user)
    assert SignInFailureCount.objects.get(scope="account").failures == 2

    blocked = client.post("/security/two-factor/", {"password": USER_PASSWORD, "code": app_code(device)})
    assert "Too many failed sign-in attempts for this account" in blocked.content.decode()
    assert not services.two_factor_is_enabled(user=user)
    assert not AuditEvent.objects.filter(user=user, action=AuditEvent.Action.TWO_FACTOR_ENABLED).exists()

    SignInFailureCount.objects.all().delete()
    response = client.post("/security/two-factor/", {"password": USER_PASSWORD, "code": app_code(device)})
    assert len(codes_on(response.content.decode())) == 10
    assert services.two_factor_is_enabled(user=user)
    assert SignInFailureCount.objects.get(scope="account").failures == 0  # the right password is given back


def test_sign_in_asks_for_the_code_and_signs_in_only_when_it_is_right(client, user, device):
    response = password_step(client, user, "?next=/budgets/")
    assert response["Location"] == CODE_STEP
    assert not signed_in(client)
    assert client.get("/")["Location"].startswith("/login/")

    wrong = client.post(CODE_STEP, {"code": "12345" + str((int(app_code(device)[-1]) + 1) % 10)})
    assert "That code is not right" in wrong.content.decode()
    assert not signed_in(client)
    assert AuditEvent.objects.get(user=user, action=AuditEvent.Action.LOGIN_FAILED).detail == {"step": "code"}

    device.throttle_reset()
    response = client.post(CODE_STEP, {"code": app_code(device)})
    assert response["Location"] == "/budgets/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.LOGIN).count() == 1


def test_a_code_already_used_is_refused(client, user, device):
    code = app_code(device)
    password_step(client, user)
    assert client.post(CODE_STEP, {"code": code})["Location"] == "/"
    client.post("/logout/")

    password_step(client, user)
    replay = client.post(CODE_STEP, {"code": code})
    assert "That code is not right" in replay.content.decode()
    assert not signed_in(client)
    device.refresh_from_db()
    assert device.last_t >= 0  # django-otp remembers the time step of the last code used


def test_a_wrong_code_then_the_right_one_at_once_waits_out_the_back_off(client, user, device, recovery_codes):
    password_step(client, user)
    client.post(CODE_STEP, {"code": "000000" if app_code(device) != "000000" else "111111"})
    response = client.post(CODE_STEP, {"code": app_code(device)})
    assert "Too many wrong codes in a row" in response.content.decode()
    assert not signed_in(client)
    assert client.post(CODE_STEP, {"code": recovery_codes[0]})["Location"] == "/"


def test_code_attempts_count_towards_the_account_limit(client, user, device, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's own back-off would refuse most of them first
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 5
    password_step(client, user)
    right = app_code(device)
    for n in range(5):
        wrong = f"{(int(right) + 1 + n) % 1_000_000:06d}"
        assert "That code is not right" in client.post(CODE_STEP, {"code": wrong}).content.decode()
    response = client.post(CODE_STEP, {"code": right})
    assert "Too many failed sign-in attempts for this account" in response.content.decode()
    assert not signed_in(client)
    assert SignInFailureCount.objects.get(scope="account").failures == 5  # the right password was not counted


def test_a_recovery_code_signs_in_once(client, user, recovery_codes):
    password_step(client, user)
    assert client.post(CODE_STEP, {"code": recovery_codes[3].upper().replace("-", " ")})["Location"] == "/"
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.RECOVERY_CODE_USED).count() == 1
    assert services.recovery_codes_left(user=user) == 9
    client.post("/logout/")

    password_step(client, user)
    again = client.post(CODE_STEP, {"code": recovery_codes[3]})
    assert "That code is not right" in again.content.decode()
    assert not signed_in(client)
    assert client.post(CODE_STEP, {"code": recovery_codes[4]})["Location"] == "/"


def test_recovery_codes_are_stored_only_as_keyed_digests(user, recovery_codes):
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    database = dump.getvalue().lower()
    for code in recovery_codes:
        assert code not in database
        assert code.replace("-", "") not in database
    rows = list(RecoveryCode.objects.filter(user=user))
    assert len(rows) == 10
    assert len({row.salt for row in rows}) == 10
    assert all(re.fullmatch(r"[0-9a-f]{64}", row.digest) for row in rows)


def test_new_recovery_codes_replace_the_old_ones(client, user, recovery_codes):
    client.force_login(user)
    wrong = client.post("/security/two-factor/recovery-codes/", {"secret": "not my password"})
    assert "neither your password nor a current code" in wrong.content.decode()

    response = client.post("/security/two-factor/recovery-codes/", {"secret": USER_PASSWORD})
    new_codes = codes_on(response.content.decode())
    assert len(new_codes) == 10
    assert not set(new_codes) & set(recovery_codes)
    assert not services.recovery_code_use(user=user, code=recovery_codes[0])
    assert services.recovery_code_use(user=user, code=new_codes[0])
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.RECOVERY_CODES_REGENERATED).exists()


def test_turning_it_off_with_the_password(client, user, recovery_codes):
    client.force_login(user)
    assert "Turn off" in client.get("/security/").content.decode()
    response = client.post("/security/two-factor/off/", {"secret": USER_PASSWORD})
    assert response["Location"] == "/security/#two-factor"
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.TWO_FACTOR_DISABLED).count() == 1

    client.post("/logout/")
    assert password_step(client, user)["Location"] == "/"  # no code asked any more


def test_turning_it_off_with_a_code(client, user, device):
    client.force_login(user)
    assert "neither your password" in client.post("/security/two-factor/off/", {"secret": "999"}).content.decode()
    client.post("/security/two-factor/off/", {"secret": app_code(device)})
    assert not services.two_factor_is_enabled(user=user)


def test_the_code_step_expires(client, user, device, settings):
    password_step(client, user)
    settings.LOGIN_CODE_STEP_SECONDS = 0
    response = client.post(CODE_STEP, {"code": app_code(device)})
    assert response["Location"] == "/login/"
    assert not signed_in(client)
    assert client.get(CODE_STEP)["Location"] == "/login/"  # nothing pending without a password step


def test_audit_details_hold_no_code(client, user, device, recovery_codes):
    password_step(client, user)
    client.post(CODE_STEP, {"code": recovery_codes[0]})
    stored = repr(list(AuditEvent.objects.values()))
    assert recovery_codes[0] not in stored
    assert recovery_codes[0].replace("-", "") not in stored
    assert USER_PASSWORD not in stored
