"""Every API error has one shape: `detail` to show, `code` for programs, and field messages for a 400."""

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import SyncJob
from accounts.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] == code
    return body


def test_a_refused_field_says_so_by_field_and_as_one_sentence(user_client):
    body = assert_error(user_client.post("/api/v1/budgets/", {"category": "no-such", "amount": "10"}), 400, "invalid")
    assert body["category"] == [body["detail"]]


def test_a_refusal_of_the_whole_request_is_under_non_field_errors(api_client, user):
    body = assert_error(
        api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "no"}), 400, "invalid"
    )
    assert body["non_field_errors"] == [body["detail"]]


def test_no_credentials_a_bad_token_and_someone_elses_row(api_client, user_client, other_user):
    assert_error(api_client.get("/api/v1/transactions/"), 401, "not_authenticated")
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert_error(api_client.get("/api/v1/transactions/"), 401, "authentication_failed")
    theirs = ConnectionFactory.create(user=other_user)
    assert_error(user_client.get(f"/api/v1/connections/{theirs.pk}/"), 404, "not_found")


def test_unknown_urls_and_methods(user_client):
    assert_error(user_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(user_client.get("/api/v1/transactions/1.5/"), 404, "not_found")
    assert_error(user_client.delete("/api/v1/categories/"), 405, "method_not_allowed")


def test_a_refresh_moments_after_the_last_one(user_client, user):
    connection = ConnectionFactory.create(user=user)
    SyncJob.objects.create(
        connection=connection,
        user=user,
        trigger=SyncJob.Trigger.MANUAL,
        status=SyncJob.Status.DONE,
        finished_at=timezone.now(),
    )
    body = assert_error(user_client.post(f"/api/v1/connections/{connection.pk}/refresh"), 429, "throttled")
    assert body["job"]["id"]


@override_settings(LOGIN_IP_MAX_FAILURES=1)
def test_too_many_sign_in_failures(user):
    client = APIClient()
    client.post("/api/v1/auth/token/", {"username": user.username, "password": "no"})
    assert_error(client.post("/api/v1/auth/token/", {"username": user.username, "password": "no"}), 429, "throttled")
