"""X12 276/277 (005010X212): the claim status request we write and the payer's answer we read.

pyx12 4.0.0 has no 5010 map for 276/277 (x12-samples/INDEX.md), so the 276 is checked by reading it
back with the project's reader (envelope counts and control numbers) and against the segment
layout of the public X212 sample; the 277 reader is run on the public X212 samples."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.claim_status_276 import (
    InquiryContentError, InquiryPerson, StatusInquiry, StatusInquiryBatch, build_276,
)
from openrcm_shared.x12.claim_status_277 import Malformed277, StatusCode, parse_277
from openrcm_shared.x12.reader import X12EnvelopeError, X12Reader
from shared.tests.unit.x12.x12_test_support import sample

ENVELOPE = InterchangeEnvelope(sender_qualifier="ZZ", sender_id="OPENRCM", receiver_qualifier="ZZ",
                               receiver_id="CLEARINGHOUSE", application_sender_code="OPENRCM",
                               application_receiver_code="CLEARINGHOUSE", interchange_control_number=907,
                               group_control_number=1, created_at=datetime(2026, 3, 2, 11, 47, tzinfo=timezone.utc),
                               usage_indicator="T")


def inquiry(**changes) -> StatusInquiry:
    values = dict(trace_number="ABCXYZ1", patient_control_number="SM123456", total_charge=Decimal("8513.88"),
                  service_date_from=date(2026, 1, 31), service_date_to=date(2026, 2, 6),
                  subscriber=InquiryPerson("SMITH", "FRED", "123456789A", date(1930, 12, 10), "M"),
                  payer_claim_control_number=None)
    return StatusInquiry(**{**values, **changes})


def batch(*inquiries: StatusInquiry) -> StatusInquiryBatch:
    return StatusInquiryBatch(payer_name="ABC INSURANCE", payer_id="12345", receiver_name="XYZ SERVICE",
                              receiver_id="X67E", provider_name="HOME HOSPITAL", provider_npi="1666666661",
                              inquiries=inquiries or (inquiry(),), reference="ABC276XXX")


def segments_of(text: str) -> list[list[str]]:
    return list(X12Reader(text))


def test_a_276_reads_back_with_checked_envelopes_and_the_x212_claim_level_layout():
    text = build_276(ENVELOPE, [batch()])
    segments = segments_of(text)  # the reader checks SE/GE/IEA counts and control numbers
    ids = [s[0] for s in segments]
    # The sample's claims are institutional: REF*BLT (bill type) is sent for those only.
    sample_ids = [s[0] for s in segments_of(sample("lfh/276_005010X212/claim-level-status.276").read_text())
                  if s[:2] != ["REF", "BLT"]]
    # The sample asks about three claims; ours about one: the same layout up to its first claim.
    first_claim_end = sample_ids.index("HL", sample_ids.index("DTP"))
    assert ids[:-3] == sample_ids[:first_claim_end]
    assert segments[1][1] == "HR" and segments[1][8] == "005010X212" and segments[2][1:] == ["276", "0001",
                                                                                              "005010X212"]
    assert ["TRN", "1", "ABCXYZ1"] in segments and ["REF", "EJ", "SM123456"] in segments
    assert ["AMT", "T3", "8513.88"] in segments and ["DTP", "472", "RD8", "20260131-20260206"] in segments
    assert ["NM1", "IL", "1", "SMITH", "FRED", "", "", "", "MI", "123456789A"] in segments
    assert ["DMG", "D8", "19301210", "M"] in segments


def test_a_dependent_patient_gets_its_own_level_and_a_payer_control_number_is_sent():
    child = inquiry(patient=InquiryPerson("MANN", "JOSEPH", birth_date=date(2015, 11, 1), gender="M"),
                    subscriber=InquiryPerson("MANN", "JOHN", "345678901"), payer_claim_control_number="0512",
                    service_date_to=None)
    segments = segments_of(build_276(ENVELOPE, [batch(inquiry(), child)]))
    levels = [s for s in segments if s[0] == "HL"]
    assert levels[3:] == [["HL", "4", "3", "22", "0"], ["HL", "5", "3", "22", "1"], ["HL", "6", "5", "23"]]
    assert ["NM1", "QC", "1", "MANN", "JOSEPH"] in segments and ["REF", "1K", "0512"] in segments
    assert ["DTP", "472", "D8", "20260131"] in segments
    # The subscriber who is not the patient carries no DMG (X212: DMG only when the subscriber is the patient).
    assert ["DMG", "D8", "20151101", "M"] in segments and sum(1 for s in segments if s[0] == "DMG") == 2


@pytest.mark.parametrize("changes, field", [
    ({"trace_number": "T" * 51}, "inquiries[0].trace_number"),
    ({"subscriber": InquiryPerson("SMITH", "FRED")}, "inquiries[0].subscriber.member_id"),
    ({"service_date_to": date(2026, 1, 1)}, "inquiries[0].service_date_to"),
    ({"patient_control_number": "P" * 21}, "inquiries[0].patient_control_number"),
])
def test_an_inquiry_that_cannot_be_a_valid_276_is_refused_naming_the_field(changes, field):
    with pytest.raises(InquiryContentError) as refused:
        build_276(ENVELOPE, [batch(inquiry(**changes))])
    assert refused.value.field == field


def test_the_x212_claim_level_sample_is_read_claim_by_claim():
    answers = parse_277(sample("lfh/277_005010X212/claim-level-status.277").read_text())
    assert [(a.trace_number, a.current.primary) for a in answers] == [
        ("ABCXYZ1", StatusCode("P3", "317")), ("ABCXYZ2", StatusCode("F0", "3")),
        ("ABCXYC3", StatusCode("F2", "88", "QC"))]
    pending, paid, denied = answers
    assert (pending.payer_id, pending.provider_id, pending.member_id) == ("12345", "1666666661", "123456789A")
    assert (pending.payer_claim_control_number, pending.patient_control_number) == ("05347006051", "SM123456")
    assert (pending.current.status_date, pending.current.total_charge) == (date(2005, 9, 13), Decimal("8513.88"))
    assert (pending.service_date_from, pending.service_date_to) == (date(2005, 8, 31), date(2005, 9, 6))
    assert (paid.current.total_charge, paid.current.paid_amount) == (Decimal("7599.00"), Decimal("7599.00"))
    assert denied.member_id == "345678901" and denied.patient_control_number == "MA345678"
    [line] = denied.service_lines
    assert (line.procedure, line.charge, line.paid) == ("HC:99203", Decimal("150.00"), Decimal("0.00"))
    assert line.statuses[0].primary == StatusCode("F2", "88", "QC")


def test_the_x212_acknowledgement_sample_with_eight_claims_and_messages():
    text = sample("imsweb/277_5010/x12_277_x212.txt").read_text()
    # As published, its IEA02 (842928883) is not its ISA13 (000000001): refused whole, as any broken envelope.
    with pytest.raises(X12EnvelopeError):
        parse_277(text)
    answers = parse_277(text.replace("IEA*1*842928883", "IEA*1*000000001"))
    assert len(answers) == 8
    assert {a.current.primary for a in answers} == {StatusCode("A1", "704")}
    assert [a.patient_control_number for a in answers][:2] == ["12345", "12346"]
    assert answers[0].current.message == "PAYER ACKNOWLEDGED RECEIPT OF THE CLAIM"
    assert answers[0].payer_id == "877260000"


def test_statuses_above_the_claim_level_are_no_claims_status():
    assert parse_277(sample("lfh/277_005010X212/information-receiver-level-status.277").read_text()) == []
    [answer] = parse_277(sample("lfh/277_005010X212/provider-level-status.277").read_text())
    # The provider level's own STC (E0:24:85) is not the claim's.
    assert [report.primary for report in answer.statuses] == [StatusCode("P3", "317")]


def test_a_claim_without_its_trace_number_or_status_fails_closed():
    text = sample("lfh/277_005010X212/claim-level-status.277").read_text()
    with pytest.raises(Malformed277):
        parse_277(text.replace("TRN*2*ABCXYZ1", "TRN*1*ABCXYZ1"))
    with pytest.raises(Malformed277):
        parse_277(text.replace("STC*P3:317*", "STC*P3*"))
    with pytest.raises(X12EnvelopeError):
        parse_277(text.replace("SE*38*0001", "SE*37*0001"))


def test_a_277_written_for_answers_reads_back_the_same():
    from openrcm_shared.x12.claim_status_277 import AnsweredClaim, build_277

    text = build_277(ENVELOPE, payer_name="ABC INSURANCE", payer_id="12345", receiver_name="XYZ SERVICE",
                     receiver_id="X67E", provider_name="HOME HOSPITAL", provider_npi="1666666661", reference="R1",
                     claims=[AnsweredClaim("T1", "M1", "SMITH", StatusCode("F1", "65"), date(2026, 3, 1),
                                           Decimal("100.00"), Decimal("80.00"), "PCCN1", "PCN1"),
                             AnsweredClaim("T2", "M2", "JONES", StatusCode("A4", "35"), date(2026, 3, 1),
                                           Decimal("50.00"))])
    first, second = parse_277(text)
    assert (first.trace_number, first.current.primary, first.current.paid_amount, first.payer_claim_control_number,
            first.patient_control_number, first.member_id, first.payer_id) == (
        "T1", StatusCode("F1", "65"), Decimal("80"), "PCCN1", "PCN1", "M1", "12345")
    assert (second.trace_number, second.current.primary, second.current.paid_amount) == (
        "T2", StatusCode("A4", "35"), None)
