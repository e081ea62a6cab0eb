"""Appeal letters read back from the PDF, and the rules of working a case."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from openrcm_denials.domain.case_status import CaseStatus
from openrcm_denials.domain.case_work import (
    ActionNotAllowed, AppealRefused, Settlement, category_of, check_appeal_allowed, check_bill_secondary,
    check_transfer_to_patient, settlement_for, sniff_media_type,
)
from openrcm_denials.domain.letters import (
    AppealLetterFacts, AppealLevel, BilledLine, DeniedReason, Enclosure, TimelineEntry, appeal_letter, reason_in_words,
)
from openrcm_denials.service_layer.appeals import _clean_filename
from openrcm_shared.documents.pdf import pdf_text, render_pdf


def facts(**changes) -> AppealLetterFacts:
    base = dict(
        level=AppealLevel.LEVEL_1, category="authorization", written_on=date(2026, 12, 7),
        practice_name="Synthetic Family Clinic", practice_npi="1234567893", payer_name="Synthetic Health Plan",
        payer_id="60054", patient_name="Testy Synthetic", member_id="XJ123456", patient_control_number="PCN-77",
        payer_claim_control_number="PCCN-991", service_date_from=date(2026, 11, 20),
        service_date_to=date(2026, 11, 20), billed_amount=Decimal("140.50"), paid_amount=Decimal("0.00"),
        denied_amount=Decimal("140.50"),
        reasons=(DeniedReason("CO", "197", ("N54",), Decimal("140.50")),),
        lines=(BilledLine(1, date(2026, 11, 20), "99213", ("25",), "1", Decimal("125.00"), Decimal("0.00")),
               BilledLine(2, date(2026, 11, 20), "36415", (), "1", Decimal("15.50"))),
        argument="Authorization AUTH-4471 was obtained on 2026-11-18 by phone.",
        enclosures=(Enclosure("auth-confirmation.pdf", "application/pdf", 2048, "ab" * 32),))
    base.update(changes)
    return AppealLetterFacts(**base)


def test_the_letter_states_the_claims_facts_each_reason_in_words_the_argument_and_the_enclosures():
    text = pdf_text(render_pdf(appeal_letter(facts())))
    for expected in ("Request for reconsideration", "Synthetic Health Plan", "payer id 60054",
                     "Synthetic Family Clinic",
                     "Testy Synthetic", "XJ123456", "PCN-77", "PCCN-991", "2026-11-20", "$140.50", "99213", "36415",
                     "$125.00", "CO-197", "Precertification/authorization/notification/pre-treatment absent",
                     "N54", "inconsistent with pre-certified/authorized services", "AUTH-4471",
                     "auth-confirmation.pdf", "The services were authorized"):
        assert expected in text, expected


def test_the_template_follows_the_category_and_missing_facts_say_so():
    text = pdf_text(render_pdf(appeal_letter(facts(category="medical_necessity", patient_name=None,
                                                   reasons=(DeniedReason("CO", "50", (), Decimal("140.50")),)))))
    assert "medically necessary" in text and "Patient: not on file" in text.replace("\n", " ")
    assert "Usage:" not in text  # the CARC's note to payers is not the provider's reason


def test_a_timely_filing_letter_lists_the_submission_history_and_a_late_appeal_its_reason():
    sent = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
    history = (TimelineEntry(sent, "837 claim file sent to the clearinghouse", "000000042"),
               TimelineEntry(sent, "999 acknowledgment: transaction set accepted", "000000777"))
    text = pdf_text(render_pdf(appeal_letter(facts(category="timely_filing", submission_history=history,
                                                   late_reason="The denial letter reached us late."))))
    assert "2026-11-21 09:30" in text and "000000042" in text and "000000777" in text
    assert "The denial letter reached us late." in text


def test_reason_in_words_for_unknown_codes():
    assert reason_in_words("ZZZ9") == "(code not in the X12 list)"
    assert reason_in_words("M127", remark=True) == "Missing patient medical record for this service."


@pytest.mark.parametrize(("carc", "rarcs", "category"), [
    ("197", ["N54"], "authorization"), ("50", [], "medical_necessity"), ("16", ["M127"], "missing_information"),
    ("16", ["M51"], "coding"), ("29", [], "timely_filing"), ("97", [], "bundling"), ("18", [], "duplicate"),
    ("22", ["MA04"], "coordination_of_benefits"), ("96", [], "non_covered"), ("999", [], "other"),
])
def test_category_of_the_primary_reason(carc, rarcs, category):
    assert category_of(carc, rarcs) == category


def test_transfers_and_secondary_billing_only_where_the_category_says_so():
    check_transfer_to_patient("non_covered")
    check_bill_secondary("coordination_of_benefits")
    with pytest.raises(ActionNotAllowed):
        check_transfer_to_patient("medical_necessity")
    with pytest.raises(ActionNotAllowed):
        check_bill_secondary("authorization")


@pytest.mark.parametrize(("head", "media_type"), [
    (b"%PDF-1.7\n", "application/pdf"), (b"\x89PNG\r\n\x1a\n\x00", "image/png"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"II*\x00\x08", "image/tiff"), (b"MM\x00*\x00", "image/tiff"), (b"GIF89a", None), (b"<html>", None), (b"", None),
])
def test_attachments_are_recognised_by_their_first_bytes(head, media_type):
    assert sniff_media_type(head) == media_type


def test_appeals_are_refused_on_resolved_cases_and_past_the_deadline_without_a_reason():
    deadline, today = date(2026, 12, 1), date(2026, 12, 7)
    check_appeal_allowed(CaseStatus.OPEN, "level_1", deadline, date(2026, 12, 1), None)
    check_appeal_allowed(CaseStatus.OPEN, "level_1", deadline, today, "payer letter arrived late")
    check_appeal_allowed(CaseStatus.LOST, "level_2", deadline, today, "second level")
    for status, level, reason in ((CaseStatus.WON, "level_1", None), (CaseStatus.WRITTEN_OFF, "level_2", "x"),
                                  (CaseStatus.LOST, "level_1", "x"), (CaseStatus.OPEN, "level_1", None),
                                  (CaseStatus.OPEN, "level_1", "  ")):
        with pytest.raises(AppealRefused):
            check_appeal_allowed(status, level, deadline, today, reason)


def test_a_later_payment_settles_the_case_with_what_was_recovered():
    assert settlement_for("paid", Decimal("100.00"), Decimal("0.00"), Decimal("140.50")) == \
        Settlement(CaseStatus.WON, Decimal("100.00"))
    # A partial denial (80.00 paid, 15.50 denied) later paid in full: only the denied part is recovered.
    assert settlement_for("paid", Decimal("92.40"), Decimal("80.00"), Decimal("15.50")) == \
        Settlement(CaseStatus.WON, Decimal("12.40"))
    assert settlement_for("partially_paid", Decimal("50.00"), Decimal("0.00"), Decimal("140.50")) == \
        Settlement(CaseStatus.PARTIALLY_WON, Decimal("50.00"))
    assert settlement_for("denied", Decimal("0.00"), Decimal("0.00"), Decimal("140.50")) == \
        Settlement(CaseStatus.LOST, Decimal("0.00"))
    assert settlement_for("paid", Decimal("500.00"), Decimal("0.00"), Decimal("140.50")).amount_recovered == \
        Decimal("140.50")


def test_attachment_names_lose_control_characters_and_are_bounded():
    assert _clean_filename("note\x00.pdf") == "note.pdf"
    assert _clean_filename("a\nb.png") == "ab.png"
    assert _clean_filename("\x01\x02") == "attachment"
    assert len(_clean_filename("x" * 500)) == 200
