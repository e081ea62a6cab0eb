"""277CA statuses as claim moves, planned for a whole delivery before any is applied: a claim
reported twice in one delivery is judged the second time on the state the first left it in."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_claims.service_layer.acknowledgements import _AckedClaim, _claim_status_move
from openrcm_shared.x12.claim_ack_277ca import (
    ACCEPTED_BY_CLEARINGHOUSE, ACCEPTED_FOR_ADJUDICATION, ActionCode, ClaimAcknowledgment, StatusInformation,
)


def reported(status, pccn=None) -> ClaimAcknowledgment:
    return ClaimAcknowledgment(
        patient_control_number="RTEST", patient_last_name="Synthetic", member_id="XJ1",
        statuses=(StatusInformation(status=status, action_code=ActionCode("WQ"), total_charge=Decimal("140.50")),),
        service_date_from=date(2026, 11, 20), payer_claim_control_number=pccn)


def claim(status=ClaimStatus.SUBMITTED) -> _AckedClaim:
    return _AckedClaim(id=uuid.uuid4(), tenant_id="t", status=status.value, version=1, frequency_code="1",
                       payer_claim_control_number=None)


def test_a_claim_reported_twice_is_moved_from_where_the_first_report_left_it():
    acked = claim()
    counted, first = _claim_status_move(acked, reported(ACCEPTED_BY_CLEARINGHOUSE))
    acked.moved(first)
    counted_again, second = _claim_status_move(acked, reported(ACCEPTED_FOR_ADJUDICATION, "PCCN1"))
    acked.moved(second)
    assert (counted, first.from_status, first.target) == (
        "accepted", ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE)
    assert (counted_again, second.from_status, second.target) == (
        "accepted", ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER)
    assert second.values == {"payer_claim_control_number": "PCCN1"}
    assert acked.status == ClaimStatus.ACCEPTED_BY_PAYER and acked.payer_claim_control_number == "PCCN1"


def test_an_illegal_move_leaves_the_planned_state_as_it_was():
    acked = claim(ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE)
    _, move = _claim_status_move(acked, reported(ACCEPTED_FOR_ADJUDICATION, "PCCN2"))
    acked.status = ClaimStatus.VOIDED.value  # a voided claim moves nowhere
    _, refused = _claim_status_move(acked, reported(ACCEPTED_FOR_ADJUDICATION, "PCCN2"))
    acked.moved(refused)
    assert acked.status == ClaimStatus.VOIDED and acked.payer_claim_control_number is None
    assert move.target == ClaimStatus.ACCEPTED_BY_PAYER
