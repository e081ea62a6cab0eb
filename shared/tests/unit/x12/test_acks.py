"""999 (005010X231A1) and 277CA (005010X214): build -> parse round trips, pyx12 finds nothing
wrong in what we build, and the public sample acknowledgements parse to the outcomes they state."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope, UnsafeElement, render_segment
from openrcm_shared.x12.reader import Delimiters, X12EnvelopeError
from openrcm_shared.x12.ack_999 import (
    AcknowledgmentCode,
    ElementError,
    FunctionalGroupAcknowledgment,
    Malformed999,
    SegmentError,
    TransactionSetAcknowledgment,
    build_999,
    group_status,
    parse_999,
)
from openrcm_shared.x12.claim_ack_277ca import (
    ACCEPTED_BY_CLEARINGHOUSE,
    ACCEPTED_FOR_ADJUDICATION,
    ActionCode,
    BillingProviderAcknowledgment,
    ClaimAcknowledgment,
    ClaimAcknowledgmentReport,
    ClaimStatus,
    StatusInformation,
    build_277ca,
    parse_277ca,
)
from tests.x12_validation import pyx12_errors

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "deploy" / "topics.toml").exists())
SAMPLES = REPO_ROOT.parent / "shared" / "x12-samples" / "imsweb"
PROCESSED = date(2026, 3, 2)

ENVELOPE = InterchangeEnvelope(
    sender_qualifier="ZZ", sender_id="CLEARHOUSE01", receiver_qualifier="ZZ", receiver_id="OPENRCM01",
    application_sender_code="CLEARHOUSE01", application_receiver_code="OPENRCM01",
    interchange_control_number=4711, group_control_number=4711, created_at=datetime(2026, 3, 2, 14, 5),
    usage_indicator="T")


def sample(relative: str) -> str:
    return (SAMPLES / relative).read_text(encoding="ascii")


# ------------------------------------------------------------------------------------------ 999


ACCEPTED_SET = TransactionSetAcknowledgment("837", "0001", AcknowledgmentCode.ACCEPTED, "005010X222A1")
REJECTED_SET = TransactionSetAcknowledgment(
    "837", "0002", AcknowledgmentCode.REJECTED, "005010X222A1", error_codes=("5",),
    segment_errors=(
        # the payer's NM1 (2010BB) with a bad NM108 code and a too-long NM109
        SegmentError("NM1", 17, "2010", "8", (ElementError(8, "7", reference_number="66", bad_value="ZZ"),
                                              ElementError(9, "5", reference_number="67"))),
        SegmentError("N3", 8, "2010", "3"),  # required billing provider address missing
        SegmentError("HI", 24, "2300", "8", (ElementError(1, "7", component_position=2, reference_number="1271"),)),
    ))
WITH_ERRORS_SET = TransactionSetAcknowledgment(
    "837", "0003", AcknowledgmentCode.ACCEPTED_WITH_ERRORS, "005010X222A1", error_codes=("5",),
    segment_errors=(SegmentError("REF", 30, "2300", "8", (ElementError(2, "I12", reference_number="127"),)),))


def test_999_round_trip_keeps_every_status_and_error():
    groups = [
        FunctionalGroupAcknowledgment.summarize(functional_id="HC", group_control_number="101", version="005010X222A1",
                                                transaction_sets=[ACCEPTED_SET, REJECTED_SET, WITH_ERRORS_SET]),
        FunctionalGroupAcknowledgment.summarize(functional_id="HC", group_control_number="102", version="005010X223A2",
                                                transaction_sets=[TransactionSetAcknowledgment(
                                                    "837", "0004", AcknowledgmentCode.ACCEPTED, "005010X223A2")]),
    ]
    [parsed] = parse_999(build_999(ENVELOPE, groups))

    assert parsed.groups == tuple(groups)
    assert (parsed.interchange_control_number, parsed.sender_id, parsed.receiver_id) == ("000004711", "CLEARHOUSE01",
                                                                                         "OPENRCM01")
    by_set = parsed.by_control_number()
    assert {number: ts.status for number, ts in by_set.items()} == {
        "0001": AcknowledgmentCode.ACCEPTED, "0002": AcknowledgmentCode.REJECTED,
        "0003": AcknowledgmentCode.ACCEPTED_WITH_ERRORS, "0004": AcknowledgmentCode.ACCEPTED}
    nm1 = by_set["0002"].segment_errors[0]
    assert (nm1.segment_id, nm1.position, nm1.loop_id, nm1.error_code) == ("NM1", 17, "2010", "8")
    assert [(e.position, e.error_code, e.bad_value) for e in nm1.element_errors] == [(8, "7", "ZZ"), (9, "5", None)]
    assert by_set["0002"].segment_errors[2].element_errors[0].component_position == 2
    assert groups[0].status is AcknowledgmentCode.PARTIALLY_ACCEPTED
    assert (groups[0].transaction_sets_received, groups[0].transaction_sets_accepted) == (3, 2)


def test_999_round_trip_with_other_delimiters():
    envelope = InterchangeEnvelope(**{**ENVELOPE.__dict__, "delimiters": Delimiters("|", ">", "!", "\n")})
    groups = [FunctionalGroupAcknowledgment.summarize(functional_id="HC", group_control_number="7",
                                                      version="005010X222A1", transaction_sets=[REJECTED_SET])]
    [parsed] = parse_999(build_999(envelope, groups))
    assert parsed.groups == tuple(groups)


@pytest.mark.parametrize(("statuses", "expected"), [
    (["A", "A"], "A"), (["A", "E"], "E"), (["R", "R"], "R"), (["A", "R"], "P"), (["E", "R"], "P"), ([], "R"),
])
def test_ak901_follows_the_transaction_set_statuses(statuses, expected):
    sets = [TransactionSetAcknowledgment("837", str(n), AcknowledgmentCode(s)) for n, s in enumerate(statuses)]
    assert group_status(sets) is AcknowledgmentCode(expected)


def test_a_group_level_error_rejects_the_group():
    group = FunctionalGroupAcknowledgment.summarize(functional_id="HC", group_control_number="1", version=None,
                                                    transaction_sets=[ACCEPTED_SET], error_codes=("5",))
    assert group.status is AcknowledgmentCode.REJECTED


def test_generated_999_passes_pyx12():
    groups = [FunctionalGroupAcknowledgment.summarize(functional_id="HC", group_control_number="101",
                                                      version="005010X222A1",
                                                      transaction_sets=[ACCEPTED_SET, REJECTED_SET, WITH_ERRORS_SET])]
    x12 = build_999(ENVELOPE, groups)
    assert pyx12_errors(x12) == [], x12.replace("~", "~\n")


def test_imsweb_999_accepted_sample_is_refused_for_its_broken_interchange_trailer():
    # IEA02 000000001 does not repeat ISA13 000000286 (the one error pyx12 reports on this file):
    # the reader fails closed rather than apply an acknowledgement from a broken envelope.
    with pytest.raises(X12EnvelopeError) as refused:
        parse_999(sample("837_5010/x12_999_accepted.txt"))
    assert (refused.value.segment_id, refused.value.element_position, refused.value.segment_number) == ("IEA", 2, 10)


def test_imsweb_999_accepted_sample_with_its_trailer_repaired():
    text = sample("837_5010/x12_999_accepted.txt").replace("IEA*1*000000001", "IEA*1*000000286")
    [ack] = parse_999(text)
    [group] = ack.groups
    assert (group.functional_id, group.group_control_number, group.version) == ("HC", "17456", "005010X223A2")
    assert (group.status, group.transaction_sets_included, group.transaction_sets_received,
            group.transaction_sets_accepted) == (AcknowledgmentCode.ACCEPTED, 1, 1, 1)
    assert ack.by_control_number() == {
        "0001": TransactionSetAcknowledgment("837", "0001", AcknowledgmentCode.ACCEPTED, "005010X223A2")}


def test_imsweb_999_rejected_sample_with_pipe_component_separator():
    [ack] = parse_999(sample("837_5010/x12_999_rejected.txt"))
    [group] = ack.groups
    assert (group.status, group.transaction_sets_included, group.transaction_sets_received,
            group.transaction_sets_accepted) == (AcknowledgmentCode.REJECTED, 1, 1, 0)
    rejected = ack.by_control_number()["0028"]
    assert rejected.status is AcknowledgmentCode.REJECTED
    assert rejected.status.accepted is False
    assert rejected.error_codes == ("5",)
    assert rejected.implementation_reference is None  # the sample's AK2 has no AK203
    assert rejected.segment_errors == (SegmentError("NM", 17, None, "1"),)  # unrecognized segment id at 17


def test_ik4_before_any_ik3_is_malformed():
    text = build_999(ENVELOPE, [FunctionalGroupAcknowledgment.summarize(
        functional_id="HC", group_control_number="1", version="005010X222A1", transaction_sets=[ACCEPTED_SET])])
    broken = text.replace("AK2*837*0001*005010X222A1~", "AK2*837*0001*005010X222A1~IK4*1**1~").replace(
        "SE*6*0001~", "SE*7*0001~")
    with pytest.raises(Malformed999):
        parse_999(broken)


# ---------------------------------------------------------------------------------------- 277CA


def claim(pcn: str, status: ClaimStatus, charge: str, **changes) -> ClaimAcknowledgment:
    action = ActionCode.ACCEPT if status.accepted else ActionCode.REJECT
    fields = dict(patient_control_number=pcn, patient_last_name="DOE", patient_first_name="JANE", member_id="W123456789",
                  statuses=(StatusInformation(status, action, Decimal(charge), effective_date=PROCESSED),),
                  service_date_from=date(2026, 2, 20), clearinghouse_trace_number=f"CH{pcn}",
                  payer_claim_control_number=f"26061{pcn[-4:]}" if status.accepted else None)
    fields.update(changes)
    return ClaimAcknowledgment(**fields)


def report(*providers: BillingProviderAcknowledgment, reference: str = "CHA1B2C3D401") -> ClaimAcknowledgmentReport:
    total = sum((c.total_charge for p in providers for c in p.claims), Decimal(0))
    return ClaimAcknowledgmentReport(
        reference=reference, created_at=datetime(2026, 3, 2, 14, 5, 9),
        information_source_name="OPENRCM CLEARINGHOUSE SIM", information_source_id="CLEARHOUSE01",
        source_trace_number="CHA1B2C3D4", receipt_date=date(2026, 3, 1), process_date=PROCESSED,
        receiver_name="OPENRCM BILLING", receiver_id="OPENRCM01", batch_trace_number="0000047110001",
        receiver_status=StatusInformation(ACCEPTED_BY_CLEARINGHOUSE, ActionCode.ACCEPT, total, effective_date=PROCESSED),
        providers=providers)


def provider(name: str, npi: str, *claims: ClaimAcknowledgment, **changes) -> BillingProviderAcknowledgment:
    total = sum((c.total_charge for c in claims), Decimal(0))
    fields = dict(last_or_organization_name=name, identifier=npi, trace_number=f"T{npi}", claims=claims,
                  status=StatusInformation(ACCEPTED_BY_CLEARINGHOUSE, ActionCode.ACCEPT, total), tax_id="123456789")
    fields.update(changes)
    return BillingProviderAcknowledgment(**fields)


REPORTS = [
    report(
        provider("SUNRISE FAMILY MEDICINE", "1234567893",
                 claim("PCN0001", ACCEPTED_FOR_ADJUDICATION, "140.50"),
                 claim("PCN0002", ClaimStatus("A7", "562", "85"), "99.99", patient_first_name=None,
                       service_date_to=date(2026, 2, 22)),
                 claim("PCN0003", ClaimStatus("A6", "21"), "10", statuses=(StatusInformation(
                     ClaimStatus("A6", "21"), ActionCode.REJECT, Decimal("10"), effective_date=PROCESSED,
                     additional_statuses=(ClaimStatus("A6", "128", "IL"),), message="MISSING SUBSCRIBER ID"),))),
        provider("BAYSIDE COMMUNITY HOSPITAL", "1222222220",
                 claim("INST0001", ACCEPTED_FOR_ADJUDICATION, "892.75", bill_type="131"),
                 entity_type="2", tax_id=None)),
    report(provider("GREEN", "1245319599", claim("PCN0009", ACCEPTED_FOR_ADJUDICATION, "75"),
                    entity_type="1", first_name="ALEX"), reference="CHA1B2C3D402"),
]


def test_277ca_round_trip():
    parsed = parse_277ca(build_277ca(ENVELOPE, REPORTS))
    assert parsed == REPORTS


def test_277ca_claim_outcomes_after_parsing():
    [first, _] = parse_277ca(build_277ca(ENVELOPE, REPORTS))
    claims = first.by_patient_control_number()
    assert {pcn: c.accepted for pcn, c in claims.items()} == {
        "PCN0001": True, "PCN0002": False, "PCN0003": False, "INST0001": True}
    assert str(claims["PCN0002"].statuses[0].status) == "A7:562:85"
    assert claims["PCN0002"].statuses[0].action_code is ActionCode.REJECT
    assert claims["PCN0001"].payer_claim_control_number == "260610001"
    assert claims["PCN0002"].payer_claim_control_number is None
    assert claims["INST0001"].total_charge == Decimal("892.75")


def test_277ca_totals_count_accepted_and_rejected_claims():
    x12 = build_277ca(ENVELOPE, REPORTS[:1])
    segments = x12.split("~")
    receiver_level = segments[segments.index("HL*2*1*21*1") + 1: segments.index("HL*3*2*19*1")]
    assert [s for s in receiver_level if s.startswith(("QTY", "AMT"))] == [
        "QTY*90*2", "QTY*AA*2", "AMT*YU*1033.25", "AMT*YY*109.99"]


def test_generated_277ca_passes_pyx12():
    x12 = build_277ca(ENVELOPE, REPORTS)
    assert pyx12_errors(x12) == [], x12.replace("~", "~\n")


def test_imsweb_277ca_accepted_sample():
    [parsed] = parse_277ca(sample("277_5010/x12_277CA_accepted.txt"))
    assert (parsed.information_source_entity, parsed.information_source_name, parsed.information_source_id) == (
        "PR", "NYSDOH", "141797357")
    assert (parsed.receipt_date, parsed.process_date) == (date(2011, 3, 11), date(2011, 3, 11))
    assert parsed.batch_trace_number == "000000674"
    assert parsed.receiver_status.status == ClaimStatus("A1", "20")
    assert parsed.receiver_status.total_charge == Decimal("125.00")
    [billing] = parsed.providers
    assert (billing.entity_type, billing.last_or_organization_name, billing.first_name, billing.identifier) == (
        "1", "OCTOR", "IMA", "1234567890")
    assert billing.status is None  # this sample has no 2200C STC
    [acknowledged] = parsed.claims
    assert acknowledged == ClaimAcknowledgment(
        patient_control_number="5781", patient_last_name="TPATIENT", patient_first_name="THEBE", member_id="LL99999X",
        statuses=(StatusInformation(ClaimStatus("A2", "20"), ActionCode.ACCEPT, Decimal("125"),
                                    effective_date=date(2011, 3, 11)),),
        service_date_from=date(1001, 1, 1), payer_claim_control_number="1107000000014420")
    assert acknowledged.accepted


def test_imsweb_277ca_rejected_sample_with_pipe_component_separator():
    [parsed] = parse_277ca(sample("277_5010/x12_277CA_rejected.txt"))
    assert parsed.receiver_status.status == ClaimStatus("A1", "20")
    [rejected] = parsed.claims
    assert rejected.patient_control_number == "3920394930203"
    assert rejected.statuses[0].status == ClaimStatus("A7", "562", "85")
    assert not rejected.accepted
    assert rejected.total_charge == Decimal("199.14")
    assert (rejected.payer_claim_control_number, rejected.bill_type) == ("1107000000001120", "731")
    assert rejected.service_date_from == date(2009, 3, 11)


def test_unknown_content_codes_are_malformed_not_guessed():
    from openrcm_shared.x12.ack_999 import Malformed999
    from openrcm_shared.x12.claim_ack_277ca import Malformed277CA

    ack = build_999(ENVELOPE, [FunctionalGroupAcknowledgment.summarize(
        functional_id="HC", group_control_number="1", version="005010X222A1", transaction_sets=[ACCEPTED_SET])])
    with pytest.raises(Malformed999):
        parse_999(ack.replace("IK5*A~", "IK5*Q~"))
    claim_ack = build_277ca(ENVELOPE, REPORTS[:1])
    with pytest.raises(Malformed277CA):
        parse_277ca(claim_ack.replace("*20260302*WQ*140.5~", "*20260302*ZZ*140.5~"))


@pytest.mark.parametrize("delimiters", [Delimiters(), Delimiters("|", ">", "!", "\n"), Delimiters("*", ":", None, "~")])
def test_an_element_holding_a_delimiter_or_a_line_break_is_refused_not_written(delimiters):
    separators = [delimiters.element, delimiters.component, delimiters.repetition or "^", delimiters.segment, "\r", "\n"]
    for separator in separators:
        with pytest.raises(UnsafeElement):
            render_segment("NM1", ["41", f"ACME{separator}CLINIC"], delimiters)
        with pytest.raises(UnsafeElement):  # inside a composite's component too
            render_segment("STC", [["A1", f"2{separator}0"]], delimiters)
    element, component = delimiters.element, delimiters.component
    assert render_segment("STC", [["A1", "20"], "20261204", None, "150.00"], delimiters) == \
        f"STC{element}A1{component}20{element}20261204{element}{element}150.00{delimiters.segment}"
