"""Raw bank descriptor -> normalised text that merchant aliases and rules are matched on.

"SQ *BLUE BOTTLE COFFE" -> "BLUE BOTTLE COFFE"; "AMZN Mktp US*2K4L09" -> "AMZN MKTP US";
"PURCHASE AUTHORIZED ON 11/02 TARGET T-1234 DENVER CO S5813..." -> "TARGET T DENVER CO";
"CARD PAYMENT TO TESCO STORES 3401 ON 02 NOV" -> "TESCO STORES". Aliases and rule
patterns go through the same function, so both sides of a match agree on spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .places import CA_PROVINCES, CITIES, COUNTRIES, MAX_CITY_TOKENS, US_STATES

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
# Removed from the raw text before it is split into words.
_RAW_NOISE = re.compile(
    r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"  # 11/02, 11/02/2026
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2026-11-02
    rf"|\bON \d{{1,2}} (?:{_MONTHS})\w*(?: \d{{2,4}})?\b"  # ON 02 NOV (UK)
    rf"|\b\d{{1,2}}(?:{_MONTHS})\d{{0,4}}\b"  # 02NOV26
    r"|\bX{2,}\d{0,4}\b|\*{2,}\d{0,4}"  # XXXXX1234, ****1234: masked card numbers
    r"|\bCARD(?: NO\.?| #)? ?\d{4}\b"  # CARD 4321
    r"|#\s*\d+\b"  # #7, # 0394: store numbers, however short
)
# "PAYPAL *NETFLIX": a processor or marketplace in front of the merchant's own name.
_PROCESSOR = re.compile(r"^(?:SQ|TST|PAYPAL|PP|SP|CLV|IN|DD|GOOGLE|WPY|BT|SQU) ?\* ?")
_URL = re.compile(r"(?:WWW\.|HTTPS?:)|\.(?:COM|NET|ORG|CO|IO|US|UK|IE)")
_SPLIT_S = re.compile(r"(?<=[A-Z]) S(?=\s|$)")  # "TRADER JOE S" (an apostrophe printed as a space)
_NOT_WORD = re.compile(r"[^A-Z0-9&]+")
_HAS_DIGIT = re.compile(r"\d")

# Bank and card wording put in front of the merchant's own name, longest first.
_PREFIXES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(prefix.split())
            for prefix in (
                "PURCHASE AUTHORIZED ON",
                "RECURRING PAYMENT AUTHORIZED ON",
                "RECURRING PAYMENT",
                "RECURRING PURCHASE",
                "DEBIT CARD PURCHASE",
                "DEBIT CARD",
                "CARD PURCHASE",
                "CARD PAYMENT TO",
                "CARD PAYMENT",
                "CONTACTLESS PAYMENT",
                "CONTACTLESS",
                "DIRECT DEBIT PAYMENT TO",
                "DIRECT DEBIT",
                "POS DEBIT",
                "POS PURCHASE",
                "POS",
                "VISA DDA PUR",
                "DBT CRD",
                "CHECKCARD",
                "PURCHASE",
                "ACH DEBIT",
                "SQ",
                "TST",
                "PAYPAL",
                "PP",
                "SP",
                "CLV",
            )
        ),
        key=len,
        reverse=True,
    )
)
# Words that never name a merchant: reference labels and standard entry classes.
_NOISE_WORDS = frozenset(["REF", "ID", "PPD", "CCD", "WEB", "TEL", "AUTH", "TRACE", "XX", "INST"])
MAX_KEY_TOKENS = 4


def _is_reference(token: str) -> bool:
    """Store numbers, terminal ids, phone numbers and reference codes.

    Any token with a digit, except a one- or two-digit number: those are part of names
    ("7 ELEVEN", "76", "24 HOUR FITNESS").
    """
    if not _HAS_DIGIT.search(token):
        return False
    return not (token.isdigit() and len(token) <= 2)


@lru_cache(maxsize=200_000)
def _tokens(raw: str) -> tuple[str, ...]:
    text = _PROCESSOR.sub("", raw.upper().strip())
    text = _SPLIT_S.sub("S", _RAW_NOISE.sub(" ", text))
    words = text.split()
    # A URL after the first word is the processor's help line ("UBER *TRIP HELP.UBER.COM").
    words = words[:1] + [word for word in words[1:] if not _URL.search(word)]
    tokens = _NOT_WORD.sub(" ", " ".join(words).replace("'", "")).split()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if len(tokens) > len(prefix) and tuple(tokens[: len(prefix)]) == prefix:
                tokens = tokens[len(prefix) :]
                stripped = True
                break
    return tuple(token for token in tokens if not _is_reference(token) and token not in _NOISE_WORDS)


def descriptor_tokens(raw: str) -> tuple[str, ...]:
    return _tokens(raw)


def normalize_descriptor(raw: str) -> str:
    return " ".join(_tokens(raw))


def merchant_key(tokens: tuple[str, ...]) -> str:
    """The identity of an unrecognised merchant: its name without the place it was seen in."""
    words = list(tokens)
    changed = True
    while changed and len(words) > 1:
        changed = False
        if words[-1] in US_STATES or words[-1] in CA_PROVINCES or words[-1] in COUNTRIES:
            words.pop()
            changed = True
            continue
        for size in range(min(MAX_CITY_TOKENS, len(words) - 1), 0, -1):
            if tuple(words[-size:]) in CITIES:
                del words[-size:]
                changed = True
                break
    return " ".join(words[:MAX_KEY_TOKENS])
