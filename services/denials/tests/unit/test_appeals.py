from datetime import date
from decimal import Decimal

from openrcm_denials.domain.appeals import appeal_deadline, primary_reason
from openrcm_shared.contracts.remittance import DeniedItem


def test_appeal_deadline_is_ninety_days_by_default():
    assert appeal_deadline(date(2026, 1, 15)) == date(2026, 4, 15)
    assert appeal_deadline(date(2026, 1, 15), window_days=180) == date(2026, 7, 14)


def test_primary_reason_is_the_largest_amount():
    items = [DeniedItem(line_number=1, group_code="CO", carc="97", amount=Decimal("15.50")),
             DeniedItem(line_number=2, group_code="CO", carc="50", amount=Decimal("300.00")),
             DeniedItem(line_number=3, group_code="OA", carc="18", amount=Decimal("40.00"))]
    assert primary_reason(items) == ("CO", "50")
