"""Configurable front-end rejections: which claims the simulated payer edits turn away.

A rule names the claims it catches (payer id, member id pattern, patient control number pattern;
every condition given must hold) and the 277CA status to answer with (STC01 category, status code
and entity, 005010X214). The first matching rule wins; a claim no rule catches is accepted.

    [{"payer_id": "60054", "member_id_pattern": "^REJ", "category": "A7", "status": "562", "entity": "85"}]
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from openrcm_shared.x12.claim_ack_277ca import REJECTED_CATEGORIES, ClaimStatus


class RejectionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    payer_id: str | None = Field(default=None, description="2010BB NM109 of the claim's payer")
    member_id_pattern: str | None = Field(default=None, description="regex searched in 2010BA NM109")
    patient_control_number_pattern: str | None = Field(default=None, description="regex searched in CLM01")
    category: str = Field(description="STC01-1, a rejecting category: A3, A4, A6, A7 or A8")
    status: str = Field(pattern=r"^[0-9]{1,5}$", description="STC01-2 claim status code, e.g. 562")
    entity: str | None = Field(default=None, pattern=r"^[0-9A-Z]{2,3}$", description="STC01-3, e.g. 85")

    @field_validator("category")
    @classmethod
    def _rejecting_category(cls, category: str) -> str:
        if category not in REJECTED_CATEGORIES:
            raise ValueError(f"must be one of {sorted(REJECTED_CATEGORIES)} (a rule rejects claims)")
        return category

    _compiles = field_validator("member_id_pattern", "patient_control_number_pattern")(
        classmethod(lambda cls, pattern: regular_expression(pattern)))

    @model_validator(mode="after")
    def _has_a_condition(self) -> RejectionRule:
        if not (self.payer_id or self.member_id_pattern or self.patient_control_number_pattern):
            raise ValueError("a rule needs at least one of payer_id, member_id_pattern, patient_control_number_pattern")
        return self

    def catches(self, *, payer_id: str, member_id: str, patient_control_number: str) -> bool:
        if self.payer_id is not None and self.payer_id != payer_id:
            return False
        if self.member_id_pattern is not None and not re.search(self.member_id_pattern, member_id):
            return False
        if self.patient_control_number_pattern is not None and not re.search(
                self.patient_control_number_pattern, patient_control_number):
            return False
        return True

    @property
    def claim_status(self) -> ClaimStatus:
        return ClaimStatus(self.category, self.status, self.entity)


def regular_expression(pattern: str | None) -> str | None:
    """A rule's pattern must compile (checked when the rules are loaded, not when a claim arrives)."""
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    return pattern


RULE_LIST = TypeAdapter(list[RejectionRule])


def load_rules(path: Path | None) -> list[RejectionRule]:
    """Rules from a JSON file (a list of rule objects); none when no file is configured."""
    if path is None:
        return []
    return RULE_LIST.validate_python(json.loads(path.read_text(encoding="utf-8")))


def rejection_for(rules: list[RejectionRule], *, payer_id: str, member_id: str,
                  patient_control_number: str) -> ClaimStatus | None:
    for rule in rules:
        if rule.catches(payer_id=payer_id, member_id=member_id, patient_control_number=patient_control_number):
            return rule.claim_status
    return None
