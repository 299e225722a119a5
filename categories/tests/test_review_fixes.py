"""Edge cases of the categorizer and its curation that once went wrong."""

import datetime as dt
import socket
import time
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.test import override_settings

from accounts.tests.factories import AccountFactory, ConnectionFactory
from categories import categorizer as categorizer_module
from categories.categorizer import categorizer_build, get_categorizer
from categories.models import Category, DescriptorRule, Merchant, MerchantAlias, UnmatchedMerchant, UserRule
from categories.normalize import normalize_descriptor
from categories.selectors import curation_queue
from categories.services import merchant_accept, merchants_csv_import
from mint.tests.factories import UserFactory
from transactions.models import Transaction
from transactions.services import transaction_recategorize

pytestmark = pytest.mark.django_db
OCT = dt.date(2026, 10, 5)


def test_a_very_long_descriptor_imports(user, ingest):
    descriptor = " ".join(["SUPERCALIFRAGILISTICEXPIALIDOCIOUSWIDGETS"] * 6)[:255]
    ingest(AccountFactory.create(user=user), (OCT, "-5.00", descriptor, "long-1"))
    assert len(Transaction.objects.get().merchant_key) <= 120


def test_rules_follow_a_queued_merchant_accepted_into_an_existing_one(user, ingest, django_capture_on_commit_callbacks):
    account = AccountFactory.create(user=user)
    ingest(account, (OCT, "-9.00", "QUIXOTIC GADGETS PORTLAND OR", "a"))
    with django_capture_on_commit_callbacks(execute=True):
        transaction_recategorize(
            txn=Transaction.objects.get(), category=Category.objects.get(path="gifts/gifts"), always=True
        )
    existing = Merchant.objects.create(name="Quixotic Gadgets Inc", key="QUIXOTIC GADGETS INC")

    with django_capture_on_commit_callbacks(execute=True):
        merchant_accept(
            merchant_key="QUIXOTIC GADGETS",
            name="Quixotic Gadgets Inc",
            category=Category.objects.get(path="shopping/electronics"),
        )
        existing.name = "QG Holdings"  # and staff later rename it
        existing.save()

    assert UserRule.objects.get(user=user).merchant_key == "QUIXOTIC GADGETS INC"
    ingest(account, (dt.date(2026, 11, 2), "-9.00", "QUIXOTIC GADGETS SEATTLE WA", "b"))
    assert Transaction.objects.get(external_id="b").category.path == "gifts/gifts"  # the user's rule still wins


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("name,category,aliases\n" + "N" * 121 + ",shopping/general,\n", "Line 2: the name must be 1 to 120"),
        ("name,category,aliases\nCoffee Number One,food/coffee,COFFEE #1\n", "too generic"),
        ("name,category,aliases\nLong One,food/coffee," + "ALIAS WORD " * 15 + "\n", "too generic"),
        ('name,category,aliases\n"unterminated,food/coffee,\n', "Not a readable CSV"),
        ("merchant,path\nX,food/coffee\n", "header"),
    ],
)
def test_hostile_merchant_files_are_refused_whole(csv_text, message):
    before = Merchant.objects.count()
    with pytest.raises(ValidationError, match=message):
        merchants_csv_import(csv_text)
    assert Merchant.objects.count() == before


def test_an_import_that_only_adds_aliases_is_logged(client):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(staff)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("m.csv", b"name,category,aliases\nStarbucks,food/coffee,STARBUCKS RESERVE ROASTERY\n")
    client.post("/admin/categories/merchant/import/", {"file": upload})
    starbucks = Merchant.objects.get(name="Starbucks")
    assert LogEntry.objects.get(object_id=str(starbucks.pk)).get_change_message() == "Aliases added by CSV import"


def test_a_runaway_regex_rule_is_cut_off_not_waited_for():
    DescriptorRule.objects.create(
        pattern="(A+)+$", kind=DescriptorRule.Kind.REGEX, category=Category.objects.get(path="other/cash")
    )
    categorizer = categorizer_build()
    started = time.monotonic()
    decision = categorizer.categorize("A" * 40 + "!", amount=Decimal("-1"))
    assert time.monotonic() - started < 1
    assert Category.objects.get(pk=decision.category_id).path != "other/cash"


def test_a_broken_stored_regex_is_skipped_not_fatal():
    DescriptorRule.objects.create(pattern="PAYROLL(", kind=DescriptorRule.Kind.REGEX, category_id=1)
    categorizer_build()  # does not raise


def test_the_queue_ranks_people_affected_before_transactions(ingest):
    busy = AccountFactory.create(user=UserFactory.create())
    ingest(busy, *[(OCT, "-1.00", "ZORBLAX LLC", f"z{n}") for n in range(10)])
    for n in range(3):
        ingest(AccountFactory.create(user=UserFactory.create()), (OCT, "-1.00", "QUIXOTIC GADGETS", f"q{n}"))
    assert [(item.merchant_key, item.user_count) for item in curation_queue()] == [
        ("QUIXOTIC GADGETS", 3),
        ("ZORBLAX LLC", 1),
    ]
    assert UnmatchedMerchant.objects.get(pk="ZORBLAX LLC").txn_count == 10


def test_with_redis_down_the_loaded_categorizer_is_kept(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead_redis = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05},
        }
    }
    builds = []
    real_build = categorizer_module.categorizer_build

    def counted_build():
        builds.append(1)
        return real_build()

    monkeypatch.setattr(categorizer_module, "categorizer_build", counted_build)
    with override_settings(CACHES=dead_redis):
        first = get_categorizer()
        second = get_categorizer()
    assert first is second
    assert len(builds) <= 1


def test_always_without_a_merchant_is_a_message_not_an_error(client, user, ingest):
    client.force_login(user)
    ingest(AccountFactory.create(user=user), (OCT, "-5.00", "#123456"))
    txn = Transaction.objects.get()
    response = client.post(f"/transactions/{txn.pk}/category/", {"category": "food/dining", "always": "1"}, follow=True)
    assert response.status_code == 200
    assert "names no merchant" in response.content.decode()


def test_seed_aliases_are_specific_and_stable():
    keys = set(MerchantAlias.objects.values_list("key", flat=True))
    assert not keys & {"STORE", "FI", "COFFEE", "APPLE", "THE", "PARK", "MOBILE"}
    assert all(normalize_descriptor(key) == key for key in keys)


def test_votes_only_from_linked_accounts_reach_the_crowd(user, ingest):
    linked = AccountFactory.create(user=user, connection=ConnectionFactory.create(user=user))
    ingest(linked, (OCT, "-5.00", "QUIXOTIC GADGETS"))
    transaction_recategorize(txn=Transaction.objects.get(), category=Category.objects.get(path="shopping/electronics"))
    from categories.models import CategoryVote

    assert CategoryVote.objects.filter(user=user).count() == 1
