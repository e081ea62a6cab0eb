"""How events move a claim's insurance receivable (pure rules)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from openrcm_collections.receivables import movements as rules
from openrcm_collections.receivables.aging import bucket_of
from openrcm_shared.contracts.remittance import Adjustment, ClaimDenied, ClaimPaymentPosted, ClaimReversed, DeniedItem

D = Decimal
IDS = dict(tenant_id="t", claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), patient_id="p", payer_id="P1",
           patient_control_number="PCN1")


def cas(*items) -> list[Adjustment]:
    return [Adjustment(group_code=g, carc=c, amount=D(a)) for g, c, a in items]


def posted(paid: str, *items, outcome: str = "paid") -> ClaimPaymentPosted:
    adjustments = cas(*items)
    return ClaimPaymentPosted(**IDS, outcome=outcome, charge_amount=D("500.00"), allowed_amount=D(paid),
                              paid_amount=D(paid), patient_responsibility_amount=D("0"), adjustments=adjustments,
                              lines=[])


def test_a_payers_decision_settles_the_claim_by_paid_contractual_other_and_patient():
    movement = rules.adjudication(posted("300.00", ("CO", "45", "120.00"), ("OA", "94", "30.00"), ("PR", "2", "50.00")),
                                  later_payer=False)
    assert (movement.paid, movement.contractual, movement.other_adjustment, movement.patient_transfer) == (
        D("300.00"), D("120.00"), D("30.00"), D("50.00"))
    assert movement.amount == D("-500.00")


def test_a_secondary_does_not_take_off_the_prior_payers_impact_twice():
    decision = posted("40.00", ("OA", "23", "450.00"), ("PR", "2", "10.00"))
    assert rules.adjudication(decision, later_payer=True).amount == D("-50.00")
    assert rules.adjudication(decision, later_payer=False).amount == D("-500.00")
    assert rules.prior_payer_share(D("500.00"), D("50.00")).amount == D("-450.00")


def test_a_denial_holds_its_dollars_open_and_a_reversal_releases_them():
    decision = rules.adjudication(posted("0.00", ("CO", "50", "500.00"), outcome="denied"), later_payer=False)
    held = rules.denial_held_open(ClaimDenied(**IDS, denied_amount=D("500.00"), denials=[
        DeniedItem(group_code="CO", carc="50", amount=D("500.00"))]))
    assert (decision.amount, held.amount, held.denied, held.contractual) == (
        D("-500.00"), D("500.00"), D("500.00"), D("-500.00"))
    reversed_ = rules.reversal(ClaimReversed(**IDS, reversed_paid_amount=D("0"),
                                             reversed_patient_responsibility_amount=D("0"),
                                             reversed_adjustments=cas(("CO", "50", "500.00"))), later_payer=False)
    released = rules.denial_released(held)
    billed = rules.billing(D("0"), D("500.00"), first=True)
    assert sum((m.amount for m in (billed, decision, held, reversed_, released)), D(0)) == D("500.00")


def test_a_corrected_version_bills_the_difference():
    assert rules.billing(D("500.00"), D("520.00"), first=False).amount == D("20.00")
    assert rules.billing(D("500.00"), D("520.00"), first=False).kind == "rebilled"


def test_bucket_edges():
    assert [bucket_of(days) for days in (-3, 0, 30, 31, 60, 61, 90, 91, 120, 121, 4000)] == [
        "0_30", "0_30", "0_30", "31_60", "31_60", "61_90", "61_90", "91_120", "91_120", "over_120", "over_120"]


def test_a_denial_worked_to_its_end_leaves_the_receivable_by_write_off_or_transfer_to_the_patient():
    held = rules.denial_held_open(ClaimDenied(**IDS, denied_amount=D("500.00"), denials=[
        DeniedItem(group_code="CO", carc="50", amount=D("500.00"))]))
    written_off = rules.denial_written_off(D("500.00"))
    transferred = rules.denial_transferred_to_patient(D("500.00"))
    # A write-off is an adjustment of its own kind (never contractual, never bad debt).
    assert (written_off.kind, written_off.other_adjustment, written_off.contractual, written_off.amount) == (
        "denial_written_off", D("500.00"), D("0"), D("-500.00"))
    assert (transferred.kind, transferred.patient_transfer, transferred.amount) == (
        "denial_transferred", D("500.00"), D("-500.00"))
    # Billed 500, denied in full (CO-50 taken off, then held open again): the outcome brings it to zero.
    billed = rules.billing(D("0"), D("500.00"), True).amount
    denied = rules.adjudication(posted("0.00", ("CO", "50", "500.00"), outcome="denied"), later_payer=False).amount
    assert billed + denied + held.amount + written_off.amount == D("0")
    assert billed + denied + held.amount + transferred.amount == D("0")
