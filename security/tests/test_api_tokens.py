"""API tokens: made at sign-in (one per device), listed, revoked at once, stored only as a digest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient

from mint.tests.factories import USER_PASSWORD
from security.authentication import (
    CachedTokenAuthentication,
    api_token_cache_key,
    api_token_revoked_cache_key,
    api_token_revoked_marker_timeout,
)
from security.models import ApiToken, AuditEvent
from security.services import API_TOKENS_PER_USER, api_token_create, api_token_key_hash, api_token_revoke

pytestmark = pytest.mark.django_db


def sign_in(username: str, password: str = USER_PASSWORD, **extra) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def every_stored_value() -> str:
    """Every row of every table, as text: where a key must not be."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608  (table names from the database itself)
            rows.extend(cursor.fetchall())
    return repr(rows)


def test_the_old_request_shape_still_gets_a_token_that_works(user):
    body = sign_in(user.username)
    assert set(body) >= {"token", "id", "name", "prefix"}
    assert body["name"] == "API token"
    assert body["token"].startswith(body["prefix"])
    assert with_key(body["token"]).get("/api/v1/accounts/").status_code == 200


def test_a_form_encoded_sign_in_works_too(user):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": USER_PASSWORD}, format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["token"]


def test_each_device_gets_its_own_named_token(user):
    phone = sign_in(user.username, name="iPhone")
    laptop = sign_in(user.username, device="Work laptop")
    assert phone["token"] != laptop["token"]
    assert list(user.api_tokens.order_by("pk").values_list("name", flat=True)) == ["iPhone", "Work laptop"]
    assert with_key(phone["token"]).get("/api/v1/accounts/").status_code == 200
    assert with_key(laptop["token"]).get("/api/v1/accounts/").status_code == 200


def test_a_wrong_password_makes_no_token(user):
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "nope", "name": "x"})
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not ApiToken.objects.exists()


def test_only_a_digest_of_the_key_is_stored(user):
    body = sign_in(user.username, name="iPhone")
    key = body["token"]
    token = ApiToken.objects.get(pk=body["id"])
    assert token.key_hash == api_token_key_hash(key)
    with_key(key).get("/api/v1/accounts/")  # used: nothing about the use stores it either
    stored = every_stored_value()
    assert key not in stored
    assert key[len(body["prefix"]) :] not in stored
    assert token.key_hash in stored


def test_the_list_shows_my_tokens_without_keys_and_marks_the_one_in_use(user, other_user):
    phone = sign_in(user.username, name="iPhone")
    sign_in(user.username, name="iPad")
    sign_in(other_user.username, name="Theirs")
    response = with_key(phone["token"]).get("/api/v1/tokens/")
    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["iPad", "iPhone"]
    assert set(rows[0]) == {"id", "name", "prefix", "created_at", "last_used_at", "expires_at", "current"}
    assert [row["current"] for row in rows] == [False, True]
    assert phone["token"] not in response.content.decode()
    assert ApiToken.objects.get(pk=phone["id"]).key_hash not in response.content.decode()


def test_a_revoked_token_stops_working_at_once_though_it_was_cached(user):
    phone = sign_in(user.username, name="iPhone")
    laptop = sign_in(user.username, name="Laptop")
    phone_client = with_key(phone["token"])
    assert phone_client.get("/api/v1/accounts/").status_code == 200  # cached now
    assert cache.get(api_token_cache_key(api_token_key_hash(phone["token"]))) is not None

    assert with_key(laptop["token"]).delete(f"/api/v1/tokens/{phone['id']}/").status_code == 204
    assert phone_client.get("/api/v1/accounts/").status_code == 401
    assert with_key(laptop["token"]).get("/api/v1/accounts/").status_code == 200
    revoked = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED)
    assert revoked.user == user
    assert revoked.detail == {"token_id": phone["id"], "name": "iPhone", "prefix": phone["prefix"], "reason": "revoked"}


def test_another_users_token_cannot_be_revoked(user, other_user, user_client):
    theirs = sign_in(other_user.username)
    assert user_client.delete(f"/api/v1/tokens/{theirs['id']}/").status_code == 404
    assert with_key(theirs["token"]).get("/api/v1/accounts/").status_code == 200


def test_logout_revokes_the_token_in_use_only(user):
    phone = sign_in(user.username, name="iPhone")
    laptop = sign_in(user.username, name="Laptop")
    client = with_key(phone["token"])
    assert client.get("/api/v1/accounts/").status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/accounts/").status_code == 401
    assert with_key(laptop["token"]).get("/api/v1/accounts/").status_code == 200
    assert AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED).detail["reason"] == "signed out"


def test_logout_without_a_token_is_refused(user_client, api_client):
    assert user_client.post("/api/v1/auth/logout/").status_code == 400
    assert api_client.post("/api/v1/auth/logout/").status_code == 401


def test_a_warm_token_costs_no_query_and_last_used_is_written_once_an_hour(user, django_assert_num_queries):
    new = api_token_create(user=user, name="iPhone")
    auth = CachedTokenAuthentication()
    with django_assert_num_queries(2):  # the token with its user, then last_used_at (never used)
        auth.authenticate_credentials(new.key)
    first_use = ApiToken.objects.get(pk=new.token.pk).last_used_at
    assert first_use is not None

    with django_assert_num_queries(0):
        authenticated_user, token = auth.authenticate_credentials(new.key)
    assert (authenticated_user.pk, token.pk) == (user.pk, new.token.pk)

    cache.clear()  # the entry expired: read again, but used within the hour, so not written
    with django_assert_num_queries(1):
        auth.authenticate_credentials(new.key)

    an_hour_ago = timezone.now() - dt.timedelta(hours=1, minutes=1)
    ApiToken.objects.filter(pk=new.token.pk).update(last_used_at=an_hour_ago)
    cache.clear()
    with django_assert_num_queries(2):
        auth.authenticate_credentials(new.key)
    last_used_at = ApiToken.objects.get(pk=new.token.pk).last_used_at
    assert last_used_at is not None
    assert last_used_at > an_hour_ago


