"""Staff curation in the admin: the queue, CSV import/export, rules, and the audit trail."""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.tests.factories import AccountFactory
from categories.models import CategorySource, DescriptorRule, Merchant, MerchantAlias, UnmatchedMerchant
from mint.tests.factories import UserFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db
QUEUE = "/admin/categories/merchant/queue/"


@pytest.fixture
def staff(client):
    user = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_the_queue_ranks_unrecognised_merchants_by_transactions_and_users(client, staff, ingest):
    for n in range(2):
        account = AccountFactory.create(user=UserFactory.create())
        ingest(
            account,
            (dt.date(2026, 10, 1), "-9.00", f"QUIXOTIC GADGETS #{n} PORTLAND OR", f"q{n}a"),
            (dt.date(2026, 10, 2), "-9.00", "QUIXOTIC GADGETS SEATTLE WA", f"q{n}b"),
        )
    ingest(AccountFactory.create(user=staff), (dt.date(2026, 10, 3), "-3.00", "ZORBLAX LLC", "z"))

    page = client.get(QUEUE)

    assert page.status_code == 200
    queue = [(item.merchant_key, item.txn_count, item.user_count) for item in page.context["queue"]]
    assert queue == [("QUIXOTIC GADGETS", 4, 2), ("ZORBLAX LLC", 1, 1)]


def test_accepting_from_the_queue_curates_new_transactions_only_and_is_logged(
    client, staff, ingest, django_capture_on_commit_callbacks
):
    account = AccountFactory.create(user=UserFactory.create())
    ingest(account, (dt.date(2026, 10, 1), "-9.00", "QUIXOTIC GADGETS PORTLAND OR", "old"))

    with django_capture_on_commit_callbacks(execute=True):  # the categorizers reload after commit
        response = client.post(
            QUEUE, {"merchant_key": "QUIXOTIC GADGETS", "name": "Quixotic Gadgets", "category": "shopping/electronics"}
        )

    assert response.status_code == 302
    merchant = Merchant.objects.select_related("category").get(name="Quixotic Gadgets")
    assert merchant.category is not None
    assert merchant.category.path == "shopping/electronics"
    assert not UnmatchedMerchant.objects.exists()
    entry = LogEntry.objects.get(object_id=str(merchant.pk))
    assert entry.user == staff
    assert "Accepted from the queue" in entry.get_change_message()

    ingest(account, (dt.date(2026, 11, 1), "-19.00", "QUIXOTIC GADGETS #7 DENVER CO", "new"))
    assert Transaction.objects.get(external_id="new").category_source == CategorySource.MERCHANT_MAP
    assert Transaction.objects.get(external_id="old").category.path == "other/uncategorized"


def test_merchants_export_and_import_round_trip(client, staff, django_capture_on_commit_callbacks):
    exported = client.get("/admin/categories/merchant/export/")
    lines = exported.content.decode().splitlines()
    assert lines[0] == "name,category,aliases"
    assert len(lines) == Merchant.objects.count() + 1

    upload = SimpleUploadedFile(
        "m.csv",
        b"name,category,aliases\nQuixotic Gadgets,shopping/electronics,QUIXOTIC GADGETS|QXG\nStarbucks,food/dining,\n",
    )
    response = client.post("/admin/categories/merchant/import/", {"file": upload})

    assert response.status_code == 302
    categories = dict(
        Merchant.objects.filter(name__in=["Quixotic Gadgets", "Starbucks"]).values_list("name", "category__path")
    )
    assert categories == {"Quixotic Gadgets": "shopping/electronics", "Starbucks": "food/dining"}
    assert MerchantAlias.objects.get(key="QXG").merchant.name == "Quixotic Gadgets"
    assert LogEntry.objects.filter(user=staff).count() == 2


def test_a_bad_import_line_saves_nothing_and_names_the_line(client, staff):
    before = Merchant.objects.count()
    upload = SimpleUploadedFile("m.csv", b"name,category,aliases\nGood One,shopping/general,\nBad One,food/caviar,\n")
    response = client.post("/admin/categories/merchant/import/", {"file": upload})
    assert response.status_code == 200
    assert "Line 3: unknown category &#x27;food/caviar&#x27;." in response.content.decode()
    assert Merchant.objects.count() == before


def test_regex_rules_are_validated_and_applied(client, staff, ingest, django_capture_on_commit_callbacks):
    bad = client.post(
        "/admin/categories/descriptorrule/add/",
        {"pattern": "PAYROLL(", "kind": "regex", "direction": "any", "priority": 0, "category": 1},
    )
    assert "Not a valid regular expression" in bad.content.decode()

    from categories.models import Category

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/categories/descriptorrule/add/",
            {
                "pattern": r"^HOA DUES \d+",
                "kind": "regex",
                "direction": "any",
                "priority": 0,
                "category": Category.objects.get(path="housing/rent").pk,
            },
        )
    assert DescriptorRule.objects.filter(kind="regex", pattern=r"^HOA DUES \d+").exists()
    ingest(AccountFactory.create(user=staff), (dt.date(2026, 10, 1), "-250.00", "HOA DUES 8812 MAPLE CT"))
    assert Transaction.objects.get().category.path == "housing/rent"


def test_categorize_command_prints_path_merchant_and_source(monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO("SQ *BLUE BOTTLE COFFE\nACME CORP PAYROLL PPD\n\nQUIXOTIC GADGETS #7\n"))
    out = StringIO()
    call_command("categorize", stdout=out)
    rows = [line.split("\t") for line in out.getvalue().splitlines()]
    assert rows[0][0] == "food/coffee"
    assert rows[0][2] == "merchant-map"
    assert rows[1][0] == "income/paycheck"  # with no --inflow a payroll line is still the paycheck rule
    assert rows[1][2] == "pattern"
    assert rows[2] == [""]  # an empty line answers an empty line, so output lines up with input
    assert rows[3] == ["other/uncategorized", "Quixotic Gadgets", "fallback"]
