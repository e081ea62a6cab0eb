"""Patient responsibility by kind, from the CARC of a PR adjustment (X12 CARC list)."""

from __future__ import annotations

# CARC 1 deductible, 2 coinsurance, 3 copayment; anything else under group PR is other
# patient responsibility (e.g. 66 blood deductible, 96 non-covered charge billed to the patient).
PR_KINDS = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def responsibility_kind(carc: str) -> str:
    return PR_KINDS.get(carc, "other")
