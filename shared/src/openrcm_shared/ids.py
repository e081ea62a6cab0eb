"""Identifiers for rows written in bulk.

`uuid7` (RFC 9562, section 5.7): 48 bits of Unix time in milliseconds, then 74 random bits. Ids made
close together in time sort close together, so a B-tree index on them grows at its right edge
instead of at random pages: an ERA writes hundreds of thousands of claim payments, journal entries
and events, and with random (version 4) ids their indexes touched a different page for nearly
every row once the tables outgrew memory. Still unique and unguessable enough for ids (74 random
bits from os.urandom); not a secret.
"""

from __future__ import annotations

import os
import time
from uuid import UUID

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_RANDOM_MASK = (1 << 80) - 1 & ~(0xF << 76) & ~(0x3 << 62)


def uuid7() -> UUID:
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big") & _RANDOM_MASK
    return UUID(int=(milliseconds & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_7 | _VARIANT_RFC | random_bits)
