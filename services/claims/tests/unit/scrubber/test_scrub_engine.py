"""The engine: rule registry, versioning, reference data, and claims built like the intake's."""

from __future__ import annotations

import re

from openrcm_claims.domain.scrubber import (
    BLOCK, RULE_SET_VERSION, WARN, list_rules, rule_set_fingerprint, scrub,
)
from openrcm_claims.domain.scrubber.codesets.reference import load_modifiers, load_places_of_service

# When the rules change, bump RULE_SET_VERSION in engine.py and add the new pair here.
KNOWN_RULE_SETS = {"2026.11.1": "c94c099fd57b392a", "2026.11.2": "270c66d075fe7372", "2026.12.1": "7a5c66b17d441689"}


def test_rule_set_version_is_bumped_when_rules_change():
    assert KNOWN_RULE_SETS.get(RULE_SET_VERSION) == rule_set_fingerprint(), (
        "the rules changed: bump RULE_SET_VERSION and record the new fingerprint")


def test_rules_are_documented():
    rules = list_rules()
    assert len({rule.id for rule in rules}) == len(rules) >= 40
    for rule in rules:
        assert re.match(r"^[A-Z0-9]+(\.[A-Z0-9_]+)+$", rule.id), rule.id
        assert rule.severity in (BLOCK, WARN)
        assert rule.description and "\n" not in rule.description and len(rule.description) <= 140
    for required in ("IG.BILLING_NPI_REQUIRED", "NPI.CHECK_DIGIT", "ICD10.NOT_BILLABLE", "NCCI.PTP", "MUE.UNITS",
                     "ENROLL.NOT_ENROLLED"):
        assert required in {rule.id for rule in rules}


def test_results_carry_the_rule_set_version(run, b):
    assert run(b.claim()).rule_set_version == RULE_SET_VERSION


def test_scrub_is_deterministic(run, b):
    subject = b.claim(diagnosis_codes=("E11", "E11"), place_of_service="29")
    assert run(subject) == run(subject)


def test_place_of_service_list_is_the_cms_code_set():
    places = load_places_of_service()
    assert len(places) == 52
    assert places["11"].name == "Office" and places["02"].effective is not None
    assert all(len(code) == 2 and code.isdigit() for code in places)
    for unassigned in ("00", "28", "29", "30", "35", "40", "43", "48", "59", "63", "64", "67", "70", "73", "80", "82", "98"):
        assert unassigned not in places


def test_modifier_list_flags_the_ncci_associated_modifiers(shipped):
    modifiers = load_modifiers()
    assert shipped.ncci_modifiers == {
        "E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "LC", "LD", "LM", "LT",
        "RC", "RI", "RT", "TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "24", "25", "57", "58", "78",
        "79", "27", "59", "91", "XE", "XS", "XP", "XU"}
    for code in ("25", "59", "76", "77", "91", "XE", "XP", "XS", "XU", "LT", "RT", "26", "TC", "GT", "95", "GA", "GY",
                 "GZ", "KX", "QW"):
        assert code in modifiers


def test_a_claim_from_the_intake_model_scrubs_clean(b, shipped):
    """The mapping the service will do: EncounterIn (normalised codes) -> ScrubClaim."""
    from decimal import Decimal

    from openrcm_claims.domain.scrubber import ScrubLine
    from openrcm_claims.entrypoints.schemas import EncounterIn

    encounter = EncounterIn.model_validate({
        "encounter_id": "enc-1",
        "patient": {"id": "p-1", "first_name": "Syn", "last_name": b.LAST_NAME, "birth_date": "1958-03-14", "gender": "U"},
        "coverage": {"payer_id": b.PAYER_ID, "member_id": b.MEMBER_ID},
        "billing_provider": {"npi": b.BILLING_NPI, "tax_id": "123456789", "name": "Synthetic Family Clinic"},
        "rendering_provider": {"npi": b.RENDERING_NPI},
        "diagnosis_codes": ["E11.9", "i10"],
        "lines": [{"procedure_code": "99213", "charge_amount": "120.00", "service_date": "2026-06-01",
                   "diagnosis_pointers": [1, 2]}],
    })
    lines = tuple(ScrubLine(number, line.procedure_code, tuple(line.modifiers), Decimal(line.units),
                            Decimal(str(line.charge_amount)), line.service_date, None, line.place_of_service,
                            tuple(line.diagnosis_pointers)) for number, line in enumerate(encounter.lines, 1))
    subject = b.claim(diagnosis_codes=tuple(encounter.diagnosis_codes), lines=lines,
                      place_of_service=encounter.place_of_service)
    result = scrub(subject, today=b.TODAY, code_sets=shipped, enrollments=b.Registry())
    assert result.hits == ()
