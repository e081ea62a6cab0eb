"""The code sets the scrubber checks against, gathered in one immutable object built at start-up.

`CodeSets.shipped()` gives everything this package ships or loads from its pinned dependencies
(ICD-10-CM FY2019-FY2026, Place of Service, common modifiers). NCCI PTP, MUE and the HCPCS Level II
file change every quarter and are large: the service loads CMS's files and passes them to
`CodeSets.shipped(...)`; without them those rules stay quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from openrcm_claims.domain.scrubber.codesets.hcpcs import HcpcsCodeSet, load_hcpcs_file
from openrcm_claims.domain.scrubber.codesets.icd10cm import Icd10CmCodeSet, Icd10CmRelease, load_order_file, shipped_code_set
from openrcm_claims.domain.scrubber.codesets.ncci import MueTable, PtpEdits, load_mue_files, load_ptp_files
from openrcm_claims.domain.scrubber.codesets.reference import (
    Modifier, PlaceOfService, load_modifiers, load_places_of_service,
)
from openrcm_claims.domain.scrubber.model import INSTITUTIONAL, PROFESSIONAL

__all__ = [
    "CodeSets", "HcpcsCodeSet", "Icd10CmCodeSet", "Icd10CmRelease", "Modifier", "MueTable", "PlaceOfService",
    "PtpEdits", "load_hcpcs_file", "load_mue_files", "load_order_file", "load_ptp_files", "shipped_code_set",
]


@dataclass(frozen=True)
class CodeSets:
    icd10cm: Icd10CmCodeSet
    places_of_service: Mapping[str, PlaceOfService]
    modifiers: Mapping[str, Modifier]
    ncci_modifiers: frozenset[str]
    hcpcs: HcpcsCodeSet | None = None
    # keyed by claim type: practitioner files for "professional", hospital outpatient for "institutional"
    ptp: Mapping[str, PtpEdits] = field(default_factory=lambda: MappingProxyType({}))
    mue: Mapping[str, MueTable] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def shipped(cls, *, icd10cm: Icd10CmCodeSet | None = None, hcpcs: HcpcsCodeSet | None = None,
                ptp_practitioner: PtpEdits | None = None, ptp_hospital: PtpEdits | None = None,
                mue_practitioner: MueTable | None = None, mue_hospital: MueTable | None = None) -> CodeSets:
        modifiers = load_modifiers()
        ptp = {PROFESSIONAL: ptp_practitioner, INSTITUTIONAL: ptp_hospital}
        mue = {PROFESSIONAL: mue_practitioner, INSTITUTIONAL: mue_hospital}
        return cls(
            icd10cm=icd10cm or shipped_code_set(),
            places_of_service=MappingProxyType(load_places_of_service()),
            modifiers=MappingProxyType(modifiers),
            ncci_modifiers=frozenset(code for code, modifier in modifiers.items() if modifier.ncci_associated),
            hcpcs=hcpcs,
            ptp=MappingProxyType({kind: edits for kind, edits in ptp.items() if edits}),
            mue=MappingProxyType({kind: table for kind, table in mue.items() if table}),
        )

    def with_icd10cm_release(self, release: Icd10CmRelease) -> CodeSets:
        """E.g. FY2027 from CMS's order file, until a package ships it."""
        return replace(self, icd10cm=self.icd10cm.plus(release))

    def known_modifier(self, code: str) -> bool:
        return code in self.modifiers or (self.hcpcs is not None and code in self.hcpcs.modifiers)
