"""Address rules of the 837 implementation guides, shared by the API and the scrubber.

TR3 2010AA N3 (billing provider) and 2310C/2310E N3 (service facility): "must be a street
address. Post Office Box or Lock Box addresses are to be sent in the Pay-To Address Loop
(Loop ID-2010AB)"; their N403 ZIP code has nine digits (ZIP+4).
"""

from __future__ import annotations

import re

_PO_BOX = re.compile(
    r"\b(?:P\s*\.?\s*O\s*\.?\s*(?:BOX|BX)\b|POST\s*OFFICE\s*BOX|POB\b|LOCK\s*BOX)"
    r"|^\s*BOX\s+[0-9]", re.IGNORECASE)
_ZIP_PLUS_4 = re.compile(r"^[0-9]{5}-?[0-9]{4}$")


def is_po_box(line: str) -> bool:
    return _PO_BOX.search(line) is not None


def is_zip_plus_4(postal_code: str) -> bool:
    return _ZIP_PLUS_4.match(postal_code.strip()) is not None
