"""Per-claim values computed once and shared by the rules."""

from __future__ import annotations

from datetime import date

from openrcm_claims.domain.scrubber.codesets import CodeSets
from openrcm_claims.domain.scrubber.model import INSTITUTIONAL, Enrollments, ScrubClaim
from openrcm_claims.domain.scrubber.rules.diagnoses import icd10_findings


class Context:
    __slots__ = ("claim", "today", "code_sets", "enrollments", "professional", "service_dates", "any_modifiers", "_icd10")

    def __init__(self, claim: ScrubClaim, today: date, code_sets: CodeSets, enrollments: Enrollments):
        self.claim = claim
        self.today = today
        self.code_sets = code_sets
        self.enrollments = enrollments
        self.professional = claim.claim_type != INSTITUTIONAL
        # distinct "from" dates of the lines, in order
        lines = claim.lines
        if len(lines) == 1 or all(line.service_date == lines[0].service_date for line in lines):
            self.service_dates: tuple[date, ...] = (lines[0].service_date,) if lines else ()
        else:
            self.service_dates = tuple(sorted({line.service_date for line in lines}))
        self.any_modifiers = any(line.modifiers for line in lines)
        self._icd10: dict[str, list[tuple[str, str]]] | None = None

    def icd10(self) -> dict[str, list[tuple[str, str]]]:
        """The ICD-10-CM findings by rule id, computed on first use (several rules share them)."""
        if self._icd10 is None:
            self._icd10 = icd10_findings(self)
        return self._icd10
