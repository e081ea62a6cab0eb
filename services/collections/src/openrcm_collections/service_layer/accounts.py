"""Payer decisions land on the patient's account: the patient owes, for each bill (a primary claim and
the claims made from it for the next payers), what the last payer that adjudicated it says; payer
payments beyond what the provider may collect become payer credit balances (domain.patient_share)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.tables import (
    bill_claims, ledger_entries, patient_accounts, payer_adjudications, payer_credit_balances,
)
from openrcm_collections.domain.patient_share import (
    ASSIGNED, DENIAL_TRANSFER, PAYER_REVERSAL, REPLACED, SHARE_KINDS, Adjudication, ShareLine, patient_share_target,
    payer_overpayments, share_changes,
)
from openrcm_collections.service_layer.ledger import EntryDraft, lock_account, post_to_account
from openrcm_shared.contracts.claims import ClaimSubmitted, NextPayerClaimCreated
from openrcm_shared.contracts.collections import PatientBalanceChanged, PayerCreditBalanceChanged
from openrcm_shared.contracts.denials import DenialTransferredToPatient
from openrcm_shared.contracts.remittance import ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext, MergedUpsert
from openrcm_shared.money import ZERO

# PatientBalanceChanged.entry_kind is the coarse kind its consumers were written for; `movement` names it exactly.
_COARSE_KIND = {ASSIGNED: "patient_responsibility", REPLACED: "patient_responsibility",
                PAYER_REVERSAL: "payer_reversal", DENIAL_TRANSFER: "patient_responsibility"}
# The share kind a statement explains a transferred denial by ("your plan denied this service ...").
PLAN_DENIED = "plan_denied"


# ------------------------------------------------------------------------------------- claims feed


# What a submission (or its corrected version) tells of the claim; a claim already linked to its bill
# keeps its primary_claim_id and first recorded_at.
_SUBMITTED_FACTS = ("patient_id", "encounter_id", "payer_id", "payer_responsibility", "total_charge",
                    "service_date_from", "service_date_to", "lines", "provider_name")
_inserted = pg_insert(bill_claims)
# Built once, run with parameters: building the upsert per event (its values, then its cache key)
# was a large share of the consumer's CPU for each ClaimSubmitted (bench/collections_consumer.py).
_RECORD_SUBMITTED_CLAIM = _inserted.values(
    {name: sa.bindparam(name, type_=bill_claims.c[name].type)
     for name in ("tenant_id", "claim_id", "primary_claim_id", "recorded_at", *_SUBMITTED_FACTS)}
).on_conflict_do_update(index_elements=["tenant_id", "claim_id"],
                        set_={name: _inserted.excluded[name] for name in _SUBMITTED_FACTS})
# A run's submissions of a claim merged (the latest wins) and written at its commit: every other
# handler of this consumer first writes them (`submitted_claims_written`), since bill_claims is what
# they read the claim's bill from.
RECORDED_SUBMISSIONS = MergedUpsert(lambda _columns: _RECORD_SUBMITTED_CLAIM)


async def submitted_claims_written(ctx: HandlerContext) -> None:
    """This practice's submissions deferred in the consumer's run, written (before bill_claims is read)."""
    await ctx.write_pending(RECORDED_SUBMISSIONS)


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """Record the claim (a primary one stands for its own bill until a NextPayerClaimCreated says
    otherwise) with what a statement shows of it: dates, charge and lines."""
    lines = [{"line_number": line.line_number, "procedure_code": line.procedure_code,
              "revenue_code": line.revenue_code, "charge_amount": str(line.charge_amount),
              "service_date": line.service_date.isoformat(), "description": line.description} for line in event.lines]
    await ctx.merge_at_commit(RECORDED_SUBMISSIONS, {"tenant_id": event.tenant_id, "claim_id": event.claim_id}, dict(
        primary_claim_id=event.claim_id, recorded_at=_now(), patient_id=event.patient_id, encounter_id=event.encounter_id, payer_id=event.payer_id,
        payer_responsibility=event.payer_responsibility, total_charge=event.total_charge,
        service_date_from=event.service_date_from, service_date_to=event.service_date_to, lines=lines,
        provider_name=event.provider_name))


async def on_next_payer_claim_created(ctx: HandlerContext, event: NextPayerClaimCreated) -> None:
    """The claim for the next payer belongs to the bill of its prior claim. Claims linked to it
    before (a tertiary whose event came first) follow, and the bill is settled again in case a
    decision on the new claim was posted before this link was known."""
    tenant = event.tenant_id
    root = await _ensure_claim(ctx.conn, tenant, event.prior_claim_id, None)
    await ctx.conn.execute(
        pg_insert(bill_claims).values(tenant_id=tenant, claim_id=event.claim_id, primary_claim_id=root,
                                      encounter_id=event.encounter_id, payer_id=event.payer_id,
                                      payer_responsibility=event.payer_responsibility,
                                      total_charge=event.total_charge, recorded_at=_now())
        .on_conflict_do_update(index_elements=["tenant_id", "claim_id"], set_={"primary_claim_id": root}))
    await ctx.conn.execute(sa.update(bill_claims).where(
        bill_claims.c.tenant_id == tenant, bill_claims.c.primary_claim_id == event.claim_id).values(
        primary_claim_id=root))
    patient_id = (await ctx.conn.execute(sa.select(payer_adjudications.c.patient_id).where(
        payer_adjudications.c.tenant_id == tenant,
        payer_adjudications.c.claim_id.in_(_claims_of(tenant, root))).limit(1))).scalar()
    if patient_id is not None:
        await settle_bill(ctx, patient_id, root, lowered_as=REPLACED)


# ------------------------------------------------------------------------------------ remittances


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    """The payer's decision is recorded; the bill's patient share becomes this decision's PR (per
    line and CARC), replacing an earlier payer's; overpayment is measured again."""
    root = await _ensure_claim(ctx.conn, event.tenant_id, event.claim_id, event.patient_id)
    shares = [{"line_number": a.line_number, "carc": a.carc, "amount": str(a.amount)}
              for a in event.adjustments if a.group_code == "PR" and a.amount != ZERO]
    await ctx.conn.execute(pg_insert(payer_adjudications).values(
        tenant_id=event.tenant_id, patient_id=event.patient_id, claim_id=event.claim_id, payer_id=event.payer_id,
        remittance_id=event.remittance_id, source_event_id=ctx.envelope.id, charge_amount=event.charge_amount,
        allowed_amount=event.allowed_amount, paid_amount=event.paid_amount, shares=shares,
        lines=[{"line_number": line.line_number, "charge": str(line.charge_amount), "allowed": str(line.allowed_amount),
                "paid": str(line.paid_amount)} for line in event.lines],
        adjudicated_at=_now()).on_conflict_do_nothing(index_elements=["source_event_id"]))
    await settle_bill(ctx, event.patient_id, root, lowered_as=REPLACED, remittance_id=event.remittance_id)


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """The payer took back its latest decision on the claim: the bill's patient share goes back to
    what the decision before it said (none: nothing owed) until a corrected decision is posted."""
    root = await _ensure_claim(ctx.conn, event.tenant_id, event.claim_id, event.patient_id)
    latest = (await ctx.conn.execute(sa.select(sa.func.max(payer_adjudications.c.id)).where(
        payer_adjudications.c.tenant_id == event.tenant_id, payer_adjudications.c.claim_id == event.claim_id,
        payer_adjudications.c.payer_id == event.payer_id,
        payer_adjudications.c.reversed_by_event_id.is_(None)))).scalar()
    if latest is not None:
        await ctx.conn.execute(sa.update(payer_adjudications).where(payer_adjudications.c.id == latest).values(
            reversed_by_event_id=ctx.envelope.id))
    await settle_bill(ctx, event.patient_id, root, lowered_as=PAYER_REVERSAL, remittance_id=event.remittance_id)


