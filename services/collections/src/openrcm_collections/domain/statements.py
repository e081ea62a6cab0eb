"""Patient statements and dunning, without I/O: what a statement line says, in words a patient reads,
and which dunning stage an account is at.

Reasons in plain language follow the CARC of the patient's share (X12 CARC list, group PR): 1 a
deductible, 2 a coinsurance share, 3 a copay, 96/204/B7 and the like a service the plan does not
cover; a denial the practice moved to the patient says the plan denied the service. Procedures in words: the description the claims service sent with the claim line, else
the NUBC revenue-code category (an institutional line) or the CPT/HCPCS family the code falls in.

Dunning: each statement cycle an unpaid account moves one stage — statement_1, statement_2,
final_notice, pre_collection, then agency_placement (exported for the collection agency, no more
statements). A payment since the last statement keeps the account where it is; an open payment plan,
a dispute or hardship holds it there; bankruptcy (the automatic stay, 11 U.S.C. 362) and a deceased
patient stop statements altogether (the estate is billed by other means).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openrcm_shared.money import ZERO

STAGES = ("statement_1", "statement_2", "final_notice", "pre_collection", "agency_placement")
NO_STATEMENTS = frozenset({"bankruptcy", "deceased"})
HOLDS_STAGE = frozenset({"dispute", "hardship", "payment_plan"})

_NOT_COVERED = frozenset({"96", "204", "B7", "49", "50", "55", "A1", "N130"})
_REASONS = {"deductible": "Your plan's deductible: the amount you pay before your plan starts to pay",
            "coinsurance": "Your coinsurance: your share of the cost after your plan paid its part",
            "copay": "Your copay for this visit",
            # A denial the practice moved to the patient (the denials service's transfer to the patient).
            "plan_denied": "Your plan denied this service, so the amount is yours to pay"}

# NUBC revenue-code categories (first three digits of the UB-04 FL 42 code).
_REVENUE_CATEGORIES = {
    "011": "Room and board, private", "012": "Room and board, semi-private", "025": "Pharmacy",
    "026": "IV therapy", "027": "Medical and surgical supplies", "030": "Laboratory",
    "031": "Pathology laboratory", "032": "X-ray", "033": "Radiation therapy", "035": "CT scan",
    "036": "Operating room services", "037": "Anesthesia", "039": "Blood storage and processing",
    "040": "Imaging services", "041": "Respiratory services", "042": "Physical therapy",
    "043": "Occupational therapy", "044": "Speech therapy", "045": "Emergency room", "046": "Pulmonary function",
    "048": "Cardiology", "049": "Ambulatory surgery", "051": "Clinic visit", "061": "MRI",
    "063": "Drugs", "071": "Recovery room", "073": "EKG/ECG", "076": "Observation room",
    "090": "Behavioral health", "096": "Professional fees",
}
# CPT code families (AMA CPT sections) for codes the claim line did not describe.
_CPT_FAMILIES = (("99202", "99215", "Office visit"), ("99221", "99239", "Hospital visit"),
                 ("99281", "99285", "Emergency department visit"), ("99381", "99397", "Preventive visit"),
                 ("36415", "36416", "Blood draw"), ("80047", "89398", "Laboratory test"),
                 ("70010", "79999", "Imaging"), ("90281", "99199", "Medical service"),
                 ("10004", "69990", "Surgical procedure"), ("00100", "01999", "Anesthesia"))


def reason_in_words(kinds: list[tuple[str, str]]) -> str:
    """The line's reason from its shares' (kind, CARC): e.g. "Your coinsurance: ..."."""
    reasons = []
    for kind, carc in kinds:
        text = _REASONS.get(kind) or ("A service your plan does not cover" if carc in _NOT_COVERED
                                      else "Your share under your plan")
        if text not in reasons:
            reasons.append(text)
    return "; ".join(reasons) or "Balance after your plan's payment"


def procedure_in_words(description: str | None, procedure_code: str | None, revenue_code: str | None) -> str:
    if description:
        return description
    if revenue_code and revenue_code.zfill(4)[:3] in _REVENUE_CATEGORIES:
        words = _REVENUE_CATEGORIES[revenue_code.zfill(4)[:3]]
        return f"{words} ({procedure_code})" if procedure_code else words
    if procedure_code and procedure_code.isdigit():
        for low, high, words in _CPT_FAMILIES:
            if low <= procedure_code <= high:
                return f"{words} ({procedure_code})"
    return f"Service {procedure_code or revenue_code or ''}".strip()


@dataclass(frozen=True)
class StatementLine:
    service_date: date | None
    provider: str
    procedure: str
    charge: Decimal
    insurance_paid: Decimal
    adjustments: Decimal
    patient_owes: Decimal
    reason: str

    def as_json(self) -> dict:
        return {"service_date": self.service_date.isoformat() if self.service_date else None,
                "provider": self.provider, "procedure": self.procedure, "charge": str(self.charge),
                "insurance_paid": str(self.insurance_paid), "adjustments": str(self.adjustments),
                "patient_owes": str(self.patient_owes), "reason": self.reason}


def statement_line(*, service_date: date | None, provider: str | None, procedure: str, charge: Decimal,
                   insurance_paid: Decimal, patient_owes: Decimal, reason: str) -> StatementLine:
    """Adjustments are what neither the plans nor the patient pay (contractual write-downs): the
    line balances, charge = insurance paid + adjustments + patient owes."""
    return StatementLine(service_date, provider or "Your care team", procedure, charge, insurance_paid,
                         charge - insurance_paid - patient_owes, patient_owes, reason)


def next_stage(current: str | None, *, paid_since_last: bool, hold: str | None) -> str | None:
    """The stage of this cycle's statement (None: no statement at all)."""
    if hold in NO_STATEMENTS:
        return None
    if current is None:
        return STAGES[0]
    if hold in HOLDS_STAGE or paid_since_last or current == STAGES[-1]:
        return current
    return STAGES[STAGES.index(current) + 1]


def statement_due(balance: Decimal) -> bool:
    return balance > ZERO
