import pytest

from accounts.credentials import BankCredentials, credentials_encrypt
from accounts.tests.factories import AccountFactory, ConnectionFactory
from mint.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_connection_admin_never_shows_the_credentials(client):
    secret = credentials_encrypt(BankCredentials("canary-login", "canary-pw"))
    connection = ConnectionFactory.create(encrypted_credentials=secret)
    AccountFactory.create(user=connection.user, connection=connection)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    pages = [
        client.get("/admin/accounts/connection/"),
        client.get(f"/admin/accounts/connection/{connection.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert "canary" not in body
        assert connection.encrypted_credentials not in body