async def settle_bill(ctx: HandlerContext, patient_id: str, primary_claim_id: UUID, *, lowered_as: str,
                      remittance_id: UUID | None = None) -> None:
    """Post the movements that take the account's share of the bill to what the last decision says
    (none when it already agrees: settling twice moves nothing), and the payers' credit balances to
    what they overpaid."""
    tenant = ctx.tenant_id
    await lock_account(ctx.conn, tenant, patient_id, _now())
    claims = _claims_of(tenant, primary_claim_id)
    adjudications = await _active_adjudications(ctx.conn, tenant, claims)
    held = await _held_shares(ctx.conn, tenant, patient_id, claims)
    payer_of_claim = {a.claim_id: a.payer_id for a in adjudications}
    drafts = [EntryDraft(entry_kind=ASSIGNED if change.amount > ZERO else lowered_as, amount=change.amount,
                         claim_id=change.claim_id, line_number=change.line_number, carc=change.carc,
                         payer_id=payer_of_claim.get(change.claim_id), remittance_id=remittance_id)
                 for change in share_changes(patient_share_target(adjudications), held)]
    if drafts:
        now = _now()
        balance = await post_to_account(ctx.conn, tenant, patient_id, drafts, source_event_id=ctx.envelope.id,
                                        posted_at=now)
        total = sum((draft.amount for draft in drafts), ZERO)
        movement = lowered_as if total < ZERO else ASSIGNED
        await ctx.emit(PatientBalanceChanged(
            tenant_id=tenant, patient_id=patient_id, claim_id=drafts[-1].claim_id, entry_kind=_COARSE_KIND[movement],
            movement=movement, amount=total, balance=balance))
    await _record_overpayments(ctx, patient_id, primary_claim_id, payer_overpayments(adjudications))


