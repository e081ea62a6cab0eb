"""Refusing what looks like a primary account number anywhere in a request body (PCI DSS: a card
number must never reach our storage or logs; the processor's token is all we keep).

A card number is 13 to 19 digits (ISO/IEC 7812) that pass the Luhn check; people type them with
spaces or dashes between groups, so single separators are allowed between the digits.
"""

from __future__ import annotations

import re

# Bounded by anything but a hex digit or a dash, so the digit groups of a UUID (8-4-4-4-12 hex,
# which may happen to be all decimal digits) are never read as a card number.
_CANDIDATE = re.compile(rb"(?<![0-9A-Fa-f-])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Fa-f-])")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of ISO/IEC 7812-1 annex B."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(body: bytes) -> bool:
    """Whether any run of 13-19 digits in the body (a JSON number or inside a string) is Luhn-valid."""
    for match in _CANDIDATE.finditer(body):
        digits = re.sub(rb"[ -]", b"", match.group()).decode()
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False
