import sys
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from categories.categorizer import get_categorizer
from categories.models import Category, Merchant
from categories.selectors import user_rules_for


class Command(BaseCommand):
    help = (
        "Categorize raw bank descriptors read one per line from stdin; prints one line per input line: "
        "category-path<TAB>merchant<TAB>source (user-rule, merchant-map, crowd, provider, pattern or fallback), "
        "or an empty line for an empty one. Lines are purchases unless --inflow."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--inflow", action="store_true", help="treat the lines as money in (refunds, deposits)")
        parser.add_argument("--mcc", default="", help="a merchant category code to pass with every line")
        parser.add_argument("--user", help="apply this user's merchant rules too")

    def handle(self, *args, **options) -> None:
        user_rules = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
            user_rules = user_rules_for(user_id=user.pk)
        categorizer = get_categorizer()
        paths = dict(Category.objects.values_list("pk", "path"))
        names = dict(Merchant.objects.values_list("pk", "name"))
        amount = Decimal("1") if options["inflow"] else Decimal("-1")
        for line in sys.stdin:
            descriptor = line.rstrip("\r\n")
            if not descriptor.strip():
                self.stdout.write("")
                continue
            decision = categorizer.categorize(descriptor, amount=amount, mcc=options["mcc"], user_rules=user_rules)
            merchant = names.get(decision.merchant_id, "") if decision.merchant_id else decision.merchant_key.title()
            self.stdout.write(f"{paths[decision.category_id]}\t{merchant}\t{decision.source}")
