"""Patient responsibility by kind, from the CARC of a PR adjustment (X12 CARC list)."""

from __future__ import annotations

from openrcm_shared.codesets import patient_share_kind


def responsibility_kind(carc: str) -> str:
    """CARC 1 deductible, 2 coinsurance, 3 copay; anything else under group PR is other patient
    responsibility (e.g. 66 blood deductible, 96 non-covered charge billed to the patient)."""
    return patient_share_kind(carc)
