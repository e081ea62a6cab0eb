"""Denials by category: the CARC/RARC combinations payers send for each kind of denial, so a rule can
say `"denial": {"category": "authorization"}` instead of spelling the codes.

Codes from the X12 CARC (code source 139) and RARC (code source 411) lists shipped in
openrcm_shared.codesets; the pairs follow CAQH CORE 360's business scenarios where one applies
(e.g. authorization: CARC 197 with RARC N54; missing documentation: CARC 16 with M127).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DenialCodes:
    group: str
    carc: str
    rarcs: tuple[str, ...] = ()


DENIAL_CATEGORIES: dict[str, DenialCodes] = {
    # Precertification/authorization absent; claim inconsistent with the authorized services.
    "authorization": DenialCodes("CO", "197", ("N54",)),
    # Not deemed a medical necessity; the decision followed a Local Coverage Determination.
    "medical_necessity": DenialCodes("CO", "50", ("N115",)),
    # Lacks information; missing patient medical record for this service.
    "missing_information": DenialCodes("CO", "16", ("M127",)),
    # Procedure code inconsistent with the modifier used; missing/incomplete/invalid procedure code.
    "coding": DenialCodes("CO", "4", ("M51",)),
    # Included in the payment for another service; bundled as components of the same procedure.
    "bundling": DenialCodes("CO", "97", ("M15",)),
    # Exact duplicate claim/service.
    "duplicate": DenialCodes("CO", "18"),
    # The time limit for filing has expired.
    "timely_filing": DenialCodes("CO", "29"),
    # May be covered by another payer per coordination of benefits; primary payer's information needed.
    "coordination_of_benefits": DenialCodes("CO", "22", ("MA04",)),
    # Expenses incurred after coverage terminated.
    "eligibility": DenialCodes("CO", "27"),
    # Not covered by this payer; consult plan benefit documents.
    "non_covered": DenialCodes("CO", "96", ("N130",)),
}
