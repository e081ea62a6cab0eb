"""Categorizing a denied line: group code + CARC + RARCs -> category, owning team, preventable flag,
recommended action and the CAQH CORE business scenario, with the rule that matched and why.

The mapping is data (reference/denial_categories.csv, reference/rarc_refinements.csv, versioned, their
sources cited in their headers); this module only applies it, in this order:

1. not a denial: the CARC's `not_denial_groups` holds the line's group code (PR-1/2/3 is the patient's
   share, CO-45 a contractual reduction): the line opens no case and carries no category;
2. a practice's override for this payer and CARC;
3. a RARC refinement, for the general CARCs marked `rarc_refinable` (16, A1, 226, 252): a remark naming
   missing documentation makes the line `missing_information`, one naming an invalid code `coding`;
4. the CARC's row;
5. no row (a retired or unknown code): `other`, to be reviewed.

Then the group code adjusts the action: under PR the payer assigned the amount to the patient (bill the
patient); under CO or PI the provider may not bill the patient for it, so a `bill_patient` action becomes
`write_off`. OA keeps the CARC's category and action (it is used for duplicates and prior payers' impact).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Iterable, Mapping


class Category(StrEnum):
    ELIGIBILITY = "eligibility"
    AUTHORIZATION = "authorization"
    MEDICAL_NECESSITY = "medical_necessity"
    CODING = "coding"
    BUNDLING = "bundling"
    DUPLICATE = "duplicate"
    TIMELY_FILING = "timely_filing"
    MISSING_INFORMATION = "missing_information"
    COORDINATION_OF_BENEFITS = "coordination_of_benefits"
    PROVIDER_ENROLLMENT = "provider_enrollment"
    NON_COVERED = "non_covered"
    PRICING = "pricing"
    OTHER = "other"


class Team(StrEnum):
    FRONT_DESK = "front_desk"
    CODING = "coding"
    BILLING = "billing"
    CLINICAL = "clinical"
    CREDENTIALING = "credentialing"


class Action(StrEnum):
    CORRECT_AND_RESUBMIT = "correct_and_resubmit"
    APPEAL = "appeal"
    BILL_SECONDARY = "bill_secondary"
    BILL_PATIENT = "bill_patient"
    WRITE_OFF = "write_off"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class CarcRule:
    """One row of denial_categories.csv."""

    carc: str
    category: Category
    core_scenario: int | None
    owning_team: Team
    preventable: bool
    recommended_action: Action
    not_denial_groups: frozenset[str]
    rarc_refinable: bool


@dataclass(frozen=True, slots=True)
class PayerOverride:
    """A practice's own category for one payer's CARC (what that payer means by it, in that practice's experience)."""

    payer_id: str
    carc: str
    category: Category
    owning_team: Team | None = None
    recommended_action: Action | None = None
    preventable: bool | None = None


@dataclass(frozen=True, slots=True)
class Categorization:
    is_denial: bool
    category: Category | None
    core_scenario: int | None
    owning_team: Team | None
    preventable: bool | None
    recommended_action: Action | None
    rule: str  # e.g. "carc:16+rarc:M127", "override:60054/50", "not-a-denial:PR-1"
    why: str


PATIENT_RESPONSIBILITY = "PR"
PROVIDER_LIABLE_GROUPS = frozenset({"CO", "PI"})


def _data_lines(handle) -> Iterable[str]:
    return (line for line in handle if not line.startswith("#"))


def _read(name: str) -> tuple[list[dict[str, str]], str]:
    text = resources.files("openrcm_denials.reference").joinpath(name).read_text(encoding="utf-8")
    version = next(line.split(":", 1)[1].split("(")[0].strip() for line in text.splitlines()
                   if line.startswith("# mapping version:"))
    return list(csv.DictReader(_data_lines(text.splitlines(keepends=True)))), version


def _carc_rule(row: dict[str, str]) -> CarcRule:
    return CarcRule(
        carc=row["carc"], category=Category(row["category"]),
        core_scenario=int(row["core_scenario"]) if row["core_scenario"] else None,
        owning_team=Team(row["owning_team"]), preventable=row["preventable"] == "true",
        recommended_action=Action(row["recommended_action"]),
        not_denial_groups=frozenset(filter(None, row["not_denial_groups"].split(";"))),
        rarc_refinable=row["rarc_refinable"] == "true")


class DenialCategorizer:
    """Applies the mapping; pure and immutable, so one instance serves every consumer and request."""

    def __init__(self, rules: Mapping[str, CarcRule], refinements: Mapping[str, tuple[Category, str]],
                 version: str) -> None:
        self.rules = MappingProxyType(dict(rules))
        self.refinements = MappingProxyType(dict(refinements))
        self.version = version

    def categorize(self, group_code: str, carc: str, rarcs: Iterable[str] = (),
                   override: PayerOverride | None = None) -> Categorization:
        rule = self.rules.get(carc)
        if rule is not None and group_code in rule.not_denial_groups:
            return Categorization(False, None, None, None, None, None, f"not-a-denial:{group_code}-{carc}",
                                  f"{group_code}-{carc} is not a denial (the mapping lists {group_code} for it): "
                                  "no case is opened for it")
        if override is not None:
            found = self._overridden(rule, override)
        elif rule is None:
            found = Categorization(True, Category.OTHER, None, Team.BILLING, False, Action.REVIEW, f"unmapped:{carc}",
                                   f"CARC {carc} is not an active code of the mapping: review it")
        else:
            found = self._refined(rule, rarcs) or Categorization(
                True, rule.category, rule.core_scenario, rule.owning_team, rule.preventable,
                rule.recommended_action, f"carc:{carc}", f"CARC {carc} maps to {rule.category}")
        return _by_group(found, group_code)

    def _refined(self, rule: CarcRule, rarcs: Iterable[str]) -> Categorization | None:
        if not rule.rarc_refinable:
            return None
        for rarc in rarcs:
            refinement = self.refinements.get(rarc)
            if refinement is not None:
                category, names = refinement
                team = Team.CODING if category is Category.CODING else rule.owning_team
                scenario = 1 if category is Category.MISSING_INFORMATION else 2
                return Categorization(True, category, scenario, team, True, Action.CORRECT_AND_RESUBMIT,
                                      f"carc:{rule.carc}+rarc:{rarc}",
                                      f"CARC {rule.carc} with RARC {rarc}, which names {names}: {category}")
        return None

    @staticmethod
    def _overridden(rule: CarcRule | None, override: PayerOverride) -> Categorization:
        def pick(own, default, fallback):
            return own if own is not None else (default if rule is not None else fallback)
        return Categorization(
            True, override.category, rule.core_scenario if rule else None,
            pick(override.owning_team, rule and rule.owning_team, Team.BILLING),
            pick(override.preventable, rule and rule.preventable, False),
            pick(override.recommended_action, rule and rule.recommended_action, Action.REVIEW),
            f"override:{override.payer_id}/{override.carc}",
            f"this practice maps CARC {override.carc} from payer {override.payer_id} to {override.category}")


def _by_group(found: Categorization, group_code: str) -> Categorization:
    if group_code == PATIENT_RESPONSIBILITY and found.recommended_action is not Action.BILL_PATIENT:
        return replace(found, recommended_action=Action.BILL_PATIENT, owning_team=Team.BILLING, preventable=False,
                       rule=f"{found.rule}+group:PR",
                       why=f"{found.why}; group PR: the payer assigned the amount to the patient")
    if group_code in PROVIDER_LIABLE_GROUPS and found.recommended_action is Action.BILL_PATIENT:
        return replace(found, recommended_action=Action.WRITE_OFF, rule=f"{found.rule}+group:{group_code}",
                       why=f"{found.why}; group {group_code}: the provider may not bill the patient for it")
    return found


@cache
def categorizer() -> DenialCategorizer:
    """The shipped mapping, read once."""
    rows, version = _read("denial_categories.csv")
    refinement_rows, refinement_version = _read("rarc_refinements.csv")
    if refinement_version != version:
        raise RuntimeError(f"denial_categories.csv is {version} but rarc_refinements.csv is {refinement_version}")
    return DenialCategorizer({row["carc"]: _carc_rule(row) for row in rows},
                             {row["rarc"]: (Category(row["category"]), row["names"]) for row in refinement_rows},
                             version)
