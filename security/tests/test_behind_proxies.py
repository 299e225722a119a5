"""Where a request comes from behind proxies, and what staff can see of a user's second factor."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from mint.tests.factories import USER_PASSWORD, UserFactory
from security.models import AuditEvent
from security.services import client_ip
from security.tests.factories import TOTPDeviceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # served directly: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the client prepended a made-up hop
        (2, "203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer hops than proxies: not what the proxies write
        (1, "not-an-address", None),
    ],
)
def test_the_client_address_is_counted_from_the_right(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_sign_ins_behind_a_proxy_are_counted_per_client(settings, client):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_IP_MAX_FAILURES = 3
    user = UserFactory()
    for _ in range(3):
        client.post(
            "/login/",
            {"username": "nobody", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    # Another client behind the same proxy is not blocked by the first one's failures.
    response = client.post(
        "/login/",
        {"username": user.username, "password": USER_PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(action=AuditEvent.Action.LOGIN).ip == "203.0.113.10"


def test_staff_cannot_read_a_users_totp_key_in_the_admin(admin_client):
    device = TOTPDeviceFactory.create()
    page = admin_client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk])).content.decode()
    assert device.key not in page


def test_the_admins_password_change_is_the_sites(admin_client):
    response = admin_client.get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"] == reverse("security:password-change")
