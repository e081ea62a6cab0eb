"""Patient estimates from a 271's summary and contracted rates; the good-faith estimate PDF (45 CFR 149.610)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from openrcm_eligibility.domain.estimates import MissingPrice, PlannedService, Rate, estimate
from openrcm_eligibility.domain.good_faith_estimate import (
    EstimatedItem, EstimatedProvider, GoodFaithEstimate, good_faith_estimate_pdf,
)
from openrcm_shared.documents.pdf import pdf_text

D = Decimal
DAY = date(2026, 3, 16)
SUMMARY = {
    "30": {"deductible_remaining": {"in": "400.00"}, "out_of_pocket_remaining": {"in": "1000.00"},
           "coinsurance_percent": {"in": "20", "out": "40"}},
    "98": {"copay": {"in": "25.00"}, "coinsurance_percent": {"in": "20"}},
    "5": {"coinsurance_percent": {"in": "20"}},
    "AL": {"non_covered": True},
}
RATES = [Rate("70551", None, D("600.00"), date(2026, 1, 1), None),
         Rate("70551", "26", D("150.00"), date(2026, 1, 1), None),
         Rate("99213", None, D("90.00"), date(2026, 1, 1), date(2026, 2, 28)),
         Rate("80053", None, D("12.50"), date(2026, 1, 1), None)]


def test_deductible_then_coinsurance_then_copay_then_not_covered() -> None:
    result = estimate([PlannedService("70551"), PlannedService("80053", units=D(2)),
                       PlannedService("99213", charge=D("140.00")), PlannedService("92004", charge=D("180.00"))],
                      summary=SUMMARY, rates=RATES, service_date=DAY)
    mri, lab, visit, eye = result.lines
    # 600 allowed: 400 deductible left, 20 % of the other 200.
    assert (mri.allowed_amount, mri.deductible, mri.coinsurance, mri.patient_responsibility, mri.payer_pays) == \
        (D("600.00"), D("400.00"), D("40.00"), D("440.00"), D("160.00"))
    # The deductible is met: 20 % of 25.00.
    assert (lab.allowed_amount, lab.deductible, lab.patient_responsibility) == (D("25.00"), D("0"), D("5.00"))
    # The office visit's rate ended in February: the charge is used, and the copay applies.
    assert (visit.allowed_source, visit.copay, visit.patient_responsibility) == ("charge", D("25.00"), D("25.00"))
    assert eye.not_covered == D("180.00") and eye.patient_responsibility == D("180.00")
    # 440 + 5 + 25 = 470 of the 1000 left; the eye exam's 180 fits too.
    assert result.total_patient_responsibility == D("650.00")
    assert result.out_of_pocket_remaining_after == D("350.00") and result.deductible_remaining_after == D("0.00")
    assert any("contracted rate 600.00" in text for text in mri.explanation)


def test_modifier_rate_out_of_network_and_the_out_of_pocket_cap() -> None:
    capped = {**SUMMARY, "30": {**SUMMARY["30"], "out_of_pocket_remaining": {"out": "50.00"}}}
    [line] = estimate([PlannedService("70551", modifiers=("26",))], summary=capped, rates=RATES, service_date=DAY,
                      network="out").lines
    assert line.allowed_amount == D("150.00")
    # No out-of-network deductible given: 40 % of 150 is 60, capped at the 50 left.
    assert line.patient_responsibility == D("50.00") and "out-of-pocket" in line.explanation[-1]


def test_a_service_without_rate_or_charge_is_refused_by_index() -> None:
    with pytest.raises(MissingPrice) as refused:
        estimate([PlannedService("80053"), PlannedService("99999")], summary=SUMMARY, rates=RATES, service_date=DAY)
    assert refused.value.index == 1


def test_good_faith_estimate_pdf_has_every_required_field() -> None:
    pdf = good_faith_estimate_pdf(GoodFaithEstimate(
        patient_name="Testy Synthetic", patient_birth_date=date(1979, 4, 12), primary_service="Knee MRI",
        scheduled_date=DAY, issued_on=date(2026, 3, 1),
        provider=EstimatedProvider("Synthetic Imaging", "1234567893", "123456789", "100 Main Street, Springfield IL",
                                   "IL"),
        items=(EstimatedItem("73721", "MRI lower extremity joint", D(1), D("1200.00"), ("M25.561",)),
               EstimatedItem("A9579", "Contrast agent", D(1), D("85.50"), ("M25.561",)))))
    text = pdf_text(pdf)
    for expected in ("Testy Synthetic", "1979-04-12", "Knee MRI", "2026-03-16", "1234567893", "123456789",
                     "Springfield", "73721", "M25.561", "$1,200.00", "$1,285.50", "only an estimate",
                     "dispute resolution", "$400.00", "not a contract", "scheduled separately"):
        assert expected in text, expected


def test_per_unit_rates_with_more_than_two_places_are_priced_to_the_cent() -> None:
    drug = Rate("J1100", None, D("0.1234"), date(2026, 1, 1), None)  # dexamethasone, per 0.1 mg
    [line] = estimate([PlannedService("J1100", units=D(40))], summary=SUMMARY, rates=[drug], service_date=DAY).lines
    assert line.allowed_amount == D("4.94")  # 4.936 rounded half up
