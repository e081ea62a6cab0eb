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

from collections import namedtuple
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
from openrcm_shared.driver_sql import DriverStatement, execute
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.money import ZERO

LATER_PAYERS = ("S", "T")
ACCEPTED = ("accepted_by_clearinghouse", "accepted_by_payer")


def _claim_key(tenant_id: str, claim_id):
    return sa.and_(receivable_claims.c.tenant_id == tenant_id, receivable_claims.c.claim_id == claim_id)


# The statements of the hot paths (a claim billed, a claim adjudicated), built once and run with
# parameters: building them per event (values, then the cache key) was most of the consumer's CPU.
# Bind names are prefixed: a column's own name is reserved in an UPDATE's SET.
_c = receivable_claims.c
_CLAIM_KEY = sa.and_(_c.tenant_id == sa.bindparam("k_tenant_id"), _c.claim_id == sa.bindparam("k_claim_id"))
_CREATE_CLAIM = pg_insert(receivable_claims).values(
    tenant_id=sa.bindparam("k_tenant_id"), claim_id=sa.bindparam("k_claim_id"),
    updated_at=sa.bindparam("v_updated_at"), payer_id=sa.bindparam("v_payer_id"),
    patient_id=sa.bindparam("v_patient_id"),
).on_conflict_do_nothing(index_elements=["tenant_id", "claim_id"]).returning(*_c)
_LOCK_CLAIM = sa.select(receivable_claims).where(_CLAIM_KEY).with_for_update()
_SUBMITTED_FACTS = ("patient_id", "payer_id", "encounter_id", "payer_responsibility", "service_date",
                    "first_billed_on", "billing_provider_npi", "rendering_provider_npi", "financial_class")
# The billing movement moves the balance by the charge less what was billed before (rules.billing).
_SUBMIT_CLAIM = receivable_claims.update().where(_CLAIM_KEY).values(
    {**{name: sa.bindparam(f"v_{name}", type_=_c[name].type) for name in _SUBMITTED_FACTS},
     "billed_amount": sa.bindparam("v_total_charge", type_=_c.billed_amount.type),
     "balance": _c.balance + sa.bindparam("v_total_charge", type_=_c.billed_amount.type) - _c.billed_amount,
     "status": "submitted", "status_changed_at": sa.bindparam("v_submitted_at", type_=_c.status_changed_at.type),
     "submission_count": _c.submission_count + 1, "updated_at": sa.bindparam("v_updated_at")}
).returning(*_c)
# A claim billed for the first time (the usual case) is created billed, in one statement: what
# _CREATE_CLAIM then _SUBMIT_CLAIM leave on a new row (balance and billed amount the charge, one
# submission). Nothing is written if the row exists; the two-step path takes it then. Nothing is
# read back either: a row it created holds the statement's values (`_billed_claim`).
_CREATE_SUBMITTED_CLAIM = pg_insert(receivable_claims).values(
    {"tenant_id": sa.bindparam("k_tenant_id"), "claim_id": sa.bindparam("k_claim_id"),
     **{name: sa.bindparam(f"v_{name}", type_=_c[name].type) for name in _SUBMITTED_FACTS},
     "billed_amount": sa.bindparam("v_total_charge", type_=_c.billed_amount.type),
     "balance": sa.bindparam("v_total_charge", type_=_c.billed_amount.type),
     "status": sa.literal_column("'submitted'"),
     "status_changed_at": sa.bindparam("v_submitted_at", type_=_c.status_changed_at.type),
     "submission_count": sa.literal_column("1"), "updated_at": sa.bindparam("v_updated_at", type_=_c.updated_at.type)}
).on_conflict_do_nothing(index_elements=["tenant_id", "claim_id"])


