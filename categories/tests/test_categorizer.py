import datetime as dt
from decimal import Decimal

import pytest

from accounts.demo_bank.persona import ACCOUNTS, Persona
from categories.categorizer import get_categorizer
from categories.models import Category, CategorySource, DescriptorRule, Merchant, MerchantAlias
from categories.normalize import descriptor_tokens, merchant_key, normalize_descriptor
from categories.services import defaults_load

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "normalised", "key"),
    [
        ("SQ *BLUE BOTTLE COFFEE San Francisco CA", "BLUE BOTTLE COFFEE SAN FRANCISCO CA", "BLUE BOTTLE COFFEE"),
        ("AMZN Mktp US*2K4L09RT2", "AMZN MKTP US", "AMZN MKTP"),
        ("UBER *TRIP HELP.UBER.COMCA", "UBER TRIP", "UBER TRIP"),
        ("SHELL OIL 57444212406 CHICAGO IL", "SHELL OIL CHICAGO IL", "SHELL OIL"),
        ("PAYPAL *NETFLIX 4029357733 CA", "NETFLIX CA", "NETFLIX"),
        (
            "CHECKCARD 1102 STARBUCKS STORE 05432 SEATTLE WA 2443106230600012",
            "STARBUCKS STORE SEATTLE WA",
            "STARBUCKS STORE",
        ),
        ("PURCHASE AUTHORIZED ON 11/02 TARGET T-1234 DENVER CO S581306123 CARD 4321", "TARGET T DENVER CO", "TARGET T"),
        ("DEBIT CARD PURCHASE XXXXX1234 CVS/PHARMACY #04521 NASHVILLE TN", "CVS PHARMACY NASHVILLE TN", "CVS PHARMACY"),
        ("CARD PAYMENT TO TESCO STORES 3401 ON 02 NOV", "TESCO STORES", "TESCO STORES"),
        ("TRADER JOE S #552 QPS", "TRADER JOES QPS", "TRADER JOES QPS"),
        ("GOOGLE *YouTubePremium g.co/helppay#", "YOUTUBEPREMIUM", "YOUTUBEPREMIUM"),
        ("ACME CORP PAYROLL PPD ID: 1234567890", "ACME CORP PAYROLL", "ACME CORP PAYROLL"),
        ("7-ELEVEN 34123", "7 ELEVEN", "7 ELEVEN"),
        ("MCDONALD'S F12345", "MCDONALDS", "MCDONALDS"),
        ("JOES PIZZA NEW YORK NY", "JOES PIZZA NEW YORK NY", "JOES PIZZA"),
        ("TST* FLOUR + WATER", "FLOUR WATER", "FLOUR WATER"),
        ("PURCHASE AUTHORIZED ON 11/01 H-E-B #412 AUSTIN TX S516146100330766 CARD 7702", "HEB AUSTIN TX", "HEB"),
        ("GUSTO DES:PAY 482713 ID:7W9KQ2P1 INDN:MARTINEZ DANIEL CO ID:9138864001 CCD", "GUSTO PAY", "GUSTO PAY"),
        ("POS Debit- Debit Card 7702 11-07-24 Applebees 9223 Columbus OH", "APPLEBEES COLUMBUS OH", "APPLEBEES"),
        ("3391 22OCT24 C , TESCO STORES 6152 , MANCHESTER GB", "C TESCO STORES MANCHESTER GB", "C TESCO STORES"),
        ("T-MOBILE*AUTO PAY 800-937-8997", "T MOBILE AUTO PAY", "T MOBILE AUTO PAY"),
        ("DD PUREGYM LTD", "PUREGYM LTD", "PUREGYM LTD"),
    ],
)
def test_normalisation_and_merchant_key(raw, normalised, key):
    assert normalize_descriptor(raw) == normalised
    assert merchant_key(descriptor_tokens(raw)) == key


def categorize(descriptor: str, amount: str = "-10.00", mcc: str = ""):
    decision = get_categorizer().categorize(descriptor, amount=Decimal(amount), mcc=mcc)
    return Category.objects.get(pk=decision.category_id).path, decision


@pytest.mark.parametrize(
    ("descriptor", "path"),
    [
        ("SQ *BLUE BOTTLE COFFE", "food/coffee"),
        ("STARBUCKS STORE 10482", "food/coffee"),
        ("AMZN Mktp US*2K4L09", "shopping/general"),
        ("UBER *TRIP HELP.UBER.COM", "transport/rideshare"),
        ("SHELL OIL 57444212", "transport/gas"),
        ("WHOLE FOODS MKT #10234", "food/groceries"),
        ("TRADER JOE'S #552 QPS", "food/groceries"),
        ("NETFLIX.COM", "entertainment/streaming"),
        ("T-MOBILE*AUTO PAY 800-937-8997", "bills/phone"),
        ("3391 22OCT24 C , TESCO STORES 6152 , MANCHESTER GB", "food/groceries"),
    ],
)
def test_known_merchants_come_from_the_merchant_map(descriptor, path):
    found, decision = categorize(descriptor)
    assert found == path
    assert decision.source == CategorySource.MERCHANT_MAP
    assert decision.merchant_id is not None


