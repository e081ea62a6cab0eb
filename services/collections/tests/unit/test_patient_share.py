"""The patient's share of a bill under coordination of benefits, and payer overpayments (no I/O)."""

import uuid
from decimal import Decimal as D

from openrcm_collections.domain.patient_share import (
    Adjudication, ShareLine, patient_share_target, payer_overpayments, share_changes,
)

PRIMARY, SECONDARY = uuid.uuid4(), uuid.uuid4()
# The case: charge 1,660.00, the primary allows 1,328.00, pays 1,062.40, PR-2 265.60.
PRIMARY_DECISION = Adjudication(PRIMARY, "60054", D("1062.40"), D("1328.00"),
                                (ShareLine(1, "2", D("192.00")), ShareLine(2, "2", D("73.60"))))


def test_the_last_payer_says_what_the_patient_owes_and_the_account_moves_to_it():
    secondary = Adjudication(SECONDARY, "SEC01", D("182.60"), D("1245.00"),
                             (ShareLine(1, "2", D("60.00")), ShareLine(2, "2", D("23.00"))))
    held = patient_share_target([PRIMARY_DECISION])
    assert sum(held.values()) == D("265.60")
    target = patient_share_target([PRIMARY_DECISION, secondary])
    changes = share_changes(target, held)
    assert sorted((c.claim_id == PRIMARY, c.line_number, c.amount) for c in changes) == [
        (False, 1, D("60.00")), (False, 2, D("23.00")), (True, 1, D("-192.00")), (True, 2, D("-73.60"))]
    assert sum(held.values()) + sum(c.amount for c in changes) == D("83.00")
    assert share_changes(target, target) == []  # settling twice moves nothing
    assert payer_overpayments([PRIMARY_DECISION, secondary]) == {}


def test_a_secondary_paying_as_primary_leaves_a_credit_balance_for_it():
    # The defect's 835: the secondary paid 1,062.40 again with 265.60 coinsurance: 2,124.80 on 1,328.00.
    as_primary = Adjudication(SECONDARY, "SEC01", D("1062.40"), D("1328.00"),
                              (ShareLine(1, "2", D("192.00")), ShareLine(2, "2", D("73.60"))))
    assert sum(patient_share_target([PRIMARY_DECISION, as_primary]).values()) == D("265.60")  # not 531.20
    assert payer_overpayments([PRIMARY_DECISION, as_primary]) == {"SEC01": D("1062.40")}


def test_no_decision_left_after_a_reversal_owes_nothing():
    assert patient_share_target([]) == {}
    assert payer_overpayments([]) == {}
