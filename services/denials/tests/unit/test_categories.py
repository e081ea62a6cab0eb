"""Categorizing denials: every active CARC maps, RARCs refine the general codes, group codes decide
what is not a denial and who may be billed, a practice's payer override wins."""

import pytest

from openrcm_denials.domain.categories import Action, Category, PayerOverride, Team, categorizer
from openrcm_shared.codesets.loader import all_carc, all_rarc

ACTIVE_CARCS = [entry.code for entry in all_carc() if entry.status != "deactivated"]


def test_every_active_carc_has_a_row_and_only_active_codes_do() -> None:
    rules = categorizer().rules
    assert sorted(rules) == sorted(ACTIVE_CARCS)
    assert len(ACTIVE_CARCS) > 250


@pytest.mark.parametrize("carc", ACTIVE_CARCS)
def test_every_active_carc_categorizes_with_its_own_rule(carc: str) -> None:
    found = categorizer().categorize("OA", carc)
    if found.is_denial:
        assert found.category in set(Category) and found.rule == f"carc:{carc}" and carc in found.why
        assert found.owning_team in set(Team) and found.recommended_action in set(Action)
        assert found.core_scenario in (None, 1, 2, 3, 4)


def test_refinements_name_active_rarcs() -> None:
    active = {entry.code for entry in all_rarc() if entry.status != "deactivated"}
    refinements = categorizer().refinements
    assert refinements and set(refinements) <= active
    assert refinements["M127"][0] is Category.MISSING_INFORMATION  # missing patient medical record
    assert refinements["M51"][0] is Category.CODING  # missing/incomplete/invalid procedure code(s)


@pytest.mark.parametrize("group,carc", [("PR", "1"), ("PR", "2"), ("PR", "3"), ("CO", "45"), ("CO", "253")])
def test_patient_share_and_contractual_reductions_are_not_denials(group: str, carc: str) -> None:
    found = categorizer().categorize(group, carc)
    assert not found.is_denial and found.category is None and found.rule == f"not-a-denial:{group}-{carc}"


def test_a_deductible_under_another_group_is_still_looked_at() -> None:
    assert categorizer().categorize("CO", "1").is_denial


def test_carc_16_is_refined_by_the_rarc_naming_what_is_wrong() -> None:
    documentation = categorizer().categorize("CO", "16", ["N130", "M127"])
    assert documentation.category is Category.MISSING_INFORMATION and documentation.rule == "carc:16+rarc:M127"
    assert documentation.core_scenario == 1 and "missing documentation" in documentation.why
    code = categorizer().categorize("CO", "16", ["M51"])
    assert code.category is Category.CODING and code.owning_team is Team.CODING and code.rule == "carc:16+rarc:M51"
    assert code.core_scenario == 2
    plain = categorizer().categorize("CO", "16", ["N130"])  # an alert-free remark that names neither
    assert plain.rule == "carc:16" and plain.category is Category.MISSING_INFORMATION


def test_a1_with_a_documentation_remark_is_missing_information_not_other() -> None:
    assert categorizer().categorize("CO", "A1").category is Category.OTHER
    assert categorizer().categorize("CO", "A1", ["M127"]).category is Category.MISSING_INFORMATION


def test_a_specific_carc_is_not_refined_by_its_remarks() -> None:
    found = categorizer().categorize("CO", "50", ["M51"])
    assert found.category is Category.MEDICAL_NECESSITY and found.rule == "carc:50"


@pytest.mark.parametrize("group,carc,category,action", [
    ("CO", "197", Category.AUTHORIZATION, Action.APPEAL),
    ("CO", "29", Category.TIMELY_FILING, Action.APPEAL),
    ("OA", "18", Category.DUPLICATE, Action.REVIEW),
    ("CO", "97", Category.BUNDLING, Action.CORRECT_AND_RESUBMIT),
    ("CO", "22", Category.COORDINATION_OF_BENEFITS, Action.BILL_SECONDARY),
    ("CO", "27", Category.ELIGIBILITY, Action.CORRECT_AND_RESUBMIT),
    ("CO", "185", Category.PROVIDER_ENROLLMENT, Action.CORRECT_AND_RESUBMIT),
    ("CO", "11", Category.CODING, Action.CORRECT_AND_RESUBMIT),
])
def test_common_denials(group, carc, category, action) -> None:
    found = categorizer().categorize(group, carc)
    assert (found.category, found.recommended_action) == (category, action)


def test_group_code_decides_who_may_be_billed_for_a_non_covered_service() -> None:
    patient = categorizer().categorize("PR", "204")
    provider = categorizer().categorize("CO", "204")
    assert patient.category is provider.category is Category.NON_COVERED
    assert patient.recommended_action is Action.BILL_PATIENT
    assert provider.recommended_action is Action.WRITE_OFF and provider.rule == "carc:204+group:CO"
    assert "may not bill the patient" in provider.why


def test_pr_makes_any_denial_the_patients() -> None:
    found = categorizer().categorize("PR", "50")
    assert found.recommended_action is Action.BILL_PATIENT and found.rule == "carc:50+group:PR"


def test_an_unknown_or_retired_code_is_other_to_review() -> None:
    found = categorizer().categorize("CO", "999")
    assert (found.category, found.recommended_action, found.rule) == (Category.OTHER, Action.REVIEW, "unmapped:999")


def test_a_payer_override_wins_and_says_so() -> None:
    override = PayerOverride(payer_id="60054", carc="16", category=Category.AUTHORIZATION)
    found = categorizer().categorize("CO", "16", ["M127"], override)
    assert found.category is Category.AUTHORIZATION and found.rule == "override:60054/16"
    assert found.owning_team is Team.BILLING  # not named by the override: the CARC's own
    full = PayerOverride("60054", "50", Category.CODING, Team.CODING, Action.CORRECT_AND_RESUBMIT, True)
    assert categorizer().categorize("CO", "50", override=full).owning_team is Team.CODING


def test_the_mapping_has_one_version() -> None:
    assert categorizer().version == "2026.12-1"
