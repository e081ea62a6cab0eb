"""Posting a remittance: match each claim, balance everything, write the postings and the events,
all in one transaction (all or nothing)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_remittance.adapters.tables import claim_payments, expected_claims, posting_entries, remittances
from openrcm_remittance.domain.posting import (
    AdjustmentInput, ClaimPosting, Imbalance, LineInput, post_claim, transaction_imbalance,
)
from openrcm_remittance.entrypoints.schemas import ClaimPaymentIn, PostedClaimOut, RemittanceIn, RemittanceOut
from openrcm_shared.contracts import remittance as contracts
from openrcm_shared.contracts.claims import ClaimSubmitted
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.messaging.consumer import HandlerContext
from openrcm_shared.messaging.outbox import stage_events

SOURCE = "/openrcm/remittance"


async def on_claim_submitted(ctx: HandlerContext, event: ClaimSubmitted) -> None:
    """Remember the claim so its remittance can be matched by patient control number."""
    # A corrected or replacement claim is submitted again under the same id: keep its latest lines.
    latest = dict(patient_id=event.patient_id, payer_id=event.payer_id, total_charge=event.total_charge,
                  lines=[line.model_dump(mode="json") for line in event.lines], submitted_at=event.submitted_at)
    await ctx.conn.execute(pg_insert(expected_claims).values(
        claim_id=event.claim_id, tenant_id=event.tenant_id, patient_control_number=event.patient_control_number,
        **latest).on_conflict_do_update(index_elements=["claim_id"], set_=latest))


def _line_inputs(claim: ClaimPaymentIn) -> list[LineInput]:
    return [LineInput(line.line_number, line.charge_amount, line.paid_amount,
                      tuple(AdjustmentInput(a.group_code, a.carc, a.amount) for a in line.adjustments),
                      tuple(line.rarcs), line.allowed_amount) for line in claim.lines]


def _match_errors(index: int, claim: ClaimPaymentIn, expected) -> list[dict]:
    """The lines must be the claim's lines, with the charges that were billed."""
    billed = {line["line_number"]: line for line in expected.lines}
    errors = []
    for j, line in enumerate(claim.lines):
        if line.line_number not in billed:
            errors.append(field_error(f"/claims/{index}/lines/{j}/line_number", "the claim has no such line"))
        elif str(line.charge_amount) != str(billed[line.line_number]["charge_amount"]):
            errors.append(field_error(f"/claims/{index}/lines/{j}/charge_amount",
                                      f"billed charge was {billed[line.line_number]['charge_amount']}"))
    return errors


async def post_remittance(conn: AsyncConnection, tenant_id: str, remittance: RemittanceIn) -> RemittanceOut:
    pcns = [claim.patient_control_number for claim in remittance.claims]
    rows = (await conn.execute(sa.select(expected_claims).where(
        expected_claims.c.tenant_id == tenant_id, expected_claims.c.patient_control_number.in_(pcns)))).all()
    expected = {row.patient_control_number: row for row in rows}
    errors: list[dict] = []
    postings: list[tuple[ClaimPaymentIn, object, ClaimPosting]] = []
    for index, claim in enumerate(remittance.claims):
        match = expected.get(claim.patient_control_number)
        if match is None:
            errors.append(field_error(f"/claims/{index}/patient_control_number", "no submitted claim has this number"))
            continue
        errors += _match_errors(index, claim, match)
        posting, imbalances = post_claim(_line_inputs(claim), [AdjustmentInput(a.group_code, a.carc, a.amount)
                                                               for a in claim.claim_adjustments])
        errors += [field_error(f"/claims/{index}/{p.path}", p.message) for p in imbalances]
        postings.append((claim, match, posting))
    if not errors:
        total: Imbalance | None = transaction_imbalance(remittance.payment_amount,
                                                        [posting.paid_amount for _, _, posting in postings])
        if total:
            errors.append(field_error(f"/{total.path}", total.message))
    if errors:
        unknown = all("no submitted claim" in e["detail"] for e in errors)
        raise Problem(422, "The remittance cannot be posted", "Nothing was posted.",
                      type_="unknown-claim" if unknown else "remittance-unbalanced", errors=errors)
    return await _write(conn, tenant_id, remittance, postings)


