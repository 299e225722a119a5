"""Failed sign-ins are limited per account (100 an hour) and per address, on every way in."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import RequestFactory

from mint.tests.factories import USER_PASSWORD, UserFactory
from security import services
from security.models import AuditEvent, SignInFailureCount
from security.services import SignInBlocked

pytestmark = pytest.mark.django_db

TEN_PAST = dt.datetime(2026, 11, 20, 10, 10, tzinfo=dt.UTC)
BLOCKED_FOR_ACCOUNT = "Too many failed sign-in attempts for this account"
BLOCKED_FOR_ADDRESS = "Too many failed sign-in attempts from your network"


def request_from(ip: str):
    request = RequestFactory().post("/login/", REMOTE_ADDR=ip)
    request.user = AnonymousUser()
    return request


def password_check(username: str, password: str, *, ip: str, now: dt.datetime):
    return services.sign_in_check_password(request=request_from(ip), username=username, password=password, now=now)


@pytest.fixture
def one_window(settings):
    """Windows far longer than a test, so a test through the pages (on the real clock) never
    straddles two. The figures themselves are tested with `now` passed in."""
    settings.LOGIN_ACCOUNT_WINDOW_SECONDS = 10**9
    settings.LOGIN_IP_WINDOW_SECONDS = 10**9


def test_the_101st_attempt_in_an_hour_is_refused_even_with_the_right_password(user, other_user):
    # From 100 different addresses: the account's limit holds however the attempts are spread.
    for n in range(100):
        assert (
            password_check(user.username, "wrong", ip=f"198.51.100.{n}", now=TEN_PAST + dt.timedelta(seconds=n)) is None
        )

    with pytest.raises(SignInBlocked) as blocked:
        password_check(user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST + dt.timedelta(minutes=40))
    assert blocked.value.until == dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)
    assert blocked.value.retry_after == 10 * 60
    with pytest.raises(SignInBlocked) as wrong_password_blocked:
        password_check(user.username, "wrong", ip="203.0.113.9", now=TEN_PAST + dt.timedelta(minutes=41))
    assert str(wrong_password_blocked.value) == str(blocked.value)  # nothing told about the password

    # Another account is not affected, nor is the same one in the next hour.
    assert password_check(other_user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST) == other_user
    assert password_check(user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST + dt.timedelta(hours=1)) == user


def test_successes_do_not_count_and_the_name_is_counted_case_blind(user):
    for n in range(99):
        password_check(user.username.upper(), "wrong", ip=f"198.51.100.{n}", now=TEN_PAST)
    for _ in range(5):
        assert password_check(user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST) == user
    password_check(user.username, "wrong", ip="203.0.113.9", now=TEN_PAST)  # the 100th failure
    with pytest.raises(SignInBlocked):
        password_check(user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST)


def test_an_address_failing_across_accounts_is_blocked_for_every_account(user, settings):
    assert settings.LOGIN_IP_MAX_FAILURES == 50
    assert settings.LOGIN_IP_WINDOW_SECONDS == 15 * 60
    for n in range(50):  # a password sprayed over many names, most of them not users at all
        password_check(f"someone{n}", "Summer2026!", ip="192.0.2.66", now=TEN_PAST)

    with pytest.raises(SignInBlocked, match=BLOCKED_FOR_ADDRESS) as blocked:
        password_check(user.username, USER_PASSWORD, ip="192.0.2.66", now=TEN_PAST + dt.timedelta(minutes=1))
    assert blocked.value.until == dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.UTC)
    # Another address is not affected; the blocked one is let in again after the window.
    assert password_check(user.username, USER_PASSWORD, ip="192.0.2.67", now=TEN_PAST) == user
    assert password_check(user.username, USER_PASSWORD, ip="192.0.2.66", now=TEN_PAST + dt.timedelta(minutes=5)) == user
    # The account's own count holds only its own failures.
    assert not SignInFailureCount.objects.filter(scope="account", key=user.username.casefold()).exclude(failures=0)


def test_an_ipv6_address_is_counted_by_its_64(user, settings):
    settings.LOGIN_IP_MAX_FAILURES = 3
    for n in range(3):
        password_check(f"someone{n}", "x", ip=f"2001:db8:1:2::{n + 1:x}", now=TEN_PAST)
    with pytest.raises(SignInBlocked, match=BLOCKED_FOR_ADDRESS):
        password_check(user.username, USER_PASSWORD, ip="2001:db8:1:2:ffff::1", now=TEN_PAST)
    assert password_check(user.username, USER_PASSWORD, ip="2001:db8:1:3::1", now=TEN_PAST) == user
    assert services.sign_in_address_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_a_block_is_recorded_once_per_window_and_failures_each_time(user):
    for n in range(100):
        password_check(user.username, "wrong", ip=f"198.51.100.{n}", now=TEN_PAST)
    for _ in range(3):
        with pytest.raises(SignInBlocked):
            password_check(user.username, USER_PASSWORD, ip="203.0.113.9", now=TEN_PAST)

    events = AuditEvent.objects.filter(user=user)
    assert events.filter(action=AuditEvent.Action.LOGIN_FAILED).count() == 100
    blocked = events.get(action=AuditEvent.Action.LOGIN_BLOCKED)
    assert blocked.detail == {"scope": "account", "until": "2026-11-20T11:00:00+00:00"}
    assert blocked.ip == "203.0.113.9"


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_never_check_more_than_the_limit(settings):
    """Twelve attempts at once against a limit of five: exactly five are let through to the
    password check, whichever database runs the conditional UPDATE."""
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 5
    start = threading.Barrier(12)

    def attempt(_: int) -> bool:
        try:
            start.wait()
            services.sign_in_attempt_start(username="target", request=None, now=TEN_PAST)
            return True
        except SignInBlocked:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        let_through = list(pool.map(attempt, range(12)))

    assert let_through.count(True) == 5
    assert SignInFailureCount.objects.get(scope="account", key="target").failures == 5
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_BLOCKED).count() == 1


def test_the_login_page_refuses_the_101st_attempt_with_a_clear_message(client, user, other_user, one_window):
    for n in range(100):
        response = client.post("/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR=f"10.0.0.{n}")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()

    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD}, REMOTE_ADDR="10.0.1.1")
    page = response.content.decode()
    assert response.status_code == 200
    assert BLOCKED_FOR_ACCOUNT in page
    assert "reset your password" in page
    assert "_auth_user_id" not in client.session
    wrong = client.post("/login/", {"username": user.username, "password": "wrong"}, REMOTE_ADDR="10.0.1.1")
    assert BLOCKED_FOR_ACCOUNT in wrong.content.decode()

    # Another account signs in as usual.
    response = client.post("/login/", {"username": other_user.username, "password": USER_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other_user.pk)


def test_the_login_page_blocks_an_address_failing_across_accounts(client, user, one_window):
    for n in range(50):
        client.post("/login/", {"username": f"someone{n}", "password": "x"}, REMOTE_ADDR="192.0.2.66")
    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD}, REMOTE_ADDR="192.0.2.66")
    assert BLOCKED_FOR_ADDRESS in response.content.decode()
    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD}, REMOTE_ADDR="192.0.2.67")
    assert response.status_code == 302


def test_the_admin_signs_in_through_the_same_page(client, one_window):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    response = client.get("/admin/login/?next=/admin/security/auditevent/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2Fsecurity%2Fauditevent%2F"
    # The admin's own form, which would take a password alone, is gone.
    assert client.post("/admin/login/", {"username": staff.username, "password": USER_PASSWORD}).status_code == 405
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

    for n in range(100):
        client.post("/login/?next=/admin/", {"username": staff.username, "password": "x"}, REMOTE_ADDR=f"10.0.0.{n}")
    blocked = client.post("/login/?next=/admin/", {"username": staff.username, "password": USER_PASSWORD})
    assert BLOCKED_FOR_ACCOUNT in blocked.content.decode()

    SignInFailureCount.objects.all().delete()
    response = client.post("/login/?next=/admin/", {"username": staff.username, "password": USER_PASSWORD})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_changing_the_password_checks_the_old_one_within_the_limits(client, user, settings, one_window):
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 3
    client.force_login(user)
    new = {"new_password1": "a new long pass phrase", "new_password2": "a new long pass phrase"}
    for _ in range(3):
        response = client.post("/security/password/", {"old_password": "wrong", **new})
        assert "Your old password was entered incorrectly" in response.content.decode()
    response = client.post("/security/password/", {"old_password": USER_PASSWORD, **new})
    assert BLOCKED_FOR_ACCOUNT in response.content.decode()

    SignInFailureCount.objects.all().delete()
    response = client.post("/security/password/", {"old_password": USER_PASSWORD, **new})
    assert response["Location"] == "/security/"
    user.refresh_from_db()
    assert user.check_password("a new long pass phrase")
    assert client.get("/security/").status_code == 200  # this browser stays signed in
    assert AuditEvent.objects.filter(user=user, action=AuditEvent.Action.PASSWORD_CHANGED).count() == 1


def test_sign_ins_and_sign_outs_are_audited_without_the_password(client, user, one_window):
    client.post("/login/", {"username": user.username, "password": "my-secret-guess"}, HTTP_USER_AGENT="Firefox/140")
    client.post("/login/", {"username": "my-secret-typo", "password": "x"})
    client.post("/login/", {"username": user.username, "password": USER_PASSWORD})
    client.post("/logout/")

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "user_id"))
    assert actions == [
        (AuditEvent.Action.LOGIN_FAILED, user.pk),
        (AuditEvent.Action.LOGIN_FAILED, None),
        (AuditEvent.Action.LOGIN, user.pk),
        (AuditEvent.Action.LOGOUT, user.pk),
    ]
    assert AuditEvent.objects.filter(ip="127.0.0.1").count() == 4
    stored = repr(list(AuditEvent.objects.values()))
    for secret in ("my-secret-guess", "my-secret-typo", USER_PASSWORD):
        assert secret not in stored


def test_old_counts_are_pruned(user):
    password_check(user.username, "wrong", ip="198.51.100.1", now=TEN_PAST)
    password_check(user.username, "wrong", ip="198.51.100.1", now=TEN_PAST + dt.timedelta(days=2))
    assert services.sign_in_failures_prune(now=TEN_PAST + dt.timedelta(days=2, minutes=5)) == 2  # account + address
    assert SignInFailureCount.objects.count() == 2


def test_an_account_limit_of_zero_turns_the_account_limit_off(client, user, settings, one_window):
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 0
    assert password_check(user.username, USER_PASSWORD, ip="198.51.100.1", now=TEN_PAST) == user
    for n in range(3):
        assert password_check(user.username, "wrong", ip=f"198.51.100.{n}", now=TEN_PAST) is None
    assert password_check(user.username, USER_PASSWORD, ip="198.51.100.9", now=TEN_PAST) == user
    assert not SignInFailureCount.objects.filter(scope=SignInFailureCount.Scope.ACCOUNT).exists()
    response = client.post("/login/", {"username": user.username, "password": USER_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_an_account_limit_of_zero_still_keeps_the_address_limit(user, settings):
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 0
    settings.LOGIN_IP_MAX_FAILURES = 2
    for _ in range(2):
        assert password_check(user.username, "wrong", ip="198.51.100.1", now=TEN_PAST) is None
    with pytest.raises(SignInBlocked) as blocked:
        password_check(user.username, USER_PASSWORD, ip="198.51.100.1", now=TEN_PAST)
    assert blocked.value.scope == SignInFailureCount.Scope.IP
