import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import AccountFactory
from categories.models import Category, CategorySource
from transactions.aggregates import Delta, monthly_spending_apply
from transactions.models import Transaction, TransactionKey


class TransactionFactory(DjangoModelFactory[Transaction]):
    """A stored transaction as ingestion leaves it: with its dedupe key and in its month's total.

    Without the key, ingesting the same external id afterwards would store it a second time.
    """

    class Meta:
        model = Transaction

    account = factory.SubFactory(AccountFactory)
    user = factory.SelfAttribute("account.user")
    external_id = factory.Sequence(lambda n: f"FITID-{n}")
    posted_on = dt.date(2026, 3, 14)
    amount = Decimal("-12.50")
    currency = "USD"
    description = "CORNER GROCERY #12"
    category = factory.LazyFunction(lambda: Category.objects.get(path="food/groceries"))
    category_source = CategorySource.MERCHANT_MAP

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        txn = super()._create(model_class, *args, **kwargs)
        TransactionKey.objects.create(account_id=txn.account_id, external_id=txn.external_id, transaction_id=txn.pk)
        monthly_spending_apply(
            user_id=txn.user_id, deltas={(txn.month, txn.category_id): Delta(amount=txn.amount, count=1)}
        )
        return txn