async def _write(conn: AsyncConnection, tenant_id: str, remittance: RemittanceIn, postings) -> RemittanceOut:
    remittance_id, now = uuid4(), datetime.now(timezone.utc)
    inserted = await conn.execute(pg_insert(remittances).values(
        id=remittance_id, tenant_id=tenant_id, payer_id=remittance.payer_id, trace_number=remittance.trace_number,
        payment_amount=remittance.payment_amount, payment_date=remittance.payment_date, source="json",
        received_at=now, document=remittance.model_dump(mode="json"),
    ).on_conflict_do_nothing(constraint="uq_remittances_payment").returning(remittances.c.id))
    if inserted.first() is None:
        existing = (await conn.execute(sa.select(remittances.c.id).where(
            remittances.c.tenant_id == tenant_id, remittances.c.payer_id == remittance.payer_id,
            remittances.c.trace_number == remittance.trace_number))).scalar_one()
        raise Problem(409, "Duplicate payment", "This payer's payment with this trace number was already posted; "
                      "nothing was posted again.", type_="duplicate-payment",
                      errors=[field_error("/trace_number", "already posted")], existing_remittance_id=str(existing))
    events: list = [contracts.RemittanceReceived(
        tenant_id=tenant_id, remittance_id=remittance_id, payer_id=remittance.payer_id,
        trace_number=remittance.trace_number, payment_amount=remittance.payment_amount,
        payment_date=remittance.payment_date, claim_count=len(postings), received_at=now)]
    posted_out, payment_rows, entry_rows = [], [], []
    for claim, match, posting in postings:
        payment_id = uuid4()
        payment_rows.append(dict(
            id=payment_id, tenant_id=tenant_id, remittance_id=remittance_id, claim_id=match.claim_id,
            outcome=posting.outcome, charge_amount=posting.charge_amount, allowed_amount=posting.allowed_amount,
            paid_amount=posting.paid_amount, patient_responsibility_amount=posting.patient_responsibility_amount,
            denied_amount=posting.denied_amount, payer_claim_control_number=claim.payer_claim_control_number))
        entry_rows += [dict(tenant_id=tenant_id, claim_payment_id=payment_id, claim_id=match.claim_id,
                            line_number=line.line_number, entry_type="payment", group_code=None, carc=None,
                            amount=line.paid_amount) for line in posting.lines]
        entry_rows += [dict(tenant_id=tenant_id, claim_payment_id=payment_id, claim_id=match.claim_id,
                            line_number=a.line_number, entry_type="adjustment", group_code=a.group_code, carc=a.carc,
                            amount=a.amount) for a in posting.adjustments]
        events += _claim_events(tenant_id, remittance, remittance_id, match, posting)
        posted_out.append(PostedClaimOut(
            claim_id=match.claim_id, patient_control_number=claim.patient_control_number, outcome=posting.outcome,
            charge_amount=posting.charge_amount, allowed_amount=posting.allowed_amount,
            paid_amount=posting.paid_amount, patient_responsibility_amount=posting.patient_responsibility_amount,
            denied_amount=posting.denied_amount))
    await conn.execute(claim_payments.insert(), payment_rows)
    await conn.execute(posting_entries.insert(), entry_rows)
    await stage_events(conn, events, source=SOURCE, aggregate_type="remittance")
    return RemittanceOut(id=remittance_id, payer_id=remittance.payer_id, trace_number=remittance.trace_number,
                         payment_amount=remittance.payment_amount, payment_date=remittance.payment_date,
                         received_at=now, claims=posted_out)


def _claim_events(tenant_id: str, remittance: RemittanceIn, remittance_id, match, posting: ClaimPosting) -> list:
    """ClaimPaymentPosted for every claim, and ClaimDenied where lines were denied; keyed by claim id."""
    common = dict(tenant_id=tenant_id, claim_id=match.claim_id, remittance_id=remittance_id,
                  patient_id=match.patient_id, payer_id=remittance.payer_id,
                  patient_control_number=match.patient_control_number)
    events: list = [contracts.ClaimPaymentPosted(
        **common, outcome=posting.outcome, charge_amount=posting.charge_amount,
        allowed_amount=posting.allowed_amount, paid_amount=posting.paid_amount,
        patient_responsibility_amount=posting.patient_responsibility_amount,
        adjustments=[contracts.Adjustment(line_number=a.line_number, group_code=a.group_code, carc=a.carc,
                                          amount=a.amount) for a in posting.adjustments],
        lines=[contracts.PostedLine(line_number=l.line_number, charge_amount=l.charge_amount,
                                    allowed_amount=l.allowed_amount, paid_amount=l.paid_amount,
                                    patient_responsibility_amount=l.patient_responsibility_amount)
               for l in posting.lines])]
    if posting.denied_items:
        events.append(contracts.ClaimDenied(
            **common, denied_amount=posting.denied_amount,
            denials=[contracts.DeniedItem(line_number=d.line_number, group_code=d.group_code, carc=d.carc,
                                          rarcs=list(d.rarcs), amount=d.amount) for d in posting.denied_items]))
    return events
