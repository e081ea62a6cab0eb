"""Monetary amounts in an 835 (data element 782): whole cents, at most 99999999.99 (005010X221A1
Appendix B.1.1.3.1.2). Anything else is refused naming the element: it reached the ledger's
NUMERIC(12, 2) columns and the events' Money (a 500 at the upload) before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from openrcm_shared.x12.reader import X12DataError
from openrcm_shared.x12.remittance_835 import parse_835
from shared.tests.unit.x12.x12_test_support import CLAIM_835, HEADER_835, interchange, transaction_835


def parsed(*body: str, header: list[str] | None = None):
    [remittance] = parse_835(interchange(transaction_835(*body, header=header)))
    return remittance


def with_segment(segments: list[str], old: str, new: str) -> list[str]:
    return [new if segment == old else segment for segment in segments]


@pytest.mark.parametrize(("header", "body", "segment_id", "position"), [
    (with_segment(HEADER_835, "BPR*I*80*C*CHK************20260302", "BPR*I*100000000*C*CHK************20260302"),
     CLAIM_835, "BPR", 2),
    (HEADER_835, with_segment(CLAIM_835, "CLP*PCN1*1*100*80**12*ICN1", "CLP*PCN1*1*100.001*80**12*ICN1"), "CLP", 3),
    (HEADER_835, with_segment(CLAIM_835, "CLP*PCN1*1*100*80**12*ICN1", "CLP*PCN1*1*100*80*" + "9" * 30 + "*12*ICN1"),
     "CLP", 5),
    (HEADER_835, with_segment(CLAIM_835, "SVC*HC:99213*100*80**1", "SVC*HC:99213*100*80.005**1"), "SVC", 3),
    (HEADER_835, with_segment(CLAIM_835, "CAS*CO*45*20", "CAS*CO*45*12345678901234"), "CAS", 3),
    (HEADER_835, with_segment(CLAIM_835, "CAS*CO*45*20", "CAS*CO*45*10**2*0.001"), "CAS", 6),
    (HEADER_835, [*CLAIM_835, "AMT*B6*0.125"], "AMT", 2),
    (HEADER_835, [*CLAIM_835, "PLB*1234567893*20261231*L6*-100000000.00"], "PLB", 4),
    (HEADER_835, [*CLAIM_835[:3], "MOA**12.345", *CLAIM_835[3:]], "MOA", 2),
    (HEADER_835, [*CLAIM_835[:3], "MIA*1***100000000", *CLAIM_835[3:]], "MIA", 4),
])
def test_an_amount_the_guide_does_not_allow_is_refused_naming_its_element(header, body, segment_id, position):
    with pytest.raises(X12DataError) as refused:
        parsed(*body, header=header)
    assert (refused.value.segment_id, refused.value.element_position) == (segment_id, position)
    assert "monetary amount" in refused.value.reason


def test_the_largest_amounts_and_trailing_zeros_are_read():
    largest = "CLP*PCN1*1*99999999.99*80.000**12*ICN1"
    remittance = parsed(*with_segment(CLAIM_835, "CLP*PCN1*1*100*80**12*ICN1", largest),
                        header=with_segment(HEADER_835, "BPR*I*80*C*CHK************20260302",
                                            "BPR*I*-99999999.99*C*CHK************20260302"))
    [claim] = remittance.claims
    assert (claim.charge, claim.paid, remittance.payment.amount) == (
        Decimal("99999999.99"), Decimal("80"), Decimal("-99999999.99"))


def test_quantities_are_not_monetary_amounts():
    # SVC05 units and a CAS quantity may have any number of decimal places.
    remittance = parsed(*with_segment(with_segment(CLAIM_835, "SVC*HC:99213*100*80**1", "SVC*HC:99213*100*80**1.125"),
                                      "CAS*CO*45*20", "CAS*CO*45*20*0.5"))
    [line] = remittance.claims[0].service_lines
    assert (line.units, line.adjustments[0].quantity) == (Decimal("1.125"), Decimal("0.5"))
