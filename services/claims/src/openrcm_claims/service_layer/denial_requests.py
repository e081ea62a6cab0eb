"""What the denials service asks of claims: a corrected claim (frequency 7 replacing the one the payer
has, REF*F8 its payer claim control number, through the same `replace_claim` as the API's
POST /v1/claims/{id}/replace), or billing the next payer for a coordination-of-benefits denial.

A request that cannot be carried out (the payer takes no replacements, the corrected encounter does
not validate) is written on the claim's timeline with the reason, for a person to act on; it is not
retried and not dead-lettered, because nothing about the event is wrong."""

from __future__ import annotations

import copy

import sqlalchemy as sa
from pydantic import ValidationError

from openrcm_claims.adapters.tables import claims
from openrcm_claims.entrypoints.schemas import EncounterIn
from openrcm_claims.service_layer.claim_locks import lock_claims_for
from openrcm_claims.service_layer.coordination_of_benefits import next_coverage
from openrcm_claims.service_layer.corrections import locked_claim, replace_claim
from openrcm_claims.service_layer.transitions import note_on_timeline
from openrcm_shared.contracts.denials import CorrectedClaimRequested, LineCorrection, SecondaryBillingRequested
from openrcm_shared.http.problems import Problem
from openrcm_shared.messaging.consumer import HandlerContext


def corrected_document(document: dict, lines: list[LineCorrection], diagnosis_codes: list[str] | None) -> dict:
    """The billed encounter with the corrections applied (claim line n is the encounter's n-th line)."""
    corrected = copy.deepcopy(document)
    for correction in lines:
        if not 1 <= correction.line_number <= len(corrected["lines"]):
            raise ValueError(f"line {correction.line_number} is not on the claim")
        line = corrected["lines"][correction.line_number - 1]
        changes = correction.model_dump(exclude_none=True, exclude={"line_number"}, mode="json")
        line.update(changes)
    if diagnosis_codes is not None:
        corrected["diagnosis_codes"] = list(diagnosis_codes)
    return corrected


async def on_corrected_claim_requested(ctx: HandlerContext, event: CorrectedClaimRequested) -> None:
    try:
        claim = await locked_claim(ctx.conn, ctx.tenant_id, event.claim_id, nowait=ctx.nowait_locks)
        encounter = EncounterIn.model_validate(corrected_document(claim.encounter_document, event.lines,
                                                                  event.diagnosis_codes))
        await replace_claim(ctx.conn, ctx.tenant_id, event.claim_id, encounter)
    except (Problem, ValidationError, ValueError) as refused:
        await _refused(ctx, event, refused)
        return
    await note_on_timeline(ctx, event.claim_id, "correction_requested_by_denials", {
        "case_id": str(event.case_id), "request_id": str(event.request_id), "requested_by": event.requested_by})


async def _refused(ctx: HandlerContext, event: CorrectedClaimRequested, refused: Exception) -> None:
    if isinstance(refused, Problem) and refused.status == 404:
        return  # not this practice's claim: nothing to note it on
    reason = refused.detail or refused.title if isinstance(refused, Problem) else (
        "the corrected encounter is invalid" if isinstance(refused, ValidationError) else str(refused))
    await note_on_timeline(ctx, event.claim_id, "correction_refused", {
        "case_id": str(event.case_id), "request_id": str(event.request_id), "reason": reason})


async def on_secondary_billing_requested(ctx: HandlerContext, event: SecondaryBillingRequested) -> None:
    """The next payer is billed after every adjudication already (coordination_of_benefits); here the
    timeline says whether that path exists: the next payer's claim, or that the encounter names no
    further coverage (register it and correct the encounter)."""
    # Locked before its timeline entry is written: the entry's foreign-key check would otherwise
    # wait for a claim another transaction holds (see claim_locks).
    locked = await lock_claims_for(ctx, sa.select(claims).where(claims.c.tenant_id == ctx.tenant_id,
                                                                claims.c.id == event.claim_id))
    if not locked:
        return
    claim = locked[0]
    following = next_coverage(EncounterIn.model_validate(claim.encounter_document), claim.payer_responsibility)
    next_claim_id = None
    if following is not None:
        next_claim_id = (await ctx.conn.execute(sa.select(claims.c.id).where(
            claims.c.tenant_id == ctx.tenant_id, claims.c.prior_claim_id == claim.id))).scalar()
    await note_on_timeline(ctx, claim.id, "secondary_billing_requested", {
        "case_id": str(event.case_id), "requested_by": event.requested_by,
        "next_payer_id": following.payer_id if following else None,
        "next_payer_claim_id": str(next_claim_id) if next_claim_id else None,
        "action": None if following else "the encounter names no further coverage: add it and correct the claim"})
