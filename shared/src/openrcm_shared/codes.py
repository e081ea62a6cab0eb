"""Format and check-digit rules for the identifiers and codes every service accepts.

Only the syntax lives here: code-set membership (ICD-10-CM, HCPCS) is the scrubber's job.
"""

from __future__ import annotations

import re

ICD10_CM = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.?[0-9A-Z]{1,4})?$")  # syntax only: U07.1, QA0.8 are real
PROCEDURE_CODE = re.compile(r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")  # CPT (incl. Cat II/III) or HCPCS Level II
MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
PLACE_OF_SERVICE = re.compile(r"^[0-9]{2}$")
CARC = re.compile(r"^([0-9]{1,3}|[A-Z][0-9]{1,2})$")
RARC = re.compile(r"^[A-Z]{1,2}[0-9]{1,3}$")


def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over the 9-digit base prefixed with 80840 (CMS, 'Requirements for
    NPI check digit', card issuer identifier 80840 of ISO 7812)."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():  # str.isdigit() alone takes "١٢٣" and "²"
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def normalize_icd10(code: str) -> str:
    """ICD-10-CM codes are sent without the dot in X12 (HI segment); store them that way."""
    return code.replace(".", "").upper()
