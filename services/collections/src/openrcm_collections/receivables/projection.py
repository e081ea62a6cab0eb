"""The insurance receivables, built from the claims and remittance events.

Each handler runs in the consumer's transaction (inbox dedup included), so an event applied twice
is a no-op. Claim facts go to `receivable_claims`; every change of a receivable is a new dated row
in `receivable_movements` (never an update of an amount), dated by the event's time (ce_time).

The claims and remittance topics are consumed independently, so a claim's remittance can be
applied before its ClaimSubmitted: the claim row is then opened from the remittance (patient,
payer) and its reporting facts (service date, first billed date, provider, financial class) are
filled in on its movements when the submission arrives; amounts are never edited.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.receivable_tables import receivable_claims, receivable_movements
from openrcm_collections.receivables import movements as rules, summaries
from openrcm_shared.contracts.claims import (
    ClaimFlaggedForFollowUp, ClaimHeld, ClaimRejected, ClaimStatusChanged, ClaimStatusInquiryAnswered, ClaimSubmitted,
    NextPayerClaimCreated,
)
from openrcm_shared.contracts.denials import DenialTransferredToPatient, DenialWrittenOff
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.money import ZERO

LATER_PAYERS = ("S", "T")
ACCEPTED = ("accepted_by_clearinghouse", "accepted_by_payer")


def _claim_key(tenant_id: str, claim_id):
    return sa.and_(receivable_claims.c.tenant_id == tenant_id, receivable_claims.c.claim_id == claim_id)


async def _locked_claim(ctx: HandlerContext, claim_id):
    return (await ctx.conn.execute(sa.select(receivable_claims).where(_claim_key(ctx.tenant_id, claim_id))
                                   .with_for_update())).first()


async def _open_claim(ctx: HandlerContext, claim_id, **facts):
    """The claim's row, locked; opened with `facts` if it is not there yet."""
    await ctx.conn.execute(pg_insert(receivable_claims).values(
        tenant_id=ctx.tenant_id, claim_id=claim_id, updated_at=ctx.envelope.time, **facts)
        .on_conflict_do_nothing(index_elements=["tenant_id", "claim_id"]))
    return await _locked_claim(ctx, claim_id)


def _facts(claim) -> dict:
    return {"payer_id": claim.payer_id or "", "patient_id": claim.patient_id or "", "service_date": claim.service_date,
            "first_billed_on": claim.first_billed_on, "financial_class": claim.financial_class,
            "provider_npi": _provider(claim)}


async def _record(ctx: HandlerContext, claim, movement: rules.Movement, *, remittance_id=None, charge=None) -> None:
    if movement.is_nothing():
        return
    occurred_at: datetime = ctx.envelope.time
    facts = _facts(claim)
    await ctx.conn.execute(receivable_movements.insert().values(
        tenant_id=ctx.tenant_id, claim_id=claim.claim_id, movement_kind=movement.kind,
        occurred_on=occurred_at.date(), occurred_at=occurred_at, amount=movement.amount, **movement.components(),
        remittance_id=remittance_id, source_event_id=ctx.envelope.id, **facts))
    await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, claim.claim_id))
                           .values(balance=receivable_claims.c.balance + movement.amount))
    await summaries.add_movement(ctx.conn, ctx.tenant_id, facts, occurred_at.date(), movement, charge)


def _provider(claim) -> str | None:
    return claim.rendering_provider_npi or claim.billing_provider_npi


