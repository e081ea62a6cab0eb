"""Rules for working a case: which category a denial falls in (`category_of`, by the categorizer),
what a category allows, what an attachment is, when an appeal may be filed, and what a later payment
means for the case. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openrcm_denials.domain.case_status import UNRESOLVED, CaseStatus
from openrcm_denials.domain.categories import Category, categorizer



def category_of(carc: str, rarcs: tuple[str, ...] | list[str] = (), group_code: str = "CO") -> str:
    """The category of a denial reason by the shipped mapping (cases opened before the worklist stored
    a category on each case have none of their own)."""
    return (categorizer().categorize(group_code, carc, rarcs).category or Category.OTHER).value


# The categories whose amount may go to the patient (the plan does not cover it, or did not cover
# the patient then) and the one that points at another payer (issue 15: "where the category says so").
PATIENT_MAY_OWE = frozenset({"non_covered", "eligibility"})
ANOTHER_PAYER_MAY_OWE = frozenset({"coordination_of_benefits"})
TIMELY_FILING_CARC = "29"


class ActionNotAllowed(Exception):
    """The case's category does not allow this action (a 409 naming the category)."""


def check_transfer_to_patient(category: str) -> None:
    if category not in PATIENT_MAY_OWE:
        raise ActionNotAllowed(f"a {category} denial is not the patient's to pay")


def check_bill_secondary(category: str) -> None:
    if category not in ANOTHER_PAYER_MAY_OWE:
        raise ActionNotAllowed(f"a {category} denial does not point at another payer")


# Attachments: the types a payer's appeal portal takes, recognised by their first bytes (the
# declared content type is not trusted: a renamed file is refused).
_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
ATTACHMENT_TYPES = tuple(sorted({media_type for _, media_type in _MAGIC}))


def sniff_media_type(head: bytes) -> str | None:
    """The attachment's type from its magic bytes, or None for anything else."""
    return next((media_type for magic, media_type in _MAGIC if head.startswith(magic)), None)


class AppealRefused(Exception):
    """An appeal the case cannot take now (a 409 with this reason)."""


def check_appeal_allowed(status: CaseStatus, level: str, deadline: date, today: date,
                         late_reason: str | None) -> None:
    """An appeal needs a case still being worked, or one lost at a lower level appealed at the next
    (level 2, external review); and a filing date on or before the deadline, or past it the reason it
    is late (payers take late appeals for good cause, e.g. Medicare's 42 CFR 405.942(b)), which the
    letter then states."""
    next_level_of_a_lost_case = status == CaseStatus.LOST and level != "level_1"
    if status not in UNRESOLVED and not next_level_of_a_lost_case:
        raise AppealRefused(f"the case is {status.value}")
    if today > deadline and not (late_reason and late_reason.strip()):
        raise AppealRefused(f"the appeal deadline {deadline.isoformat()} has passed; give a late_reason")


@dataclass(frozen=True)
class Settlement:
    """What a payment posted after the denial does to the case."""

    target: CaseStatus
    amount_recovered: Decimal


def settlement_for(outcome: str, paid_now: Decimal, paid_when_denied: Decimal, denied_amount: Decimal) -> Settlement:
    """The case's outcome from the payer's new decision on the claim: paid in full (won), partly
    (partially_won), or denied again (lost); recovered is what the payer pays beyond what it paid
    when it denied, never more than was denied."""
    recovered = max(Decimal("0.00"), min(denied_amount, paid_now - paid_when_denied))
    if outcome == "paid" and recovered > 0:
        return Settlement(CaseStatus.WON, recovered)
    if recovered > 0:
        return Settlement(CaseStatus.PARTIALLY_WON, recovered)
    return Settlement(CaseStatus.LOST, Decimal("0.00"))
