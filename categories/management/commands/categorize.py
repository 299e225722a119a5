import sys
from decimal import Decimal

from django.core.management.base import BaseCommand

from categories.categorizer import get_categorizer
from categories.models import Category, Merchant


class Command(BaseCommand):
    help = (
        "Categorize raw bank descriptors read one per line from stdin; prints "
        "category-path<TAB>merchant<TAB>source per line (source: user-rule, merchant-map, crowd, provider, "
        "pattern or fallback). Lines are taken as purchases unless --inflow."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--inflow", action="store_true", help="treat the lines as money in (refunds, deposits)")
        parser.add_argument("--mcc", default="", help="a merchant category code to pass with every line")

    def handle(self, *args, **options) -> None:
        categorizer = get_categorizer()
        paths = dict(Category.objects.values_list("pk", "path"))
        names = dict(Merchant.objects.values_list("pk", "name"))
        amount = Decimal("1") if options["inflow"] else Decimal("-1")
        for line in sys.stdin:
            descriptor = line.rstrip("\r\n")
            if not descriptor.strip():
                continue
            decision = categorizer.categorize(descriptor, amount=amount, mcc=options["mcc"])
            merchant = names.get(decision.merchant_id, "") if decision.merchant_id else decision.merchant_key.title()
            self.stdout.write(f"{paths[decision.category_id]}\t{merchant}\t{decision.source}")
