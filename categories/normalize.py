"""Raw bank descriptor -> normalised text that merchant aliases and rules are matched on.

"SQ *BLUE BOTTLE COFFE" -> "BLUE BOTTLE COFFE"; "AMZN Mktp US*2K4L09" -> "AMZN MKTP US";
"PURCHASE AUTHORIZED ON 11/02 TARGET T-1234 DENVER CO S5813..." -> "TARGET T DENVER CO";
"CARD PAYMENT TO TESCO STORES 3401 ON 02 NOV" -> "TESCO STORES". Aliases and rule
patterns go through the same function, so both sides of a match agree on spelling.
"""

from __future__ import annotations

import re

from .places import CA_PROVINCES, CITIES, COUNTRIES, MAX_CITY_TOKENS, US_STATES

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
# ACH addenda (Bank of America style): the payer's name and ids are not the merchant.
_ACH_NOISE = re.compile(r"\bINDN:.*$|\bCO ID:\s*\S+|\b(?:ID|DES|CONF|PMT INFO):\s*")
# Removed from the raw text before it is split into words.
_RAW_NOISE = re.compile(
    r"(?=[0-9OXC*#])(?:"  # only where one of these can start: lets the engine skip most positions
    r"\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b"  # 11/02, 11/02/2026, 11-07-24
    r"|\b\d{4}-\d{2}-\d{2}\b"  # 2026-11-02
    rf"|\bON \d{{1,2}} (?:{_MONTHS})\w*(?: \d{{2,4}})?\b"  # ON 02 NOV (UK)
    rf"|\b\d{{1,2}}(?:{_MONTHS})\d{{0,4}}\b"  # 02NOV26
    r"|\bX{2,}\d{0,4}\b|\*{2,}\d{0,4}"  # XXXXX1234, ****1234: masked card numbers
    r"|\bCARD(?: NO\.?| #)? ?\d{4}\b"  # CARD 4321
    r"|#\s*\d+\b"  # #7, # 0394: store numbers, however short
    r")"
)
# Bank and card wording in front of the merchant's own name, in any combination.
_BANK_WORDING = (
    "PURCHASE AUTHORIZED ON",
    "RECURRING PAYMENT AUTHORIZED ON",
    "RECURRING PAYMENT",
    "RECURRING PURCHASE",
    "DEBIT CARD PURCHASE",
    "DEBIT PURCHASE",
    "DEBIT CARD",
    "CARD PURCHASE",
    "CARD PAYMENT TO",
    "CARD PAYMENT",
    "CONTACTLESS PAYMENT",
    "CONTACTLESS",
    "DIRECT DEBIT PAYMENT TO",
    "DIRECT DEBIT",
    "WITHDRAWAL POS",
    "POS DEBIT",
    "POS PURCHASE",
    "POS",
    "VISA DDA PUR",
    "VISA",
    "DBT CRD",
    "CHECKCARD",
    "PURCHASE",
    "ACH DEBIT",
    "DEBIT",
    "DD",
)
_BANK_PREFIX = re.compile(
    r"^(?:(?:"
    + "|".join(phrase.replace(" ", r"[\s:-]+") for phrase in sorted(_BANK_WORDING, key=len, reverse=True))
    + r")(?:[\s:*-]+|$))+"
)
# "PAYPAL *NETFLIX": a processor or marketplace in front of the merchant's own name.
_PROCESSOR = re.compile(r"^(?:SQ|TST|PAYPAL|PP|SP|CLV|IN|DD|EB|GOOGLE|WPY|BT|SQU) ?\* ?")
_URL = re.compile(r"(?:WWW\.|HTTPS?:)|\.(?:COM|NET|ORG|CO|IO|US|UK|IE)")
_INITIALS = re.compile(r"\b[A-Z](?:[-.][A-Z])+\b")  # H-E-B, A.C. MOORE: one word, whatever the dots
# "TRADER JOE S #552" (an apostrophe printed as a space): only before a store number or the
# end, so "SAINSBURYS S/MKTS" stays apart and normalising twice changes nothing.
_SPLIT_S = re.compile(r"(?<=[A-Z]) S(?=\s+[#\d]|\s*$)")
_NOT_WORD = re.compile(r"[^A-Z0-9&]+")
# Store numbers, terminal ids, phone numbers and reference codes: any word with a digit,
# except a one- or two-digit number, which is part of a name ("7 ELEVEN", "24 HOUR FITNESS").
_REFERENCE = re.compile(r"\b(?![0-9]{1,2}\b)[A-Z&]*[0-9][A-Z0-9&]*")
# Words that never name a merchant: reference labels and standard entry classes.
_NOISE_WORDS = frozenset(["REF", "ID", "PPD", "CCD", "WEB", "TEL", "AUTH", "TRACE", "XX", "INST"])
MAX_KEY_TOKENS = 4


