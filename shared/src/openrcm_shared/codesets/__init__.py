"""External and internal X12 code sets the remittance side needs, shipped as versioned data.

CARC (code source 139) and RARC (code source 411) come from carc.csv and rarc.csv in this package;
see README.md here for where they come from and how to regenerate them.
"""

from openrcm_shared.codesets.enums import (
    AdjustmentGroupCode,
    ClaimStatusCode,
    PatientShareKind,
    patient_share_kind,
)
from openrcm_shared.codesets.loader import (
    CodeEntry,
    all_carc,
    all_rarc,
    carc,
    is_valid_on,
    rarc,
)
from openrcm_shared.codesets.version import (
    CARC_SOURCE,
    CODESETS_VERSION,
    LISTING_DATE,
    RARC_SOURCE,
)

__all__ = [
    "CARC_SOURCE",
    "CODESETS_VERSION",
    "LISTING_DATE",
    "RARC_SOURCE",
    "AdjustmentGroupCode",
    "ClaimStatusCode",
    "CodeEntry",
    "PatientShareKind",
    "all_carc",
    "all_rarc",
    "carc",
    "is_valid_on",
    "patient_share_kind",
    "rarc",
]
