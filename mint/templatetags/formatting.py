from decimal import Decimal

from django import template

from categories.selectors import category_label as label_of

register = template.Library()
MINUS_SIGN = "\u2212"  # typographic minus: reads better than a hyphen next to a dollar sign


@register.filter
def money(value, signed: str = "") -> str:
    """`-262.9` -> minus sign then `$262.90`; with `money:"signed"` money in gets a `+`."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = MINUS_SIGN if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"


@register.filter
def category_label(path: str) -> str:
    """`food/groceries` -> "Food > Groceries", typeset."""
    return label_of(str(path))
