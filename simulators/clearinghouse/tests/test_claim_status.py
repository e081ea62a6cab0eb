"""The simulated payer answers 276s with 277s from what it has seen (synthetic claims only)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

from openrcm_clearinghouse_sim.acknowledgements import ClaimOutcome, ClearinghouseIdentity, ControlNumbers
from openrcm_clearinghouse_sim.claim_status import answer_276
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.claim_status_276 import InquiryPerson, StatusInquiry, StatusInquiryBatch, build_276
from openrcm_shared.x12.claim_status_277 import StatusCode, parse_277

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=timezone.utc)


def request_for(*pcns: str) -> bytes:
    envelope = InterchangeEnvelope(sender_qualifier="ZZ", sender_id="OPENRCM01", receiver_qualifier="ZZ",
                                   receiver_id="CLEARINGHOUSE", application_sender_code="OPENRCM01",
                                   application_receiver_code="CLEARINGHOUSE", interchange_control_number=7,
                                   group_control_number=7, created_at=NOW, usage_indicator="T")
    inquiries = [StatusInquiry(trace_number=f"T{pcn}", patient_control_number=pcn, total_charge=Decimal("125.00"),
                               service_date_from=date(2026, 2, 20), service_date_to=None,
                               subscriber=InquiryPerson("DOE", "JANE", "W123456789", date(1980, 1, 2), "F"))
                 for pcn in pcns]
    return build_276(envelope, [StatusInquiryBatch(
        payer_name="ACME HEALTH", payer_id="60054", receiver_name="OPENRCM", receiver_id="OPENRCM01",
        provider_name="CLINIC", provider_npi="1234567893", inquiries=inquiries, reference="REQ1")]).encode()


def clearinghouse_that_saw(*, paid: dict[str, str] | None = None, denied: tuple = (), accepted: tuple = (),
                           rejected: tuple = ()):
    claims = [SimpleNamespace(patient_control_number=pcn, status_code="1", paid=Decimal(amount),
                              payer_claim_control_number=f"PC{pcn}") for pcn, amount in (paid or {}).items()]
    claims += [SimpleNamespace(patient_control_number=pcn, status_code="4", paid=Decimal("0"),
                               payer_claim_control_number=f"PC{pcn}") for pcn in denied]
    outcomes = [ClaimOutcome(pcn, "0001", "accepted", payer_claim_control_number=f"PC{pcn}") for pcn in accepted]
    outcomes += [ClaimOutcome(pcn, "0001", "rejected") for pcn in rejected]
    return SimpleNamespace(
        remittances=[SimpleNamespace(remittance=SimpleNamespace(claims=claims))],
        batches={"b1": SimpleNamespace(acknowledgements=SimpleNamespace(claims=outcomes))},
        identity=ClearinghouseIdentity("Simulated Clearinghouse", ControlNumbers(start=100)))


def test_each_claim_is_answered_with_what_the_payer_did_with_it():
    clearinghouse = clearinghouse_that_saw(paid={"P1": "80.00"}, denied=("D1",), accepted=("A1",), rejected=("R1",))
    answers = parse_277(answer_276(clearinghouse, request_for("P1", "D1", "A1", "R1", "N1"), now=NOW))
    assert [(a.trace_number, a.current.primary, a.current.paid_amount, a.payer_claim_control_number)
            for a in answers] == [
        ("TP1", StatusCode("F1", "65"), Decimal("80.00"), "PCP1"),
        ("TD1", StatusCode("F2", "104"), Decimal("0"), "PCD1"),
        ("TA1", StatusCode("P1", "20"), None, "PCA1"),
        ("TR1", StatusCode("A3", "21"), None, None),
        ("TN1", StatusCode("A4", "35"), None, None)]
    assert {a.payer_id for a in answers} == {"60054"} and answers[0].current.status_date == NOW.date()
