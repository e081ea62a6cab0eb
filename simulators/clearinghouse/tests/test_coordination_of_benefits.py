"""The simulated secondary payer under coordination of benefits (pure pricing, no I/O): it reads the
primary's decision from loops 2320/2430 and pays toward the patient share it left."""

from decimal import Decimal as D

from openrcm_clearinghouse_sim.adjudication import AcceptedClaim
from openrcm_clearinghouse_sim.adjudication_rules import AdjudicationRule
from openrcm_clearinghouse_sim.coordination_of_benefits import adjudicate
from openrcm_clearinghouse_sim.intake import BillingProviderParty, ReceivedClaim, ReceivedServiceLine
from openrcm_clearinghouse_sim.prior_payers import PriorLineAdjudication, PriorPayersReader


def line(code: str, charge: str, prior_paid: str, prior_pr: str) -> ReceivedServiceLine:
    prior = PriorLineAdjudication("60054", D(prior_paid), (("CO", "45", D(charge) * D("0.2")),
                                                           ("PR", "2", D(prior_pr))))
    return ReceivedServiceLine("HC", code, (), D(charge), D(1), prior_adjudications=(prior,))


def claim(responsibility: str) -> AcceptedClaim:
    received = ReceivedClaim("PCN1", D("1660.00"), "SEC01", "M2", "Synthetic", "Testy",
                             BillingProviderParty("Clinic", "1234567893"), None, None,
                             lines=(line("99284", "1200.00", "768.00", "192.00"),
                                    line("85025", "460.00", "294.40", "73.60")),
                             payer_responsibility=responsibility)
    return AcceptedClaim(received, "ICN1", interchange=None)


RULE = AdjudicationRule.model_validate({"action": "pay", "fee_schedule": {"percent_of_charge": "75",
                                                                         "coinsurance_percent": "20"}})


def test_the_secondary_pays_the_share_the_primary_left_up_to_its_allowed_amount():
    payment = adjudicate(claim("S"), RULE)
    assert (payment.status_code, payment.paid, payment.patient_responsibility) == ("2", D("182.60"), D("83.00"))
    assert [(line.paid, [(a.group_code, a.reason_code, a.amount) for a in line.adjustments])
            for line in payment.service_lines] == [
        (D("132.00"), [("OA", "23", D("1008.00")), ("PR", "2", D("60.00"))]),
        (D("50.60"), [("OA", "23", D("386.40")), ("PR", "2", D("23.00"))])]
    for priced in payment.service_lines:  # SVC03 = SVC02 - sum(CAS)
        assert priced.paid == priced.charge - sum(a.amount for a in priced.adjustments)


def test_a_claim_billed_as_primary_is_priced_as_primary():
    payment = adjudicate(claim("P"), RULE)
    assert (payment.status_code, payment.paid) == ("1", D("996.00"))


def test_the_2320_and_2430_loops_are_read():
    reader = PriorPayersReader()
    value = lambda segment, position: segment[position] if position < len(segment) else ""  # noqa: E731
    for segment in (["SBR", "P", "18"], ["AMT", "D", "1062.4"], ["AMT", "EAF", "265.6"],
                    ["NM1", "PR", "2", "PLAN", "", "", "", "", "PI", "60054"]):
        reader.take(segment, value)
    reader.start_line()
    for segment in (["SVD", "60054", "768", "HC:99284", "", "1"], ["CAS", "CO", "45", "240"],
                    ["CAS", "PR", "2", "192"]):
        reader.take(segment, value)
    [decision] = reader.line_decisions()
    assert (decision.payer_id, decision.paid, decision.patient_responsibility) == ("60054", D("768"), D("192"))
    [payer] = reader.claim_decisions()
    assert (payer.responsibility, payer.payer_id, payer.paid, payer.patient_liability) == (
        "P", "60054", D("1062.4"), D("265.6"))
