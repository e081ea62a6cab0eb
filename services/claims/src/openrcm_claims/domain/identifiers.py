"""Claim identifiers."""

from __future__ import annotations

import secrets

# Crockford base32: no I, L, O, U, so a number read over the phone is not misheard.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PATIENT_CONTROL_NUMBER_MAX = 20


def new_patient_control_number() -> str:
    """CLM01: at most 20 characters because the 835 echoes it in CLP01 and receivers keep only 20
    (005010X222A1, 2300 CLM01 note). 'R' + 16 random base32 characters = 80 bits of randomness."""
    value = secrets.randbits(80)
    chars = []
    for _ in range(16):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "R" + "".join(chars)
