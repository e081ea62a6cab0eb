from datetime import date
from decimal import Decimal

from openrcm_denials.domain.appeals import (
    DenialWindows, appeal_deadline, corrected_claim_deadline, level_deadline, primary_reason, work_deadline,
)
from openrcm_shared.contracts.remittance import DeniedItem


def test_appeal_deadline_is_ninety_days_by_default():
    assert appeal_deadline(date(2026, 1, 15)) == date(2026, 4, 15)
    assert appeal_deadline(date(2026, 1, 15), window_days=180) == date(2026, 7, 14)


def test_levels_count_from_their_own_start_with_the_payers_windows():
    windows = DenialWindows(appeal_level1_days=180, appeal_level2_days=30, external_review_days=120,
                            corrected_claim_days=60)
    assert level_deadline(date(2026, 1, 1), "level1") == date(2026, 4, 1)  # defaults 90/60/60
    assert level_deadline(date(2026, 1, 1), "level2") == date(2026, 3, 2)
    assert level_deadline(date(2026, 1, 1), "external_review", windows) == date(2026, 5, 1)
    assert corrected_claim_deadline(date(2026, 1, 1), windows) == date(2026, 3, 2)


def test_the_work_deadline_is_the_one_of_the_recommended_action():
    appeal_by, correct_by = date(2026, 4, 1), date(2026, 3, 1)
    assert work_deadline("correct_and_resubmit", appeal_by, correct_by) == correct_by
    assert work_deadline("appeal", appeal_by, correct_by) == appeal_by
    assert work_deadline(None, appeal_by, correct_by) == appeal_by


def test_primary_reason_is_the_largest_amount():
    items = [DeniedItem(line_number=1, group_code="CO", carc="97", amount=Decimal("15.50")),
             DeniedItem(line_number=2, group_code="CO", carc="50", amount=Decimal("300.00")),
             DeniedItem(line_number=3, group_code="OA", carc="18", amount=Decimal("40.00"))]
    assert primary_reason(items) == ("CO", "50")