def test_a_warm_request_costs_no_query(user, django_assert_num_queries):
    client = with_key(api_token_create(user=user, name="iPhone").key)
    assert client.get("/api/v1/spending/current").status_code == 200  # cold, and the day's first request
    with django_assert_num_queries(0):
        assert client.get("/api/v1/spending/current").status_code == 200


def test_an_expired_token_is_refused_even_from_the_cache(user):
    body = sign_in(user.username, name="Short", expires_in_days=1)
    token = ApiToken.objects.get(pk=body["id"])
    assert token.expires_at is not None
    assert dt.timedelta(hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=1)
    client = with_key(body["token"])
    assert client.get("/api/v1/accounts/").status_code == 200
    cached = cache.get(api_token_cache_key(token.key_hash))
    cached.expires_at = timezone.now() - dt.timedelta(seconds=1)  # the clock passed it while cached
    cache.set(api_token_cache_key(token.key_hash), cached)
    assert client.get("/api/v1/accounts/").status_code == 401


def test_past_the_limit_the_least_recently_used_token_goes(user):
    first = api_token_create(user=user, name="old phone")
    ApiToken.objects.filter(pk=first.token.pk).update(created_at=timezone.now() - dt.timedelta(days=400))
    for number in range(API_TOKENS_PER_USER - 1):
        api_token_create(user=user, name=f"device {number}")
    assert user.api_tokens.count() == API_TOKENS_PER_USER
    api_token_create(user=user, name="new phone")
    assert user.api_tokens.count() == API_TOKENS_PER_USER
    assert not user.api_tokens.filter(name="old phone").exists()
    assert AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED).detail["reason"] == "limit"


def test_making_a_token_is_audited_without_the_key(user):
    body = sign_in(user.username, name="iPhone")
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_CREATED)
    assert event.user == user
    assert event.detail == {"token_id": body["id"], "name": "iPhone", "prefix": body["prefix"]}
    assert event.ip == "127.0.0.1"
    assert body["token"] not in repr(list(AuditEvent.objects.values()))


def test_deactivating_the_user_stops_their_cached_tokens(user):
    client = with_key(api_token_create(user=user).key)
    assert client.get("/api/v1/accounts/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/v1/accounts/").status_code == 401


def test_a_request_that_read_the_token_before_its_revocation_committed_cannot_keep_it_cached(
    user, monkeypatch, django_capture_on_commit_callbacks
):
    """The order the review found: the request reads the row, the revocation commits (its cache
    delete runs), then the request caches what it read. The next request must still be refused."""
    new = api_token_create(user=user, name="phone")
    ApiToken.objects.filter(pk=new.token.pk).update(last_used_at=timezone.now())  # a pure read: no mark-used write
    read_row = CachedTokenAuthentication._load

    def read_then_revoke(key_hash: str) -> ApiToken:
        token = read_row(key_hash)
        with django_capture_on_commit_callbacks(execute=True):  # ...and it commits
            api_token_revoke(token=ApiToken.objects.get(pk=new.token.pk))
        return token

    monkeypatch.setattr(CachedTokenAuthentication, "_load", staticmethod(read_then_revoke))
    CachedTokenAuthentication().authenticate_credentials(new.key)  # in flight before the revocation
    monkeypatch.undo()
    assert cache.get(api_token_cache_key(new.token.key_hash)) is not None  # the stale entry was written

    with pytest.raises(AuthenticationFailed):
        CachedTokenAuthentication().authenticate_credentials(new.key)
    assert with_key(new.key).get("/api/v1/accounts/").status_code == 401


def test_a_revoked_marker_outlives_the_cached_entry(user, settings, django_capture_on_commit_callbacks):
    settings.AUTH_TOKEN_CACHE_TIMEOUT = 300
    new = api_token_create(user=user, name="phone")
    with django_capture_on_commit_callbacks(execute=True):
        api_token_revoke(token=new.token)
    marker = api_token_revoked_cache_key(new.token.key_hash)
    assert cache.get(marker) is True
    assert api_token_revoked_marker_timeout() > settings.AUTH_TOKEN_CACHE_TIMEOUT


def test_a_revocation_rolled_back_leaves_the_token_working(user, django_capture_on_commit_callbacks):
    new = api_token_create(user=user, name="phone")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        api_token_revoke(token=new.token)
        raise RuntimeError("rolled back")
    assert with_key(new.key).get("/api/v1/accounts/").status_code == 200


def test_changing_the_password_signs_out_every_app(client, user):
    phone = with_key(api_token_create(user=user, name="phone").key)
    laptop = with_key(api_token_create(user=user, name="laptop").key)
    assert phone.get("/api/v1/accounts/").status_code == 200  # cached
    client.force_login(user)
    page = client.get("/security/").content.decode()
    assert "every app" in page

    new_password = "a new long pass phrase"
    response = client.post(
        "/security/password/",
        {"old_password": USER_PASSWORD, "new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Other browsers and apps signed in as you are signed out." in response.content.decode()
    assert phone.get("/api/v1/accounts/").status_code == 401
    assert laptop.get("/api/v1/accounts/").status_code == 401
    assert not ApiToken.objects.filter(user=user).exists()
    reasons = AuditEvent.objects.filter(user=user, action=AuditEvent.Action.TOKEN_REVOKED).values_list(
        "detail__reason", flat=True
    )
    assert list(reasons) == ["password changed", "password changed"]
    assert client.get("/security/").status_code == 200  # this browser stays signed in
