"""The synthetic FHIR examples of tests/fixtures/fhir, their dates moved to recent days (the
intake refuses future dates of service and the scrubber old ones)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
# The examples' day of service; the admission is the day before, the claim made the day after.
EXAMPLE_DAY = date(2026, 11, 2)


def example(name: str, *, served: date | None = None, exact: bool = True) -> dict:
    """The example `name` (without .json) as JSON, with its dates moved so that the service was on
    `served` (default: five days ago); decimals as Decimal when `exact`, else as floats (for an
    HTTP client's JSON encoder)."""
    served = served or date.today() - timedelta(days=5)
    text = (FIXTURES / f"{name}.json").read_text()
    for offset in (-1, 0, 1):
        text = text.replace((EXAMPLE_DAY + timedelta(days=offset)).isoformat(),
                            (served + timedelta(days=offset)).isoformat())
    return json.loads(text, parse_float=Decimal if exact else float)
