"""Appeal letters: the claim's facts, each denial reason in words, the argument and the enclosures,
laid out as a `Document` (openrcm_shared.documents.pdf renders it). Pure: no I/O.

A letter follows the template of the case's category: the opening says what the practice asks the
payer to reconsider and why that kind of denial is wrong here (a medical-necessity appeal points at
the clinical record, a timely-filing appeal at the submission history, which the letter then lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from openrcm_shared.codesets import carc as carc_entry
from openrcm_shared.codesets import rarc as rarc_entry
from openrcm_shared.documents.pdf import Document, Facts, Heading, Paragraph, Spacer, Table, money_text


class AppealLevel(StrEnum):
    LEVEL_1 = "level_1"
    LEVEL_2 = "level_2"
    EXTERNAL = "external"


LEVEL_TITLES = {
    AppealLevel.LEVEL_1: "Request for reconsideration (first-level appeal)",
    AppealLevel.LEVEL_2: "Second-level appeal",
    AppealLevel.EXTERNAL: "Request for external review",
}

# The opening of each category's letter: what is asked, and on what ground.
OPENINGS = {
    "authorization": ("The services were authorized, or the authorization requirement did not apply. We ask that "
                      "the claim be reprocessed against the authorization on file."),
    "medical_necessity": ("The services were medically necessary for this patient's condition, as the enclosed "
                          "clinical documentation shows. We ask that the denial be overturned and the claim paid."),
    "missing_information": ("The information the payer found missing is enclosed. We ask that the claim be "
                            "reprocessed with it."),
    "coding": ("The services were coded correctly for what was performed, as the enclosed documentation shows. "
               "We ask that the claim be reprocessed as billed."),
    "bundling": ("The services billed are separate and distinct procedures and are not included in one another. "
                 "We ask that each be paid."),
    "duplicate": ("This claim is not a duplicate: it bills services not paid on any other claim. We ask that it "
                  "be processed."),
    "timely_filing": ("The claim was filed within the payer's filing limit. The submission history below shows "
                      "when it was sent and acknowledged. We ask that the timely filing denial be overturned."),
    "coordination_of_benefits": ("Coordination of benefits has been confirmed with the patient; this payer's "
                                 "responsibility is as billed. We ask that the claim be processed."),
    "eligibility": ("The patient's coverage was active on the dates of service. We ask that the claim be "
                    "reprocessed against the patient's coverage."),
    "non_covered": ("The services are covered under the patient's plan for this diagnosis. We ask that the "
                    "denial be reconsidered."),
    "provider_enrollment": ("The rendering and billing providers were enrolled with the payer on the dates of "
                            "service. We ask that the claim be reprocessed."),
    "pricing": ("The claim was not priced according to our agreement. We ask that it be repriced and the "
                "difference paid."),
    "other": "We ask that the payer reconsider its decision on this claim for the reasons below.",
}


@dataclass(frozen=True)
class DeniedReason:
    group_code: str
    carc: str
    rarcs: tuple[str, ...]
    amount: Decimal
    line_number: int | None = None


@dataclass(frozen=True)
class BilledLine:
    line_number: int
    service_date: date | None
    procedure_code: str
    modifiers: tuple[str, ...]
    units: str
    charge: Decimal
    paid: Decimal | None = None


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    what: str
    control_number: str | None = None


@dataclass(frozen=True)
class Enclosure:
    filename: str
    content_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class AppealLetterFacts:
    """Everything a letter states. Facts the claim's events did not carry are None and print as
    'not on file' rather than being guessed."""

    level: AppealLevel
    category: str
    written_on: date
    practice_name: str | None
    practice_npi: str | None
    payer_name: str | None
    payer_id: str
    patient_name: str | None
    member_id: str | None
    patient_control_number: str
    payer_claim_control_number: str | None
    service_date_from: date | None
    service_date_to: date | None
    billed_amount: Decimal | None
    paid_amount: Decimal | None
    denied_amount: Decimal
    reasons: tuple[DeniedReason, ...]
    lines: tuple[BilledLine, ...]
    argument: str
    enclosures: tuple[Enclosure, ...] = ()
    submission_history: tuple[TimelineEntry, ...] = ()
    late_reason: str | None = None
    extra: dict = field(default_factory=dict)


NOT_ON_FILE = "not on file"


def _or_not_on_file(value: object) -> str:
    return NOT_ON_FILE if value in (None, "") else str(value)


def reason_in_words(code: str, *, remark: bool = False) -> str:
    """A CARC or RARC's description from the shipped X12 lists, without its 'Usage:' note (that note
    tells payers how to use the code, not the provider what it means)."""
    entry = rarc_entry(code) if remark else carc_entry(code)
    if entry is None:
        return "(code not in the X12 list)"
    return entry.description.split(" Usage:")[0].strip()


def _dates_of_service(facts: AppealLetterFacts) -> str:
    if facts.service_date_from is None:
        return NOT_ON_FILE
    if facts.service_date_to in (None, facts.service_date_from):
        return facts.service_date_from.isoformat()
    return f"{facts.service_date_from.isoformat()} to {facts.service_date_to.isoformat()}"


def _reason_lines(reasons: tuple[DeniedReason, ...]) -> list[str]:
    texts = []
    for reason in reasons:
        where = f"line {reason.line_number}" if reason.line_number is not None else "the claim"
        text = (f"{reason.group_code}-{reason.carc} on {where} ({money_text(reason.amount)}): "
                f"{reason_in_words(reason.carc)}")
        for remark in reason.rarcs:
            text += f"\n    Remark {remark}: {reason_in_words(remark, remark=True)}"
        texts.append(text)
    return texts


def appeal_letter(facts: AppealLetterFacts) -> Document:
    """The letter as document blocks, in reading order."""
    document = Document(title=f"Appeal {facts.patient_control_number}", author=facts.practice_name or "OpenRCM",
                        footer=f"Patient account {facts.patient_control_number}")
    document.add(
        Heading(LEVEL_TITLES[facts.level]),
        Facts([("Date", facts.written_on.isoformat()),
               ("To", f"{_or_not_on_file(facts.payer_name)} (payer id {facts.payer_id})"),
               ("From", f"{_or_not_on_file(facts.practice_name)} (NPI {_or_not_on_file(facts.practice_npi)})")]),
        Spacer(),
        Facts([("Patient", _or_not_on_file(facts.patient_name)),
               ("Member ID", _or_not_on_file(facts.member_id)),
               ("Patient account", facts.patient_control_number),
               ("Payer claim number", _or_not_on_file(facts.payer_claim_control_number)),
               ("Dates of service", _dates_of_service(facts)),
               ("Billed amount", money_text(facts.billed_amount) or NOT_ON_FILE),
               ("Paid amount", money_text(facts.paid_amount) or NOT_ON_FILE),
               ("Denied amount", money_text(facts.denied_amount))]),
        Spacer(),
        Paragraph(OPENINGS.get(facts.category, OPENINGS["other"])),
    )
    if facts.lines:
        document.add(Heading("Services billed", size=11), Table(
            ["Line", "Date", "Procedure", "Modifiers", "Units", "Billed", "Paid"],
            [[str(line.line_number), line.service_date.isoformat() if line.service_date else "",
              line.procedure_code, " ".join(line.modifiers), line.units, money_text(line.charge),
              money_text(line.paid)] for line in facts.lines],
            widths=[0.6, 1.2, 1.1, 1.0, 0.7, 1.1, 1.1], align_right=frozenset({5, 6})))
    document.add(Heading("Denial reasons", size=11), *(Paragraph(text) for text in _reason_lines(facts.reasons)))
    document.add(Heading("Why the claim should be paid", size=11), Paragraph(facts.argument))
    if facts.late_reason:
        document.add(Heading("Why this appeal is late", size=11), Paragraph(facts.late_reason))
    if facts.submission_history:
        document.add(Heading("Submission history (proof of timely filing)", size=11), Table(
            ["Date and time (UTC)", "What", "Control number"],
            [[entry.occurred_at.strftime("%Y-%m-%d %H:%M"), entry.what, entry.control_number or ""]
             for entry in facts.submission_history], widths=[1.4, 3.0, 1.4]))
    document.add(Heading("Enclosures", size=11))
    if facts.enclosures:
        document.add(Table(["Document", "Type", "Size", "SHA-256"],
                           [[enclosure.filename, enclosure.content_type, f"{enclosure.size_bytes:,} bytes",
                             enclosure.sha256[:16]] for enclosure in facts.enclosures],
                           widths=[2.4, 1.2, 1.0, 1.4]))
    else:
        document.add(Paragraph("None."))
    document.add(Spacer(16), Paragraph("Sincerely,"), Paragraph(_or_not_on_file(facts.practice_name)))
    return document
