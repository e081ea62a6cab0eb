"""Coordination of benefits: after a payer adjudicates a claim, the next payer in the patient's
order of benefits gets a claim of its own (secondary, then tertiary), carrying every previous
payer's decision in loops 2320 (claim: CAS, AMT*D paid, AMT*EAF still owed by the patient) and
2430 (each line: SVD paid, CAS, DTP*573) of 005010X222A1 / 005010X223A2.

Not when the payer forwarded the claim itself (835 CLP02 19/20/21, or an NM1*TT crossover
payer): the next payer has it already, so a claim from us would be a duplicate. Not when nothing
is left for anyone to pay (paid in full with no patient responsibility).

A payer may change its decision (a reversal, then a corrected posting): the next payer's claim,
if it has not gone out yet, is rebuilt with the corrected decision as a new version; if it has,
its timeline says so and a replacement is left to the billing staff.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from openrcm_claims.adapters.tables import claims, payers
from openrcm_claims.domain.lifecycle import EDITABLE_STATUSES, ClaimStatus
from openrcm_claims.entrypoints.schemas import PAYER_RESPONSIBILITY_ORDER, CoverageIn, EncounterIn
from openrcm_claims.service_layer.claim_locks import lock_claims_for
from openrcm_claims.service_layer.corrections import new_version
from openrcm_claims.service_layer.submission import create_claim
from openrcm_claims.service_layer.transitions import note_on_timeline
from openrcm_shared.contracts.claims import ClaimForwardedByPayer, NextPayerClaimCreated
from openrcm_shared.contracts.remittance import ClaimPaymentPosted
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.errors import PermanentEventError

# 835 CLP02 (005010X221A1): processed as primary/secondary/tertiary and forwarded to the next payer.
CROSSOVER_STATUS_CODES = frozenset({"19", "20", "21"})


def forwarded_by_payer(event: ClaimPaymentPosted) -> bool:
    return event.crossover is not None or event.claim_status_code in CROSSOVER_STATUS_CODES


def adjudication_record(claim, event: ClaimPaymentPosted, adjudicated_on: date) -> dict:
    """One payer's decision on a claim, as the next payer's claim stores and sends it."""
    def adjustments(line_number: int | None) -> list[dict]:
        return [{"group_code": a.group_code, "carc": a.carc, "amount": str(a.amount)}
                for a in event.adjustments if a.line_number == line_number]
    return {
        "claim_id": str(claim.id), "payer_id": claim.payer_id, "payer_responsibility": claim.payer_responsibility,
        "remittance_id": str(event.remittance_id), "claim_status_code": event.claim_status_code,
        "payer_claim_control_number": event.payer_claim_control_number,
        "adjudication_date": adjudicated_on.isoformat(), "paid_amount": str(event.paid_amount),
        "patient_responsibility_amount": str(event.patient_responsibility_amount),
        "claim_adjustments": adjustments(None),
        "lines": [{"line_number": line.line_number, "paid_amount": str(line.paid_amount),
                   "adjustments": adjustments(line.line_number)} for line in event.lines],
    }


def next_coverage(encounter: EncounterIn, responsibility: str) -> CoverageIn | None:
    """The coverage after `responsibility` in the order of benefits (S after P, T after S)."""
    position = PAYER_RESPONSIBILITY_ORDER.index(responsibility)
    later = [c for c in (encounter.coverage, *encounter.other_coverages)
             if PAYER_RESPONSIBILITY_ORDER.index(c.payer_responsibility) > position]
    return min(later, key=lambda c: PAYER_RESPONSIBILITY_ORDER.index(c.payer_responsibility), default=None)


async def record_forwarded(ctx: HandlerContext, claim, event: ClaimPaymentPosted, reason: str) -> None:
    """The payer passed the claim on (crossover) or says it is not theirs: on the timeline, announced."""
    crossover = event.crossover
    [envelope] = await ctx.emit(ClaimForwardedByPayer(
        tenant_id=ctx.tenant_id, claim_id=claim.id, payer_id=event.payer_id, reason=reason,
        claim_status_code=event.claim_status_code, remittance_id=event.remittance_id,
        forwarded_to_payer_id=crossover.payer_id if crossover else None,
        forwarded_to_payer_name=crossover.payer_name if crossover else None))
    await note_on_timeline(ctx, claim.id, "forwarded_by_payer", {
        "reason": reason, "payer_id": event.payer_id, "claim_status_code": event.claim_status_code,
        "forwarded_to_payer_id": crossover.payer_id if crossover else None,
        "forwarded_to_payer_name": crossover.payer_name if crossover else None,
        "remittance_id": str(event.remittance_id)}, event_id=envelope.id)


async def bill_next_payer(ctx: HandlerContext, claim, event: ClaimPaymentPosted) -> None:
    """After the claim's payer adjudicated it: a crossover is recorded; otherwise the next payer in
    the order of benefits gets (or has updated) its claim of the same lines."""
    if forwarded_by_payer(event):
        await record_forwarded(ctx, claim, event, "crossover")
        return
    encounter = EncounterIn.model_validate(claim.encounter_document)
    if event.payer_id != claim.payer_id and event.payer_id in {c.payer_id for c in encounter.other_coverages}:
        return  # another payer of the encounter decided on this claim (it was forwarded to it)
    following = next_coverage(encounter, claim.payer_responsibility)
    if following is None:
        return
    if event.outcome == "paid" and event.patient_responsibility_amount == 0:
        await note_on_timeline(ctx, claim.id, "next_payer_not_billed", {
            "reason": "paid in full, nothing left for the patient or a next payer",
            "next_payer_id": following.payer_id})
        return
    record = adjudication_record(claim, event, ctx.envelope.time.date())
    # The caller locked it already, with the adjudicated claim (their encounter's claims, in id order).
    existing = await lock_claims_for(ctx, sa.select(claims).where(
        claims.c.tenant_id == ctx.tenant_id, claims.c.encounter_id == claim.encounter_id,
        claims.c.payer_responsibility == following.payer_responsibility, claims.c.split_part == claim.split_part))
    if not existing:
        await _create_next_claim(ctx, claim, encounter, following, record)
    else:
        await _update_next_claim(ctx, existing[0], record)


async def _create_next_claim(ctx: HandlerContext, claim, encounter: EncounterIn, following: CoverageIn,
                             record: dict) -> None:
    payer = (await ctx.conn.execute(sa.select(payers).where(
        payers.c.tenant_id == ctx.tenant_id, payers.c.payer_id == following.payer_id))).first()
    if payer is None:
        raise PermanentEventError("the next payer of the encounter is not in the payer registry")
    others = [c for c in (encounter.coverage, *encounter.other_coverages) if c is not following]
    for_next = encounter.model_copy(update={
        "coverage": following,
        "other_coverages": sorted(others, key=lambda c: PAYER_RESPONSIBILITY_ORDER.index(c.payer_responsibility))})
    adjudications = [*claim.prior_payer_adjudications, record]
    created = await create_claim(ctx.conn, ctx.tenant_id, for_next, payer, split_part=claim.split_part,
                                 prior_claim_id=claim.id, prior_adjudications=adjudications,
                                 received_kind="created_for_next_payer",
                                 received_detail={"prior_claim_id": str(claim.id), "prior_payer_id": claim.payer_id})
    if created is None:
        return
    [envelope] = await ctx.emit(NextPayerClaimCreated(
        tenant_id=ctx.tenant_id, claim_id=created.id, prior_claim_id=claim.id, encounter_id=claim.encounter_id,
        payer_id=following.payer_id, payer_responsibility=following.payer_responsibility,
        prior_payer_id=claim.payer_id, total_charge=created.total_charge,
        prior_paid_amount=Decimal(record["paid_amount"]),
        prior_patient_responsibility_amount=Decimal(record["patient_responsibility_amount"])))
    await note_on_timeline(ctx, claim.id, "next_payer_billed", {
        "claim_id": str(created.id), "payer_id": following.payer_id,
        "payer_responsibility": following.payer_responsibility}, event_id=envelope.id)


async def _update_next_claim(ctx: HandlerContext, next_claim, record: dict) -> None:
    """The previous payer decided again (after a reversal, or a further payment): the next payer's
    claim carries the latest decision if it has not gone out; otherwise the timeline says so."""
    adjudications = [a for a in next_claim.prior_payer_adjudications
                     if (a["payer_id"], a["payer_responsibility"]) != (record["payer_id"],
                                                                       record["payer_responsibility"])]
    adjudications.append(record)
    adjudications.sort(key=lambda a: PAYER_RESPONSIBILITY_ORDER.index(a["payer_responsibility"]))
    if ClaimStatus(next_claim.status) in EDITABLE_STATUSES:
        encounter = EncounterIn.model_validate(next_claim.encounter_document)
        await new_version(ctx.conn, ctx.tenant_id, next_claim, encounter, frequency_code=next_claim.frequency_code,
                          kind="prior_payer_decision_updated", prior_adjudications=adjudications,
                          detail={"prior_payer_id": record["payer_id"], "remittance_id": record["remittance_id"]})
        return
    await note_on_timeline(ctx, next_claim.id, "prior_payer_decision_changed", {
        "prior_payer_id": record["payer_id"], "remittance_id": record["remittance_id"],
        "paid_amount": record["paid_amount"],
        "action": "the claim went out with the earlier decision: replace it to send the corrected one"})
