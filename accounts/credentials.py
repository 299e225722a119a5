"""Bank credentials, encrypted at rest.

Reversible on purpose: the service logs in to the bank every day, so a hash cannot work.
Keys come from CREDENTIALS_KEYS (newest first); older keys still decrypt, which is what
lets `rotate_credentials` re-encrypt everything under a new key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored ciphertext does not decrypt with any configured key."""


@dataclass(frozen=True)
class BankCredentials:
    login: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    access_url: str = field(default="", repr=False)  # SimpleFIN: the URL carries its own login


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current_fernet() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_KEYS))


def credentials_encrypt(credentials: BankCredentials) -> str:
    plaintext = json.dumps(
        {"login": credentials.login, "password": credentials.password, "access_url": credentials.access_url}
    )
    return _current_fernet().encrypt(plaintext.encode()).decode()


def credentials_decrypt(token: str) -> BankCredentials:
    try:
        data = json.loads(_current_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable("Stored credentials cannot be decrypted with the configured keys.") from None
    return BankCredentials(login=data["login"], password=data["password"], access_url=data.get("access_url", ""))


def credentials_reencrypt(token: str) -> str:
    """The same credentials under the newest key (a no-op re-encryption if already on it)."""
    try:
        return _current_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("Stored credentials cannot be decrypted with the configured keys.") from None