async def balance_of(conn, tenant_id: str, claim_id, *, kinds: tuple[str, ...] | None = None):
    """The claim's receivable now (or the sum of the movements of `kinds`)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(receivable_movements.c.amount), ZERO)).where(
        receivable_movements.c.tenant_id == tenant_id, receivable_movements.c.claim_id == claim_id)
    if kinds is not None:
        query = query.where(receivable_movements.c.movement_kind.in_(kinds))
    return (await conn.execute(query)).scalar_one()


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """The claim (or a corrected version of it) went to the payer: billed, or billed the difference."""
    billed_on = event.submitted_at.date()
    claim = await _open_claim(ctx, event.claim_id)
    first = claim.first_billed_on is None
    previous_billed = claim.billed_amount
    facts = {"patient_id": event.patient_id, "payer_id": event.payer_id, "encounter_id": event.encounter_id,
             "payer_responsibility": event.payer_responsibility or claim.payer_responsibility or "P",
             "service_date": event.service_date_from, "first_billed_on": claim.first_billed_on or billed_on,
             "billing_provider_npi": event.billing_provider_npi or claim.billing_provider_npi,
             "rendering_provider_npi": event.rendering_provider_npi or claim.rendering_provider_npi,
             "financial_class": event.claim_filing_indicator or claim.financial_class}
    claim = (await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id))
                                    .values(**facts, billed_amount=event.total_charge, status="submitted",
                                            status_changed_at=event.submitted_at,
                                            submission_count=receivable_claims.c.submission_count + 1,
                                            updated_at=ctx.envelope.time)
                                    .returning(*receivable_claims.c))).first()
    if first:
        await _fill_in_facts(ctx, claim)
    await _record(ctx, claim, rules.billing(previous_billed, event.total_charge, first))
    if first:
        await _take_off_prior_payer_share(ctx, claim)


async def _fill_in_facts(ctx: HandlerContext, claim) -> None:
    """Movements recorded before the claim's submission was seen get its reporting facts (and the
    aging cells they counted in are corrected)."""
    m = receivable_movements.c
    earlier = (await ctx.conn.execute(
        receivable_movements.update().where(m.tenant_id == ctx.tenant_id, m.claim_id == claim.claim_id,
                                            m.first_billed_on.is_(None))
        .values(**_facts(claim)).returning(m.occurred_on, m.amount))).all()
    # Before the fill-in they counted under the remittance's payer with no dates, class or provider.
    before = {"payer_id": claim.payer_id or ""}
    for occurred_on, amount in earlier:
        await summaries.move_between_cells(ctx.conn, ctx.tenant_id, before, _facts(claim), occurred_on, amount)


async def _take_off_prior_payer_share(ctx: HandlerContext, claim) -> None:
    if claim.payer_responsibility not in LATER_PAYERS or claim.prior_patient_responsibility is None:
        return
    if claim.first_billed_on is None:
        return
    if await balance_of(ctx.conn, ctx.tenant_id, claim.claim_id, kinds=("prior_payer",)) != ZERO:
        return
    await _record(ctx, claim, rules.prior_payer_share(claim.billed_amount, claim.prior_patient_responsibility))


async def on_next_payer_claim_created(ctx: HandlerContext, event: NextPayerClaimCreated) -> None:
    """A secondary or tertiary claim exists: remember what the previous payer left the patient."""
    prior = (await ctx.conn.execute(sa.select(receivable_claims.c.patient_id).where(
        _claim_key(ctx.tenant_id, event.prior_claim_id)))).first()
    claim = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id,
                              patient_id=prior.patient_id if prior else None)
    claim = (await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id))
                                    .values(prior_claim_id=event.prior_claim_id, encounter_id=event.encounter_id,
                                            payer_responsibility=event.payer_responsibility,
                                            prior_patient_responsibility=event.prior_patient_responsibility_amount,
                                            updated_at=ctx.envelope.time)
                                    .returning(*receivable_claims.c))).first()
    await _take_off_prior_payer_share(ctx, claim)


async def _claim_for_outcome(ctx: HandlerContext, event):
    return await _open_claim(ctx, event.claim_id, patient_id=event.patient_id, payer_id=event.payer_id)


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    claim = await _claim_for_outcome(ctx, event)
    later_payer = claim.payer_responsibility in LATER_PAYERS
    await _record(ctx, claim, rules.adjudication(event, later_payer=later_payer), remittance_id=event.remittance_id,
                  charge=event.charge_amount)
    await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id)).values(
        first_adjudicated_on=sa.func.coalesce(receivable_claims.c.first_adjudicated_on, ctx.envelope.time.date()),
        first_outcome=sa.func.coalesce(receivable_claims.c.first_outcome, event.outcome),
        last_remitted_at=ctx.envelope.time, updated_at=ctx.envelope.time))


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    claim = await _claim_for_outcome(ctx, event)
    await _record(ctx, claim, rules.denial_held_open(event), remittance_id=event.remittance_id)


_DENIAL_KINDS = ("denial_held_open", "denial_released")


async def _denials_held_open(ctx: HandlerContext, claim_id) -> rules.Movement:
    m = receivable_movements.c
    names = list(rules.Movement("sum").components())
    summed = (await ctx.conn.execute(sa.select(*(sa.func.coalesce(sa.func.sum(m[name]), ZERO) for name in names))
                                     .where(m.tenant_id == ctx.tenant_id, m.claim_id == claim_id,
                                            m.movement_kind.in_(_DENIAL_KINDS)))).one()
    return rules.Movement("held_open", **dict(zip(names, summed)))


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    claim = await _claim_for_outcome(ctx, event)
    await _record(ctx, claim, rules.reversal(event, later_payer=claim.payer_responsibility in LATER_PAYERS),
                  remittance_id=event.remittance_id)
    await _record(ctx, claim, rules.denial_released(await _denials_held_open(ctx, claim.claim_id)),
                  remittance_id=event.remittance_id)


async def on_claim_status_changed(ctx: HandlerContext, event: ClaimStatusChanged) -> None:
    """Where the claim is (for the stuck-claim worklist); a voided claim is no longer receivable."""
    claim = await _locked_claim(ctx, event.claim_id)
    if claim is None:
        return  # not billed yet: nothing receivable, nothing to follow up
    values = {"status": event.to_status, "status_changed_at": ctx.envelope.time, "updated_at": ctx.envelope.time}
    if event.to_status in ACCEPTED:
        values["accepted_at"] = sa.func.coalesce(receivable_claims.c.accepted_at, ctx.envelope.time)
    await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id)).values(values))
    if event.to_status == "voided":
        left = await balance_of(ctx.conn, ctx.tenant_id, event.claim_id)
        await _record(ctx, claim, rules.Movement("voided", billed=-left))


async def _count(ctx: HandlerContext, claim_id, column: str) -> None:
    await _open_claim(ctx, claim_id)
    await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, claim_id)).values(
        {column: receivable_claims.c[column] + 1, "updated_at": ctx.envelope.time}))


async def on_claim_rejected(ctx: HandlerContext, event: ClaimRejected) -> None:
    await _count(ctx, event.claim_id, "rejection_count")


async def on_claim_held(ctx: HandlerContext, event: ClaimHeld) -> None:
    await _count(ctx, event.claim_id, "hold_count")


async def on_claim_flagged_for_follow_up(ctx: HandlerContext, event: ClaimFlaggedForFollowUp) -> None:
    claim = await _locked_claim(ctx, event.claim_id)
    if claim is not None:
        await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id)).values(
            unacknowledged_since=event.submitted_at, updated_at=ctx.envelope.time))


async def on_claim_status_inquiry_answered(ctx: HandlerContext, event: ClaimStatusInquiryAnswered) -> None:
    """The payer's last answer to a 276 (STC01 category and status) shows on the worklist."""
    if await _locked_claim(ctx, event.claim_id) is None:
        return
    await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id)).values(
        inquiry_category_code=event.category_code, inquiry_status_code=event.status_code,
        inquiry_answered_at=event.answered_at, updated_at=ctx.envelope.time))


async def on_denial_written_off(ctx: HandlerContext, event: DenialWrittenOff) -> None:
    """The denials service wrote the denied amount off (approved above the practice's threshold)."""
    claim = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id)
    await _record(ctx, claim, rules.denial_written_off(event.amount))


async def on_denial_transferred_to_patient(ctx: HandlerContext, event: DenialTransferredToPatient) -> None:
    """The denied amount moved to the patient's account (the account's handler posts it there)."""
    claim = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id, patient_id=event.patient_id)
    await _record(ctx, claim, rules.denial_transferred_to_patient(event.amount))
