"""One claim per encounter per responsible payer, on the real stack: the primary's claim goes out
first; its adjudication creates the secondary's claim (then the tertiary's) with the previous
payers' decisions in loops 2320/2430; a crossover or "not our claim" is recorded instead; a
reversal takes the claim back to the payer. Synthetic data only."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from openrcm_shared.contracts.remittance import (
    Adjustment, ClaimPaymentPosted, ClaimReversed, Crossover, PostedLine,
)
from tests.e2e.claims_parties import (
    SECONDARY_PAYER, TERTIARY_PAYER, encounter_by_reference, publish, register_patient, register_practice,
)
from tests.support import claim_in, eventually, post_when_known, remittance_for
from tests.x12_validation import pyx12_errors

pytestmark = pytest.mark.stack


async def next_payer_claim(api, claim: dict, responsibility: str) -> dict:
    async def created():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        related = [c for c in body["related_claims"] if c["payer_responsibility"] == responsibility]
        assert related, [h["kind"] for h in body["history"]]
        return related[0]
    return await eventually(created)


async def test_secondary_then_tertiary_claims_carry_the_previous_payers_decisions(api):
    await register_practice(api["claims"], SECONDARY_PAYER, TERTIARY_PAYER)
    patient_id = await register_patient(api["claims"], "60054", SECONDARY_PAYER, TERTIARY_PAYER)
    created = await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id))
    assert created.status_code == 201, created.text
    primary = created.json()
    assert (primary["payer_id"], primary["payer_responsibility"], primary["related_claims"]) == ("60054", "P", [])
    await claim_in(api, primary["id"], "accepted_by_payer")

    # The primary pays 80.00 of 140.50: CO-45 25.00 and PR-2 20.00 on line 1, CO-97 15.50 on line 2.
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance_for(primary))
    assert posted.status_code == 201, posted.text
    secondary_ref = await next_payer_claim(api, primary, "S")
    secondary = await claim_in(api, secondary_ref["id"], "accepted_by_payer")
    assert (secondary["payer_id"], secondary["prior_claim_id"], secondary["total_charge"]) == (
        SECONDARY_PAYER, primary["id"], "140.50")
    [decision] = secondary["prior_payer_adjudications"]
    assert (decision["payer_id"], decision["paid_amount"], decision["patient_responsibility_amount"]) == (
        "60054", "80.00", "20.00")
    assert [h["kind"] for h in secondary["history"]][:2] == ["created_for_next_payer", "scrubbed"]
    primary_now = (await api["claims"].get(f"/v1/claims/{primary['id']}")).json()
    assert primary_now["status"] == "partially_paid"
    billed = next(h for h in primary_now["history"] if h["kind"] == "next_payer_billed")
    assert billed["detail"]["claim_id"] == secondary["id"] and billed["event_id"]

    x12 = (await api["claims"].get(f"/v1/claims/{secondary['id']}/x12")).text
    assert pyx12_errors(x12) == []
    assert f"CLM*{secondary['patient_control_number']}*140.5***11:B:1" in x12
    assert "~SBR*S*18*" in x12 and "~SBR*P*18*" in x12 and "~SBR*T*18*" in x12
    assert "~AMT*D*80~AMT*EAF*20~" in x12
    assert "~SVD*60054*80*HC:99213:25**1~CAS*CO*45*25~CAS*PR*2*20~" in x12
    assert "~SVD*60054*0*HC:36415**1~CAS*CO*97*15.5~" in x12

    # The secondary pays what the primary left: its decision goes to the tertiary with the primary's.
    posted = await post_when_known(api["remittance"], "/v1/remittances",
                                   remittance_for(secondary, payer_id=SECONDARY_PAYER))
    assert posted.status_code == 201, posted.text
    tertiary_ref = await next_payer_claim(api, secondary, "T")
    tertiary = await claim_in(api, tertiary_ref["id"], "accepted_by_payer")
    assert [(d["payer_id"], d["payer_responsibility"]) for d in tertiary["prior_payer_adjudications"]] == [
        ("60054", "P"), (SECONDARY_PAYER, "S")]
    x12 = (await api["claims"].get(f"/v1/claims/{tertiary['id']}/x12")).text
    assert pyx12_errors(x12) == []
    assert x12.count("~AMT*D*80~") == 2 and f"~SVD*{SECONDARY_PAYER}*80*" in x12


def decision(claim: dict, *, outcome: str = "partially_paid", status_code: str | None = "1",
             crossover: Crossover | None = None, paid: str = "80.00") -> ClaimPaymentPosted:
    """A payer's decision on the two-line test claim: line 1 125.00 - CO-45 25.00 - PR-2 20.00 = 80.00
    paid (or everything adjusted when `paid` is 0), line 2 15.50 - CO-97 15.50 = 0."""
    first_paid = Decimal(paid)
    contractual = Decimal("25.00") + (Decimal("80.00") - first_paid)
    return ClaimPaymentPosted(
        tenant_id=claim["tenant_id"], claim_id=claim["id"], remittance_id=uuid.uuid4(), patient_id=claim["patient_id"],
        payer_id="60054", patient_control_number=claim["patient_control_number"], outcome=outcome,
        charge_amount=Decimal("140.50"), allowed_amount=Decimal("100.00"), paid_amount=first_paid,
        patient_responsibility_amount=Decimal("20.00"), claim_status_code=status_code, crossover=crossover,
        adjustments=[Adjustment(line_number=1, group_code="CO", carc="45", amount=contractual),
                     Adjustment(line_number=1, group_code="PR", carc="2", amount=Decimal("20.00")),
                     Adjustment(line_number=2, group_code="CO", carc="97", amount=Decimal("15.50"))],
        lines=[PostedLine(line_number=1, charge_amount=Decimal("125.00"), allowed_amount=Decimal("100.00"),
                          paid_amount=first_paid, patient_responsibility_amount=Decimal("20.00")),
               PostedLine(line_number=2, charge_amount=Decimal("15.50"), allowed_amount=Decimal("0.00"),
                          paid_amount=Decimal("0.00"), patient_responsibility_amount=Decimal("0.00"))])


async def accepted_claim_with_two_payers(api, tenant: str) -> dict:
    await register_practice(api["claims"], SECONDARY_PAYER)
    patient_id = await register_patient(api["claims"], "60054", SECONDARY_PAYER)
    claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id))).json()
    return {**await claim_in(api, claim["id"], "accepted_by_payer"), "tenant_id": tenant}


async def history_kinds(api, claim_id: str, wanted: str) -> dict:
    async def recorded():
        body = (await api["claims"].get(f"/v1/claims/{claim_id}")).json()
        assert wanted in [h["kind"] for h in body["history"]], [h["kind"] for h in body["history"]]
        return body
    return await eventually(recorded)


async def test_a_crossover_is_recorded_and_no_secondary_claim_is_sent(api, stack, tenant):
    claim = await accepted_claim_with_two_payers(api, tenant)
    await publish(stack, decision(claim, status_code="19",
                                  crossover=Crossover(payer_name="SYNTHETIC PLAN SEC01", payer_id=SECONDARY_PAYER)))
    body = await history_kinds(api, claim["id"], "forwarded_by_payer")
    assert body["status"] == "partially_paid" and body["related_claims"] == []
    forwarded = next(h for h in body["history"] if h["kind"] == "forwarded_by_payer")
    assert (forwarded["detail"]["reason"], forwarded["detail"]["claim_status_code"],
            forwarded["detail"]["forwarded_to_payer_id"]) == ("crossover", "19", SECONDARY_PAYER)
    assert forwarded["event_id"]


async def test_not_our_claim_is_recorded_without_moving_the_claim(api, stack, tenant):
    claim = await accepted_claim_with_two_payers(api, tenant)
    await publish(stack, decision(claim, outcome="not_our_claim", status_code="23", paid="0.00"))
    body = await history_kinds(api, claim["id"], "forwarded_by_payer")
    assert body["status"] == "accepted_by_payer" and body["related_claims"] == []
    forwarded = next(h for h in body["history"] if h["kind"] == "forwarded_by_payer")
    assert forwarded["detail"]["reason"] == "not_our_claim"


async def test_a_reversal_takes_the_claim_back_and_the_corrected_decision_posts(api, stack, tenant):
    claim = await accepted_claim_with_two_payers(api, tenant)
    first = decision(claim, status_code="19", crossover=Crossover(payer_name="SYNTHETIC PLAN SEC01"))
    await publish(stack, first)
    await claim_in(api, claim["id"], "partially_paid")
    reversal = ClaimReversed(
        tenant_id=tenant, claim_id=claim["id"], remittance_id=uuid.uuid4(), patient_id=claim["patient_id"],
        payer_id="60054", patient_control_number=claim["patient_control_number"],
        reversed_paid_amount=Decimal("80.00"), reversed_patient_responsibility_amount=Decimal("20.00"),
        reversed_adjustments=first.adjustments)
    corrected = decision(claim, status_code="19", paid="90.00", crossover=Crossover(payer_name="SYNTHETIC PLAN SEC01"))
    await publish(stack, reversal, corrected)

    async def corrected_posted():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        moves = [(h["kind"], h["from_status"], h["to_status"]) for h in body["history"] if h["to_status"]]
        assert moves[-2:] == [("decision_reversed", "partially_paid", "accepted_by_payer"),
                              ("status_changed", "accepted_by_payer", "partially_paid")], moves
        return body
    body = await eventually(corrected_posted)
    assert body["paid_amount"] == "90.00"  # 80.00 paid, 80.00 reversed, 90.00 paid
    reversed_entry = next(h for h in body["history"] if h["kind"] == "decision_reversed")
    assert reversed_entry["event_id"] and reversed_entry["detail"]["reversed_paid_amount"] == "80.00"