FOLD_DIGITS = str.maketrans("0123456789", "0000000000")
TOKEN_CACHE_SIZE = 100_000
_cache: dict[str, tuple[str, ...]] = {}  # by shape, or by exact text when words keep digits


def descriptor_tokens(raw: str, shape: str | None = None) -> tuple[str, ...]:
    """The descriptor's words, cached by its shape (every digit read as 0).

    Every pattern here treats digits as `\\d`, never by value, so two descriptors that
    differ only in digits (store numbers, dates, references: "STARBUCKS STORE 05432" and
    "... 10482") normalise alike, unless a short number survives into the words
    ("7 ELEVEN"): those are cached by their exact text instead.
    """
    if shape is None:
        shape = raw.translate(FOLD_DIGITS)
    tokens = _cache.get(shape)
    if tokens is not None and (shape == raw or not has_digits(tokens)):
        return tokens
    tokens = _cache.get(raw)
    if tokens is None:
        tokens = _tokens(raw)
        if len(_cache) >= TOKEN_CACHE_SIZE:
            _cache.clear()
        _cache[raw if has_digits(tokens) else shape] = tokens
    return tokens


def has_digits(tokens: tuple[str, ...]) -> bool:
    return any(not token.isalpha() and any(char.isdigit() for char in token) for token in tokens)


def _tokens(raw: str) -> tuple[str, ...]:
    # The cheap `in` tests skip passes that cannot apply: this runs for every new descriptor.
    text = raw.upper()
    if " S" in text:
        text = _SPLIT_S.sub("S", text)
    if "-" in text or "." in text:
        text = _INITIALS.sub(lambda match: match.group().replace("-", "").replace(".", ""), text)
    if ":" in text:
        text = _ACH_NOISE.sub(" ", text)
    text = _RAW_NOISE.sub(" ", text).strip()
    # Bank wording and processor prefixes can come in either order ("POS DEBIT SQ *CAFE").
    while match := (_BANK_PREFIX.match(text) or _PROCESSOR.match(text)):
        rest = text[match.end() :].lstrip(" ,.-")
        if not rest:
            break
        text = rest
    words = text.split()
    # A URL after the first word is the processor's help line ("UBER *TRIP HELP.UBER.COM").
    words = words[:1] + [word for word in words[1:] if not ("." in word and _URL.search(word))]
    text = _NOT_WORD.sub(" ", " ".join(words).replace("'", ""))
    tokens = [token for token in _REFERENCE.sub(" ", text).split() if token not in _NOISE_WORDS]
    if len(tokens) > 1 and tokens[-1] == "S":  # "MCDONALD S F12345": the S ends the name once F12345 is gone
        tokens[-2:] = [tokens[-2] + "S"]
    return tuple(tokens)


MAX_KEY_LENGTH = 120  # the columns that store keys


def name_key(name: str) -> str:
    """A new curated merchant's identity: its whole name, upper case, punctuation folded."""
    return " ".join(_NOT_WORD.sub(" ", name.upper().replace("'", "")).split())[:MAX_KEY_LENGTH]


def alias_key(alias: str) -> str | None:
    """An alias in the matcher's spelling, or None if it would match far more than its merchant.

    Refused: aliases that normalise to nothing; ones that start with a processor prefix
    ("GOOGLE *STORE" would be "STORE"); and ones that lose words to normalisation and end up
    a single word ("COFFEE #1" would be every "COFFEE ..." shop).
    """
    key = normalize_descriptor(alias)
    if not key or len(key) > MAX_KEY_LENGTH or _PROCESSOR.match(alias.strip().upper()):
        return None
    if " " not in key and " " in name_key(alias):
        return None
    return key


def normalize_descriptor(raw: str) -> str:
    return " ".join(_tokens(raw))


def tokens_cache_clear() -> None:
    _cache.clear()


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
    return " ".join(words[:MAX_KEY_TOKENS])[:MAX_KEY_LENGTH]
