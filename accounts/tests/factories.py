import datetime as dt

import factory
from factory.django import DjangoModelFactory

from accounts.credentials import BankCredentials, credentials_encrypt
from accounts.models import Account, Connection
from mint.tests.factories import UserFactory


class ConnectionFactory(DjangoModelFactory[Connection]):
    class Meta:
        model = Connection

    user = factory.SubFactory(UserFactory)
    url = "https://ofx.example-bank.com/ofx"
    encrypted_credentials = factory.LazyFunction(lambda: credentials_encrypt(BankCredentials("someone", "s3cret")))
    history_from = dt.date(2026, 1, 1)


class AccountFactory(DjangoModelFactory[Account]):
    class Meta:
        model = Account

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Checking {n}")
    kind = Account.Kind.CHECKING
    currency = "USD"
