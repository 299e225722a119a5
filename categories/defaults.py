"""The default category tree. Slugs and paths are part of the API."""

from __future__ import annotations

DEFAULT_TREE: dict[str, tuple[str, ...]] = {
    "housing": ("rent", "mortgage", "home-improvement", "home-insurance"),
    "food": ("groceries", "dining", "coffee", "fast-food", "alcohol"),
    "transport": ("gas", "public-transit", "rideshare", "parking", "auto-service", "auto-insurance"),
    "bills": ("utilities", "phone", "internet", "subscriptions"),
    "shopping": ("general", "clothing", "electronics", "home-goods", "books"),
    "entertainment": ("streaming", "movies", "games", "music", "events"),
    "health": ("pharmacy", "doctor", "fitness", "dentist"),
    "travel": ("airfare", "hotel", "car-rental"),
    "personal": ("hair", "laundry", "spa"),
    "education": ("tuition", "books-supplies"),
    "gifts": ("donations", "gifts"),
    "pets": ("pet-supplies", "vet"),
    "taxes": ("tax-payment",),
    "fees": ("bank-fee", "atm-fee", "interest", "late-fee"),
    "income": ("paycheck", "interest-income", "refund-other"),
    "transfer": ("credit-card-payment", "account-transfer"),
    "other": ("uncategorized", "cash"),
}

# Parents whose money is not spending; every other parent is.
NON_SPENDING_KINDS = {"income": "income", "transfer": "transfer"}

UNCATEGORIZED_PATH = "other/uncategorized"
# Money in that nothing recognises is treated as income, not as negative spending.
UNCATEGORIZED_INFLOW_PATH = "income/refund-other"


def display_name(slug: str) -> str:
    return slug.replace("-", " ").capitalize()
