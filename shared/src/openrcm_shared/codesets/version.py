"""Which edition of each external code list this package ships.

Bump CODESETS_VERSION whenever carc.csv or rarc.csv is regenerated: services log it at start-up and
stamp it on remittance postings, so a posting can always be traced back to the list that judged it.
"""

from __future__ import annotations

from datetime import date

CODESETS_VERSION = "2026-11"

# The date of the newest listing the CSVs were built from. A code that listing shows as
# deactivated, but whose exact stop date none of our sources carries, was certainly stopped by
# this day (see is_valid_on).
LISTING_DATE = date(2026, 8, 17)

CARC_SOURCE = {
    "name": "Claim Adjustment Reason Codes (X12 external code source 139)",
    "maintainer": "X12 Claim Adjustment Reason Code Maintenance Committee",
    "publisher_url": "https://x12.org/codes/claim-adjustment-reason-codes",
    "descriptions_and_status_as_of": "2026-08-17",
    "dates_as_of": "2016-03-07",
}

RARC_SOURCE = {
    "name": "Remittance Advice Remark Codes (X12 external code source 411)",
    "maintainer": "Centers for Medicare & Medicaid Services (CMS)",
    "publisher_url": "https://x12.org/codes/remittance-advice-remark-codes",
    "descriptions_and_status_as_of": "2026-08-17",
    "dates_as_of": "2016-03-07",
}
