import pytest
from cryptography.fernet import Fernet

from accounts.credentials import (
    BankCredentials,
    CredentialsUnreadable,
    credentials_decrypt,
    credentials_encrypt,
    credentials_reencrypt,
)


def test_credentials_round_trip_without_plaintext_in_ciphertext():
    token = credentials_encrypt(BankCredentials("alice@bank", "hunter2-canary"))
    assert "hunter2-canary" not in token
    assert "alice@bank" not in token
    assert credentials_decrypt(token) == BankCredentials("alice@bank", "hunter2-canary")


def test_credentials_repr_hides_login_and_password():
    assert "hunter2" not in repr(BankCredentials("alice", "hunter2"))
    assert "alice" not in repr(BankCredentials("alice", "hunter2"))


def test_reencrypt_moves_credentials_to_the_newest_key(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old_key]
    token = credentials_encrypt(BankCredentials("alice", "pw"))

    settings.CREDENTIALS_KEYS = [new_key, old_key]
    rotated = credentials_reencrypt(token)

    settings.CREDENTIALS_KEYS = [new_key]
    assert credentials_decrypt(rotated) == BankCredentials("alice", "pw")
    with pytest.raises(CredentialsUnreadable):
        credentials_decrypt(token)


def test_tampered_ciphertext_is_refused():
    token = credentials_encrypt(BankCredentials("alice", "pw"))
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(CredentialsUnreadable):
        credentials_decrypt(tampered)


@pytest.mark.django_db
def test_rotate_credentials_command_moves_every_connection_to_the_new_key(settings):
    from io import StringIO

    from django.core.management import call_command

    from accounts.services import connection_credentials
    from accounts.tests.factories import ConnectionFactory

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old_key]
    connections = ConnectionFactory.create_batch(3)

    settings.CREDENTIALS_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    call_command("rotate_credentials", stdout=out)  # a rerun (after a kill, say) is harmless

    settings.CREDENTIALS_KEYS = [new_key]
    for connection in connections:
        connection.refresh_from_db()
        assert connection_credentials(connection=connection) == BankCredentials("someone", "s3cret")
    assert out.getvalue().splitlines()[0] == "3 connections re-encrypted under the newest key."
