"""The scrub engine: run every registered rule over a claim, collect the hits.

Pure: no I/O, no clock (`today` is an argument), no globals that change after import. Code sets
are loaded once by the caller (`CodeSets.shipped(...)`) and shared by every call.
"""

from __future__ import annotations

import hashlib
from datetime import date

from openrcm_claims.domain.scrubber import rules as _rules  # noqa: F401  (registers the rules)
from openrcm_claims.domain.scrubber.codesets import CodeSets
from openrcm_claims.domain.scrubber.context import Context
from openrcm_claims.domain.scrubber.model import Enrollments, RuleHit, ScrubClaim, ScrubResult
from openrcm_claims.domain.scrubber.registry import RULES, RuleInfo

# Bump whenever a rule is added, removed, or changes what it accepts or its severity, so a stored
# result says which rules produced it. tests/unit/scrubber checks the bump against RULE_SET_FINGERPRINT.
RULE_SET_VERSION = "2026.12.1"

_RULES = tuple((rule.id, rule.severity, rule.check) for rule in RULES)


def list_rules() -> tuple[RuleInfo, ...]:
    """Every rule (id, severity, one-line description), in the order they run: for documentation."""
    return tuple(rule.info for rule in RULES)


def rule_set_fingerprint() -> str:
    """A digest of the rule ids and severities (a change here needs a RULE_SET_VERSION bump)."""
    text = "\n".join(f"{rule.id}|{rule.severity}" for rule in RULES)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scrub(claim: ScrubClaim, *, today: date, code_sets: CodeSets, enrollments: Enrollments) -> ScrubResult:
    """Check one claim; hits come in rule order, then in claim order within a rule."""
    ctx = Context(claim, today, code_sets, enrollments)
    hits: list[RuleHit] = []
    for rule_id, severity, check in _RULES:
        found = check(ctx)
        if found:
            for message, pointer in found:
                hits.append(RuleHit(rule_id, severity, message, pointer))
    return ScrubResult(RULE_SET_VERSION, tuple(hits))