# Run on the asyncpg connection under the consumer's transaction, one per ClaimSubmitted: through
# SQLAlchemy's execution layer (cache lookup, parameter processing, the row read back and typed)
# it was about a fifth of the consumer's Python CPU per claim (bench.consumer_apply, docs/benchmarks.md).
_CREATE_SUBMITTED_CLAIM_ON_DRIVER = DriverStatement(_CREATE_SUBMITTED_CLAIM)
# A receivable_claims row read by column name, as a SQLAlchemy Row is (`_billed_claim`); NULL unless given.
_ClaimRow = namedtuple("_ClaimRow", receivable_claims.c.keys(), defaults=(None,) * len(receivable_claims.c))
_ADJUDICATE_CLAIM = receivable_claims.update().where(_CLAIM_KEY).values(
    balance=_c.balance + sa.bindparam("v_moved", type_=_c.balance.type),
    first_adjudicated_on=sa.func.coalesce(_c.first_adjudicated_on, sa.bindparam("v_on", type_=sa.Date)),
    first_outcome=sa.func.coalesce(_c.first_outcome, sa.bindparam("v_outcome", type_=sa.Text)),
    last_remitted_at=sa.bindparam("v_updated_at"), updated_at=sa.bindparam("v_updated_at"))
_MOVE_BALANCE = receivable_claims.update().where(_CLAIM_KEY).values(
    balance=_c.balance + sa.bindparam("v_moved", type_=_c.balance.type))
_MOVEMENT_COLUMNS = ("tenant_id", "claim_id", "movement_kind", "occurred_on", "occurred_at", "amount",
                     *(name for name in rules.Movement("columns").components()), "remittance_id", "source_event_id",
                     "payer_id", "patient_id", "service_date", "first_billed_on", "financial_class", "provider_npi")
# Appended at the commit of a consumer run (one executemany); read back only after write_pending.
_INSERT_MOVEMENT = receivable_movements.insert().values(
    {name: sa.bindparam(name, type_=receivable_movements.c[name].type) for name in _MOVEMENT_COLUMNS})


async def _locked_claim(ctx: HandlerContext, claim_id):
    return (await ctx.conn.execute(_LOCK_CLAIM, {"k_tenant_id": ctx.tenant_id, "k_claim_id": claim_id})).first()


async def _open_claim(ctx: HandlerContext, claim_id, *, payer_id=None, patient_id=None, likely_new=False):
    """The claim's row, locked, and whether this call created it (with `payer_id`, `patient_id`).
    `likely_new` (a submission) tries the insert first, else (an outcome) the lookup."""
    if not likely_new and (claim := await _locked_claim(ctx, claim_id)) is not None:
        return claim, False
    created = (await ctx.conn.execute(_CREATE_CLAIM, {
        "k_tenant_id": ctx.tenant_id, "k_claim_id": claim_id, "v_updated_at": ctx.envelope.time,
        "v_payer_id": payer_id, "v_patient_id": patient_id})).first()
    if created is not None:
        return created, True
    return await _locked_claim(ctx, claim_id), False


def _facts(claim) -> dict:
    return {"payer_id": claim.payer_id or "", "patient_id": claim.patient_id or "", "service_date": claim.service_date,
            "first_billed_on": claim.first_billed_on, "financial_class": claim.financial_class,
            "provider_npi": _provider(claim)}


async def _record(ctx: HandlerContext, claim, movement: rules.Movement, *, remittance_id=None, charge=None,
                  balance_moved: bool = False) -> None:
    """The movement, its cells and KPI sums; the claim's balance too unless the caller's own update
    of the claim moved it (`balance_moved`)."""
    if movement.is_nothing():
        return
    occurred_at: datetime = ctx.envelope.time
    facts = _facts(claim)
    await ctx.write_at_commit(_INSERT_MOVEMENT, {
        "tenant_id": ctx.tenant_id, "claim_id": claim.claim_id, "movement_kind": movement.kind,
        "occurred_on": occurred_at.date(), "occurred_at": occurred_at, "amount": movement.amount,
        **movement.components(), "remittance_id": remittance_id, "source_event_id": ctx.envelope.id, **facts})
    if not balance_moved:
        await ctx.conn.execute(_MOVE_BALANCE, {"k_tenant_id": ctx.tenant_id, "k_claim_id": claim.claim_id,
                                               "v_moved": movement.amount})
    await summaries.add_movement(ctx, ctx.tenant_id, facts, occurred_at.date(), movement, charge)