def test_longest_alias_wins():
    assert categorize("UBER EATS 8005928996")[0] == "food/dining"
    assert categorize("UBER *TRIP")[0] == "transport/rideshare"


def test_provider_code_then_pattern_then_fallback():
    assert categorize("TST* FLOUR + WATER", mcc="5812")[0:1] == ("food/dining",)
    assert categorize("TST* FLOUR + WATER", mcc="5812")[1].source == CategorySource.PROVIDER
    path, decision = categorize("ACME CORP PAYROLL PPD", amount="2850.00")
    assert (path, decision.source) == ("income/paycheck", CategorySource.PATTERN)
    path, decision = categorize("XQZT HOLDINGS 1234")
    assert (path, decision.source) == ("other/uncategorized", CategorySource.FALLBACK)
    path, decision = categorize("XQZT HOLDINGS 1234", amount="40.00")
    assert (path, decision.source) == ("income/refund-other", CategorySource.FALLBACK)


def test_every_demo_bank_descriptor_is_recognised():
    persona = Persona("alice")
    today = dt.date(2026, 11, 21)
    descriptors = {
        (txn.name, txn.amount > 0, f"{txn.sic:04d}" if txn.sic else "")
        for account in ACCOUNTS
        for txn in persona.transactions(account, today - dt.timedelta(days=365), today, today)
    }
    unrecognised = [
        name
        for name, inflow, mcc in descriptors
        if categorize(name, "1" if inflow else "-1", mcc)[1].source == CategorySource.FALLBACK
    ]
    assert unrecognised == []


def test_a_map_edit_reaches_the_categorizer():
    assert categorize("NETFLIX.COM")[0] == "entertainment/streaming"
    netflix = MerchantAlias.objects.get(key="NETFLIX COM").merchant
    netflix.category = Category.objects.get(path="bills/subscriptions")
    netflix.save()
    from categories.categorizer import categorizer_invalidate

    categorizer_invalidate()
    assert categorize("NETFLIX.COM")[0] == "bills/subscriptions"


def test_loading_defaults_again_adds_nothing_and_keeps_admin_edits():
    counts = (
        Category.objects.count(),
        Merchant.objects.count(),
        MerchantAlias.objects.count(),
        DescriptorRule.objects.count(),
    )
    edited = Merchant.objects.get(aliases__key="SHELL")
    edited.category = Category.objects.get(path="transport/auto-service")
    edited.save()

    defaults_load()

    assert (
        Category.objects.count(),
        Merchant.objects.count(),
        MerchantAlias.objects.count(),
        DescriptorRule.objects.count(),
    ) == counts
    edited.refresh_from_db()
    assert edited.category.path == "transport/auto-service"


def test_default_tree_has_the_documented_paths_and_kinds():
    assert Category.objects.get(path="food/groceries").kind == Category.Kind.SPENDING
    assert Category.objects.get(path="income/paycheck").kind == Category.Kind.INCOME
    assert Category.objects.get(path="transfer/credit-card-payment").kind == Category.Kind.TRANSFER
    assert Category.objects.filter(parent__isnull=True).count() == 17


def test_caching_by_shape_never_changes_a_decision():
    """Descriptors differing only in digits share cached work, except where digits matter."""
    from categories.categorizer import categorizer_build

    DescriptorRule.objects.create(
        pattern=r"^HOA DUES 88\d+", kind=DescriptorRule.Kind.REGEX, category=Category.objects.get(path="housing/rent")
    )
    categorizer = categorizer_build()

    def path(descriptor: str) -> str:
        decision = categorizer.categorize(descriptor, amount=Decimal("-1"))
        return Category.objects.get(pk=decision.category_id).path

    assert path("HOA DUES 8812") == "housing/rent"
    assert path("HOA DUES 1234") != "housing/rent"  # same shape, but the rule reads the digits
    assert path("STARBUCKS STORE 05432") == path("STARBUCKS STORE 10482") == "food/coffee"
    first = categorizer.categorize("7-ELEVEN 12345", amount=Decimal("-1"))
    second = categorizer.categorize("8-ELEVEN 12345", amount=Decimal("-1"))  # a different short number
    assert first.merchant_key != second.merchant_key
