"""Raw bank descriptor -> normalised text that merchant aliases and rules are matched on.

"SQ *BLUE BOTTLE COFFE" -> "BLUE BOTTLE COFFE"; "AMZN Mktp US*2K4L09" -> "AMZN MKTP US";
"SHELL OIL 57444212" -> "SHELL OIL". Aliases and rule patterns go through the same
function, so both sides of a match agree on spelling.
"""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[^A-Z0-9&]+")
_HAS_DIGIT = re.compile(r"\d")

# Card processors and bank wording put in front of the merchant's own name.
_PREFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(prefix.split())
    for prefix in (
        "DEBIT CARD PURCHASE",
        "CARD PURCHASE",
        "POS DEBIT",
        "POS PURCHASE",
        "CHECKCARD",
        "PURCHASE",
        "POS",
        "SQ",
        "TST",
        "PAYPAL",
        "PP",
        "SP",
    )
)


def _is_reference(token: str) -> bool:
    """Store numbers, terminal ids and reference codes: a digit in anything but a short number."""
    if not _HAS_DIGIT.search(token):
        return False
    return not (token.isdigit() and len(token) <= 2)


def descriptor_tokens(raw: str) -> list[str]:
    tokens = _NOT_WORD.sub(" ", raw.upper().replace("'", "")).split()
    stripped = True
    while stripped and tokens:
        stripped = False
        for prefix in _PREFIXES:
            if tuple(tokens[: len(prefix)]) == prefix and len(tokens) > len(prefix):
                tokens = tokens[len(prefix) :]
                stripped = True
                break
    return [token for token in tokens if not _is_reference(token)]


def normalize_descriptor(raw: str) -> str:
    return " ".join(descriptor_tokens(raw))