async def _record_overpayments(ctx: HandlerContext, patient_id: str, primary_claim_id: UUID,
                               overpaid: dict[str, Decimal]) -> None:
    tenant = ctx.tenant_id
    current = dict((await ctx.conn.execute(sa.select(payer_credit_balances.c.payer_id, payer_credit_balances.c.amount)
                                           .where(payer_credit_balances.c.tenant_id == tenant,
                                                  payer_credit_balances.c.primary_claim_id == primary_claim_id)
                                           .with_for_update())).all())
    for payer_id in sorted(set(current) | set(overpaid)):
        amount = overpaid.get(payer_id, ZERO)
        if current.get(payer_id, ZERO) == amount:
            continue
        await ctx.conn.execute(
            pg_insert(payer_credit_balances).values(tenant_id=tenant, primary_claim_id=primary_claim_id,
                                                    payer_id=payer_id, patient_id=patient_id, amount=amount,
                                                    updated_at=_now())
            .on_conflict_do_update(index_elements=["tenant_id", "primary_claim_id", "payer_id"],
                                   set_={"amount": amount, "updated_at": _now()}))
        await ctx.emit(PayerCreditBalanceChanged(
            tenant_id=tenant, patient_id=patient_id, primary_claim_id=primary_claim_id, payer_id=payer_id,
            credit_amount=amount, previous_amount=current.get(payer_id, ZERO)))


# ------------------------------------------------------------------------------------ denials feed


async def on_denial_transferred_to_patient(ctx: HandlerContext, event: DenialTransferredToPatient) -> None:
    """The denials service moved a denied amount to the patient (a non-covered service the patient
    agreed to pay, a deductible the payer sent as a denial): the account owes it, as its own entry
    kind that settling the bill's payer shares again leaves in place."""
    now = _now()
    await _ensure_claim(ctx.conn, event.tenant_id, event.claim_id, event.patient_id)
    await lock_account(ctx.conn, event.tenant_id, event.patient_id, now)
    draft = EntryDraft(entry_kind=DENIAL_TRANSFER, amount=event.amount, claim_id=event.claim_id,
                       payer_id=event.payer_id, share_kind=PLAN_DENIED)
    balance = await post_to_account(ctx.conn, event.tenant_id, event.patient_id, [draft],
                                    source_event_id=ctx.envelope.id, posted_at=now)
    await ctx.emit(PatientBalanceChanged(
        tenant_id=event.tenant_id, patient_id=event.patient_id, claim_id=event.claim_id,
        entry_kind=_COARSE_KIND[DENIAL_TRANSFER], movement=DENIAL_TRANSFER, amount=event.amount, balance=balance))