def _provider(claim) -> str | None:
    return claim.rendering_provider_npi or claim.billing_provider_npi


async def balance_of(conn, tenant_id: str, claim_id, *, kinds: tuple[str, ...] | None = None):
    """The claim's receivable now (or the sum of the movements of `kinds`); in a consumer run, call
    `_movements_written` first."""
    query = sa.select(sa.func.coalesce(sa.func.sum(receivable_movements.c.amount), ZERO)).where(
        receivable_movements.c.tenant_id == tenant_id, receivable_movements.c.claim_id == claim_id)
    if kinds is not None:
        query = query.where(receivable_movements.c.movement_kind.in_(kinds))
    return (await conn.execute(query)).scalar_one()


async def _movements_written(ctx: HandlerContext) -> None:
    """The run's movements of this practice so far, written before they are read."""
    await ctx.write_pending(_INSERT_MOVEMENT)


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """The claim (or a corrected version of it) went to the payer: billed, or billed the difference."""
    submission = _submission(ctx, event, None)
    if await _billed_new_claim(ctx, submission):  # the row is new: billed for the first time, nothing before
        claim, created, first, previous_billed = _billed_claim(submission), True, True, ZERO
    else:
        claim, created = await _locked_claim(ctx, event.claim_id), False
        first, previous_billed = claim.first_billed_on is None, claim.billed_amount
        claim = (await ctx.conn.execute(_SUBMIT_CLAIM, _submission(ctx, event, claim))).first()
    if first and not created:  # a claim created just now has no movements to fill in
        await _fill_in_facts(ctx, claim)
    await _record(ctx, claim, rules.billing(previous_billed, event.total_charge, first), balance_moved=True)
    if first:
        await _take_off_prior_payer_share(ctx, claim)


async def _billed_new_claim(ctx: HandlerContext, submission: dict) -> bool:
    """Whether `submission` created the claim's row (False: the row exists, and nothing was written)."""
    status = await execute(ctx.conn, _CREATE_SUBMITTED_CLAIM_ON_DRIVER, submission)
    return status == "INSERT 0 1"  # the command tag: one row inserted


def _billed_claim(submission: dict) -> _ClaimRow:
    """The row `_CREATE_SUBMITTED_CLAIM` made of `submission`, as reading it back would give it."""
    charge = submission["v_total_charge"]
    return _ClaimRow(
        tenant_id=submission["k_tenant_id"], claim_id=submission["k_claim_id"],
        **{name: submission[f"v_{name}"] for name in _SUBMITTED_FACTS},
        billed_amount=charge, balance=charge, submission_count=1, rejection_count=0, hold_count=0,
        status="submitted", status_changed_at=submission["v_submitted_at"], updated_at=submission["v_updated_at"])


def _submission(ctx: HandlerContext, event: ClaimSubmitted, claim) -> dict:
    """The parameters of a submission's statements: the event's facts, else what the claim's row
    (None: a new one) has."""
    def kept(name: str):
        return getattr(claim, name) if claim is not None else None

    return {
        "k_tenant_id": ctx.tenant_id, "k_claim_id": event.claim_id, "v_patient_id": event.patient_id,
        "v_payer_id": event.payer_id, "v_encounter_id": event.encounter_id,
        "v_payer_responsibility": event.payer_responsibility or kept("payer_responsibility") or "P",
        "v_service_date": event.service_date_from,
        "v_first_billed_on": kept("first_billed_on") or event.submitted_at.date(),
        "v_billing_provider_npi": event.billing_provider_npi or kept("billing_provider_npi"),
        "v_rendering_provider_npi": event.rendering_provider_npi or kept("rendering_provider_npi"),
        "v_financial_class": event.claim_filing_indicator or kept("financial_class"),
        "v_total_charge": event.total_charge, "v_submitted_at": event.submitted_at,
        "v_updated_at": ctx.envelope.time}


