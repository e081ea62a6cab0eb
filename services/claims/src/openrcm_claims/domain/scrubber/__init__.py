"""The claim scrubber: a pure, versioned rule engine that checks a claim before it goes to a payer.

    from openrcm_claims.domain.scrubber import CodeSets, scrub
    code_sets = CodeSets.shipped(ptp_practitioner=load_ptp_files(...), mue_practitioner=load_mue_files(...))
    result = scrub(claim, today=date.today(), code_sets=code_sets, enrollments=registry)
    if result.blocked: ...

Build `CodeSets` once per process (ICD-10-CM releases then load on first use, ~0.3 s each) and
share it; `scrub` never does I/O. `list_rules()` documents every rule.
"""

from openrcm_claims.domain.scrubber.codesets import (
    CodeSets, HcpcsCodeSet, Icd10CmCodeSet, Icd10CmRelease, MueTable, PtpEdits, load_hcpcs_file, load_mue_files,
    load_order_file, load_ptp_files,
)
from openrcm_claims.domain.scrubber.engine import RULE_SET_VERSION, list_rules, rule_set_fingerprint, scrub
from openrcm_claims.domain.scrubber.model import (
    BLOCK, INSTITUTIONAL, PROFESSIONAL, WARN, Enrollments, RuleHit, ScrubClaim, ScrubEligibility, ScrubInstitutional,
    ScrubLine, ScrubLineAdjudication, ScrubPayer, ScrubPriorPayer, ScrubProvider, ScrubResult,
)
from openrcm_claims.domain.scrubber.registry import RuleInfo

__all__ = [
    "BLOCK", "CodeSets", "Enrollments", "HcpcsCodeSet", "INSTITUTIONAL", "Icd10CmCodeSet", "Icd10CmRelease", "MueTable",
    "PROFESSIONAL", "PtpEdits", "RULE_SET_VERSION", "RuleHit", "RuleInfo", "ScrubClaim", "ScrubEligibility", "ScrubInstitutional", "ScrubLine",
    "ScrubLineAdjudication", "ScrubPayer", "ScrubPriorPayer", "ScrubProvider", "ScrubResult", "WARN", "list_rules", "load_hcpcs_file", "load_mue_files", "load_order_file",
    "load_ptp_files", "rule_set_fingerprint", "scrub",
]