# --------------------------------------------------------------------------------------- queries


async def _ensure_claim(conn, tenant_id: str, claim_id: UUID, patient_id: str | None) -> UUID:
    """The bill (primary claim id) the claim belongs to; a claim not heard of yet stands for its own."""
    await conn.execute(pg_insert(bill_claims).values(
        tenant_id=tenant_id, claim_id=claim_id, primary_claim_id=claim_id, patient_id=patient_id,
        recorded_at=_now()).on_conflict_do_nothing(index_elements=["tenant_id", "claim_id"]))
    return (await conn.execute(sa.select(bill_claims.c.primary_claim_id).where(
        bill_claims.c.tenant_id == tenant_id, bill_claims.c.claim_id == claim_id))).scalar_one()


def _claims_of(tenant_id: str, primary_claim_id: UUID):
    return sa.select(bill_claims.c.claim_id).where(bill_claims.c.tenant_id == tenant_id,
                                                   bill_claims.c.primary_claim_id == primary_claim_id)


async def _active_adjudications(conn, tenant_id: str, claims) -> list[Adjudication]:
    rows = (await conn.execute(sa.select(payer_adjudications).where(
        payer_adjudications.c.tenant_id == tenant_id, payer_adjudications.c.claim_id.in_(claims),
        payer_adjudications.c.reversed_by_event_id.is_(None)).order_by(payer_adjudications.c.id))).all()
    return [Adjudication(claim_id=row.claim_id, payer_id=row.payer_id, paid=row.paid_amount,
                         allowed=row.allowed_amount,
                         shares=tuple(ShareLine(s["line_number"], s["carc"], Decimal(s["amount"])) for s in row.shares))
            for row in rows]


async def _held_shares(conn, tenant_id: str, patient_id: str, claims) -> dict:
    rows = (await conn.execute(
        sa.select(ledger_entries.c.claim_id, ledger_entries.c.line_number, ledger_entries.c.carc,
                  sa.func.sum(ledger_entries.c.amount))
        .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id == patient_id,
               ledger_entries.c.claim_id.in_(claims), ledger_entries.c.entry_kind.in_(SHARE_KINDS))
        .group_by(ledger_entries.c.claim_id, ledger_entries.c.line_number, ledger_entries.c.carc))).all()
    return {(row[0], row[1], row[2] or ""): row[3] for row in rows}


async def insurance_pending(conn, tenant_id: str, patient_id: str) -> list[UUID]:
    """Claims of the account's bills with no payer decision in force yet."""
    on_account = sa.select(ledger_entries.c.claim_id).where(
        ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id == patient_id,
        ledger_entries.c.claim_id.is_not(None))
    bills = sa.select(bill_claims.c.primary_claim_id).where(bill_claims.c.tenant_id == tenant_id,
                                                            bill_claims.c.claim_id.in_(on_account))
    decided = sa.select(payer_adjudications.c.claim_id).where(
        payer_adjudications.c.tenant_id == tenant_id, payer_adjudications.c.reversed_by_event_id.is_(None))
    return list((await conn.execute(sa.select(bill_claims.c.claim_id).where(
        bill_claims.c.tenant_id == tenant_id, bill_claims.c.primary_claim_id.in_(bills),
        bill_claims.c.claim_id.not_in(decided)).order_by(bill_claims.c.claim_id))).scalars())


async def load_account(conn, tenant_id: str, patient_id: str):
    account = (await conn.execute(sa.select(patient_accounts).where(
        patient_accounts.c.tenant_id == tenant_id, patient_accounts.c.patient_id == patient_id))).first()
    return account


def _now() -> datetime:
    return datetime.now(timezone.utc)
