"""835 balancing (005010X221A1 section 1.10.2) at line, claim and transaction level, in exact
Decimal: differences are reported with where and by how much, never raised."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

import pytest

from openrcm_shared.x12.balancing import (
    BalancingDifference, BalancingLevel, RemittanceBalancer, balance_claim, balance_remittance,
)
from openrcm_shared.x12.remittance_835 import (
    Adjustment, ClaimPayment, Party, PaymentInformation, ProcedureCode, ProviderAdjustment, ReassociationTrace,
    Remittance835, ServiceLine, parse_835,
)
from shared.tests.unit.x12.x12_test_support import HEADER_835, interchange, transaction_835

D = Decimal
SL, CL, TX = BalancingLevel.SERVICE_LINE, BalancingLevel.CLAIM, BalancingLevel.TRANSACTION
OFFICE_VISIT = ProcedureCode("HC", "99213")


def line(charge: str, paid: str, *adjustments: tuple[str, str, str], segment_number: int = 0) -> ServiceLine:
    return ServiceLine(OFFICE_VISIT, D(charge), D(paid), segment_number,
                       adjustments=[Adjustment(group, reason, D(amount)) for group, reason, amount in adjustments])


def claim(pcn: str, charge: str, paid: str, *adjustments: tuple[str, str, str], lines=(), status: str = "1",
          segment_number: int = 0) -> ClaimPayment:
    return ClaimPayment(pcn, status, D(charge), D(paid), segment_number,
                        adjustments=[Adjustment(group, reason, D(amount)) for group, reason, amount in adjustments],
                        service_lines=list(lines))


def remittance(payment: str, claims, provider_adjustments=(), flag: str = "C") -> Remittance835:
    return Remittance835(
        transaction_set_control_number="0001", implementation_convention_reference=None,
        interchange_control_number="000000001", interchange_sender_id="PAYER", interchange_receiver_id="US",
        group_control_number="1", application_sender_code="PAYER", application_receiver_code="US",
        version="005010X221A1", payment=PaymentInformation("I", D(payment), flag, "ACH"),
        trace=ReassociationTrace("1", "EFT1"), payer=Party("PR", "PAYER"), payee=Party("PE", "CLINIC"),
        claims=list(claims),
        provider_adjustments=[ProviderAdjustment("1234567893", date(2026, 12, 31), reason, D(amount))
                              for reason, amount in provider_adjustments])


def test_a_balanced_transaction_has_no_differences():
    # 100 - (CO-45 20 + PR-2 16) = 64 on the line and the claim; 64 + 36.40 - (WO 0.40) = 100 = BPR02.
    balanced = remittance("100.00", [
        claim("PCN1", "100", "64", lines=[line("100", "64", ("CO", "45", "20"), ("PR", "2", "16"))]),
        claim("PCN2", "50", "36.40", ("CO", "45", "13.60")),
    ], provider_adjustments=[("WO", "0.40")])
    assert balance_remittance(balanced) == []


def test_differences_at_every_level_are_listed_in_file_order():
    unbalanced = remittance("200", [
        claim("PCN1", "100", "80", lines=[line("60", "45", ("CO", "45", "10"), segment_number=11),  # 50 expected
                                          line("40", "30", ("CO", "45", "10"), segment_number=15)],  # balanced
              segment_number=9),  # 100 - 20 = 80: balanced although a line is not
        claim("PCN2", "50", "45", ("CO", "45", "10"), segment_number=19),  # 40 expected
    ], provider_adjustments=[("L6", "-5")])
    assert balance_remittance(unbalanced) == [
        BalancingDifference(SL, D("50"), D("45"), "PCN1", 1, 1, 11),
        BalancingDifference(CL, D("40"), D("45"), "PCN2", 2, None, 19),
        BalancingDifference(TX, D("130"), D("200")),  # 80 + 45 - (-5)
    ]
    assert [difference.difference for difference in balance_remittance(unbalanced)] == [D("-5"), D("5"), D("70")]


def test_claim_level_counts_claim_and_line_adjustments_together():
    # 500 - (claim CO-45 100 + line PR-1 50 + line CO-45 30) = 320.
    combined = claim("PCN1", "500", "320", ("CO", "45", "100"),
                     lines=[line("300", "250", ("PR", "1", "50")), line("200", "170", ("CO", "45", "30"))])
    assert balance_claim(combined, 1) == []
    assert balance_claim(claim("PCN1", "500", "350", ("CO", "45", "100"), lines=combined.service_lines), 3) == [
        BalancingDifference(CL, D("320"), D("350"), "PCN1", 3, None, 0)]


def test_a_claim_without_lines_or_adjustments_is_not_checked():
    bare = claim("PCN1", "100", "0")
    assert balance_claim(bare, 1) == []
    assert balance_claim(claim("PCN1", "100", "0", ("CO", "50", "90")), 1) == [
        BalancingDifference(CL, D("10"), D("0"), "PCN1", 1, None, 0)]


def test_reversal_and_correction_balance_with_negative_amounts():
    # CLP02 = 22 takes back the original payment with every amount negated; the corrected claim
    # (CLP02 = 1) pays again. The check carries the net: -80 + 85 = 5.
    reversal = claim("PCN1", "-100", "-80", lines=[line("-100", "-80", ("CO", "45", "-20"))], status="22")
    correction = claim("PCN1", "100", "85", lines=[line("100", "85", ("CO", "45", "15"))])
    assert balance_remittance(remittance("5", [reversal, correction])) == []


def test_a_debit_is_balanced_as_money_taken_back():
    # BPR03 = D: the payer debits the provider; BPR02 stays positive.
    taken_back = claim("PCN1", "-100", "-80", ("CO", "45", "-20"), status="22")
    assert balance_remittance(remittance("80", [taken_back], flag="D")) == []
    assert balance_remittance(remittance("80", [taken_back], flag="C")) == [
        BalancingDifference(TX, D("-80"), D("80"))]


def test_cents_and_trailing_zeros_compare_exactly():
    assert balance_claim(claim("PCN1", "10.10", "3.03", ("CO", "45", "7.07")), 1) == []
    assert balance_claim(claim("PCN1", "10.10", "3.04", ("CO", "45", "7.07")), 1) == [
        BalancingDifference(CL, D("3.03"), D("3.04"), "PCN1", 1, None, 0)]
    assert balance_remittance(remittance("945.00", [claim("A", "945", "945.0")])) == []


def test_the_streaming_balancer_matches_the_whole_transaction_and_counts_repeated_pcns():
    claims = [claim("SAME", "10", "10"), claim("SAME", "10", "9", ("CO", "45", "2")), claim("SAME", "5", "5")]
    balancer = RemittanceBalancer()
    per_claim = [balancer.add_claim(each) for each in claims]
    assert per_claim == [[], [BalancingDifference(CL, D("8"), D("9"), "SAME", 2, None, 0)], []]
    assert (balancer.claim_count, balancer.total_claim_payment) == (3, D("24"))
    whole = remittance("24", claims)
    assert balancer.finish(whole) == balance_remittance(whole)


def test_parsed_reversal_with_plb_balances_end_to_end():
    text = interchange(transaction_835(
        "LX*1", "CLP*PCN1*22*-100*-80**12*ICN1", "SVC*HC:99213*-100*-80", "CAS*CO*45*-20",
        "CLP*PCN1*1*100*85**12*ICN2", "SVC*HC:99213*100*85", "CAS*CO*45*15",
        "PLB*1234567893*20261231*72:ICN0*-10",
        header=["ST*835*0001", "BPR*I*15*C*CHK************20260302", *HEADER_835[2:]]))
    (parsed,) = parse_835(text)
    assert [(each.status_code, each.paid) for each in parsed.claims] == [("22", D("-80")), ("1", D("85"))]
    assert balance_remittance(parsed) == []  # -80 + 85 - (-10) = 15


def test_parsed_unbalanced_line_names_its_svc_segment():
    text = interchange(transaction_835("LX*1", "CLP*PCN1*1*100*80**12", "SVC*HC:99213*100*75", "CAS*CO*45*20",
                                       header=["ST*835*0001", "BPR*I*80*C*CHK", *HEADER_835[2:]]))
    (parsed,) = parse_835(text)
    # ISA 1, GS 2, ST 3, BPR 4, TRN 5, N1 6, N1 7, LX 8, CLP 9, SVC 10.
    assert balance_remittance(parsed) == [BalancingDifference(SL, D("80"), D("75"), "PCN1", 1, 1, 10)]


def test_a_context_too_coarse_for_exact_sums_is_refused():
    with localcontext() as context:
        context.prec = 6
        with pytest.raises(ValueError, match="at least 28 digits"):
            RemittanceBalancer()
