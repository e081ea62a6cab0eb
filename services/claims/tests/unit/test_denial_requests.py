"""Corrections a denial case asks for, applied to the billed encounter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from openrcm_claims.service_layer.denial_requests import corrected_document
from openrcm_shared.contracts.denials import LineCorrection

DOCUMENT = {"encounter_id": "EHR-1", "diagnosis_codes": ["E11.9"],
            "lines": [{"procedure_code": "99213", "modifiers": [], "units": "1", "charge_amount": "125.00",
                       "diagnosis_pointers": [1]},
                      {"procedure_code": "36415", "modifiers": [], "units": "1", "charge_amount": "15.50",
                       "diagnosis_pointers": [1]}]}


def test_only_the_named_fields_of_the_named_lines_change():
    corrected = corrected_document(DOCUMENT, [LineCorrection(line_number=2, modifiers=["59"], units=Decimal("2"))],
                                   ["E11.9", "I10"])
    assert corrected["lines"][0] == DOCUMENT["lines"][0]
    assert corrected["lines"][1] == {**DOCUMENT["lines"][1], "modifiers": ["59"], "units": "2"}
    assert corrected["diagnosis_codes"] == ["E11.9", "I10"]
    assert DOCUMENT["lines"][1]["modifiers"] == []  # the billed document is not touched


def test_a_line_not_on_the_claim_is_refused():
    with pytest.raises(ValueError, match="line 3"):
        corrected_document(DOCUMENT, [LineCorrection(line_number=3, procedure_code="99214")], None)