async def _fill_in_facts(ctx: HandlerContext, claim) -> None:
    """Movements recorded before the claim's submission was seen get its reporting facts (and the
    aging cells they counted in are corrected)."""
    await _movements_written(ctx)
    m = receivable_movements.c
    earlier = (await ctx.conn.execute(
        receivable_movements.update().where(m.tenant_id == ctx.tenant_id, m.claim_id == claim.claim_id,
                                            m.first_billed_on.is_(None))
        .values(**_facts(claim)).returning(m.occurred_on, m.amount))).all()
    # Before the fill-in they counted under the remittance's payer with no dates, class or provider.
    before = {"payer_id": claim.payer_id or ""}
    for occurred_on, amount in earlier:
        await summaries.move_between_cells(ctx, ctx.tenant_id, before, _facts(claim), occurred_on, amount)


async def _take_off_prior_payer_share(ctx: HandlerContext, claim) -> None:
    if claim.payer_responsibility not in LATER_PAYERS or claim.prior_patient_responsibility is None:
        return
    if claim.first_billed_on is None:
        return
    await _movements_written(ctx)
    if await balance_of(ctx.conn, ctx.tenant_id, claim.claim_id, kinds=("prior_payer",)) != ZERO:
        return
    await _record(ctx, claim, rules.prior_payer_share(claim.billed_amount, claim.prior_patient_responsibility))


async def on_next_payer_claim_created(ctx: HandlerContext, event: NextPayerClaimCreated) -> None:
    """A secondary or tertiary claim exists: remember what the previous payer left the patient."""
    prior = (await ctx.conn.execute(sa.select(receivable_claims.c.patient_id).where(
        _claim_key(ctx.tenant_id, event.prior_claim_id)))).first()
    claim, _ = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id,
                                 patient_id=prior.patient_id if prior else None)
    claim = (await ctx.conn.execute(receivable_claims.update().where(_claim_key(ctx.tenant_id, event.claim_id))
                                    .values(prior_claim_id=event.prior_claim_id, encounter_id=event.encounter_id,
                                            payer_responsibility=event.payer_responsibility,
                                            prior_patient_responsibility=event.prior_patient_responsibility_amount,
                                            updated_at=ctx.envelope.time)
                                    .returning(*receivable_claims.c))).first()
    await _take_off_prior_payer_share(ctx, claim)


async def _claim_for_outcome(ctx: HandlerContext, event):
    claim, _ = await _open_claim(ctx, event.claim_id, patient_id=event.patient_id, payer_id=event.payer_id)
    return claim


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    claim = await _claim_for_outcome(ctx, event)
    movement = rules.adjudication(event, later_payer=claim.payer_responsibility in LATER_PAYERS)
    await _record(ctx, claim, movement, remittance_id=event.remittance_id, charge=event.charge_amount,
                  balance_moved=True)
    await ctx.conn.execute(_ADJUDICATE_CLAIM, {
        "k_tenant_id": ctx.tenant_id, "k_claim_id": event.claim_id, "v_moved": movement.amount,
        "v_on": ctx.envelope.time.date(), "v_outcome": event.outcome, "v_updated_at": ctx.envelope.time})


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    claim = await _claim_for_outcome(ctx, event)
    await _record(ctx, claim, rules.denial_held_open(event), remittance_id=event.remittance_id)


_DENIAL_KINDS = ("denial_held_open", "denial_released")


async def _denials_held_open(ctx: HandlerContext, claim_id) -> rules.Movement:
    await _movements_written(ctx)
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
        await _movements_written(ctx)
        left = await balance_of(ctx.conn, ctx.tenant_id, event.claim_id)
        await _record(ctx, claim, rules.Movement("voided", billed=-left))


async def _count(ctx: HandlerContext, claim_id, column: str) -> None:
    await _open_claim(ctx, claim_id, likely_new=True)
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
    claim, _ = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id)
    await _record(ctx, claim, rules.denial_written_off(event.amount))


async def on_denial_transferred_to_patient(ctx: HandlerContext, event: DenialTransferredToPatient) -> None:
    """The denied amount moved to the patient's account (the account's handler posts it there)."""
    claim, _ = await _open_claim(ctx, event.claim_id, payer_id=event.payer_id, patient_id=event.patient_id)
    await _record(ctx, claim, rules.denial_transferred_to_patient(event.amount))
