"""X12 internal code lists the 835 uses next to the external CARC/RARC lists.

Descriptions follow ASC X12 005010X221A1 (Health Care Claim Payment/Advice): CLP02 is data
element 1029, CAS01 is data element 1033.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class ClaimStatusCode(StrEnum):
    """CLP02 Claim Status Code, the values 005010X221A1 allows in loop 2100."""

    PROCESSED_AS_PRIMARY = "1"
    PROCESSED_AS_SECONDARY = "2"
    PROCESSED_AS_TERTIARY = "3"
    DENIED = "4"
    PROCESSED_AS_PRIMARY_FORWARDED = "19"
    PROCESSED_AS_SECONDARY_FORWARDED = "20"
    PROCESSED_AS_TERTIARY_FORWARDED = "21"
    REVERSAL_OF_PREVIOUS_PAYMENT = "22"
    NOT_OUR_CLAIM_FORWARDED = "23"
    PREDETERMINATION_PRICING_ONLY = "25"

    @property
    def description(self) -> str:
        return _CLAIM_STATUS_DESCRIPTIONS[self]


_CLAIM_STATUS_DESCRIPTIONS = {
    ClaimStatusCode.PROCESSED_AS_PRIMARY: "Processed as Primary",
    ClaimStatusCode.PROCESSED_AS_SECONDARY: "Processed as Secondary",
    ClaimStatusCode.PROCESSED_AS_TERTIARY: "Processed as Tertiary",
    ClaimStatusCode.DENIED: "Denied",
    ClaimStatusCode.PROCESSED_AS_PRIMARY_FORWARDED: (
        "Processed as Primary, Forwarded to Additional Payer(s)"
    ),
    ClaimStatusCode.PROCESSED_AS_SECONDARY_FORWARDED: (
        "Processed as Secondary, Forwarded to Additional Payer(s)"
    ),
    ClaimStatusCode.PROCESSED_AS_TERTIARY_FORWARDED: (
        "Processed as Tertiary, Forwarded to Additional Payer(s)"
    ),
    ClaimStatusCode.REVERSAL_OF_PREVIOUS_PAYMENT: "Reversal of Previous Payment",
    ClaimStatusCode.NOT_OUR_CLAIM_FORWARDED: "Not Our Claim, Forwarded to Additional Payer(s)",
    ClaimStatusCode.PREDETERMINATION_PRICING_ONLY: "Predetermination Pricing Only - No Payment",
}


class AdjustmentGroupCode(StrEnum):
    """CAS01 Claim Adjustment Group Code: who bears the adjusted amount."""

    CONTRACTUAL_OBLIGATIONS = "CO"
    # 005010X221A1 dropped CR (reversals are a CLP02 22 claim instead); older 835s and some
    # payers still send it, so it is recognised but flagged by used_in_5010.
    CORRECTION_AND_REVERSALS = "CR"
    OTHER_ADJUSTMENTS = "OA"
    PAYOR_INITIATED_REDUCTIONS = "PI"
    PATIENT_RESPONSIBILITY = "PR"

    @property
    def description(self) -> str:
        return _GROUP_DESCRIPTIONS[self]

    @property
    def used_in_5010(self) -> bool:
        return self is not AdjustmentGroupCode.CORRECTION_AND_REVERSALS


_GROUP_DESCRIPTIONS = {
    AdjustmentGroupCode.CONTRACTUAL_OBLIGATIONS: "Contractual Obligations",
    AdjustmentGroupCode.CORRECTION_AND_REVERSALS: "Correction and Reversals",
    AdjustmentGroupCode.OTHER_ADJUSTMENTS: "Other adjustments",
    AdjustmentGroupCode.PAYOR_INITIATED_REDUCTIONS: "Payor Initiated Reductions",
    AdjustmentGroupCode.PATIENT_RESPONSIBILITY: "Patient Responsibility",
}

PatientShareKind = Literal["deductible", "coinsurance", "copay", "other"]

# CARC 1 Deductible Amount, 2 Coinsurance Amount, 3 Co-payment Amount.
_PATIENT_SHARE_BY_CARC: dict[str, PatientShareKind] = {
    "1": "deductible",
    "2": "coinsurance",
    "3": "copay",
}


def patient_share_kind(
    carc: str, group: AdjustmentGroupCode | str = AdjustmentGroupCode.PATIENT_RESPONSIBILITY
) -> PatientShareKind:
    """Which part of the patient's cost share a CAS adjustment is, for patient statements.

    Only PR adjustments are billed to the patient, and only CARC 1, 2 and 3 name a deductible,
    coinsurance or copay; every other pair is "other".
    """
    if AdjustmentGroupCode(group) is not AdjustmentGroupCode.PATIENT_RESPONSIBILITY:
        return "other"
    return _PATIENT_SHARE_BY_CARC.get(carc.strip(), "other")
