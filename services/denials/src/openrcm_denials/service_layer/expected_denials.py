"""Expected denials from the claims service's ClaimDenialExpected, settled by the payer's remittance
(cases.on_claim_denied: `denied`, linked to the case; settlements.on_claim_payment_posted: `paid`) or
by a person (`resolve_by_hand`); a reversal of the payment that settled one `paid` opens it again
(settlements.on_claim_reversed). Every change stages its event in the same transaction."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.appeal_tables import claim_facts
from openrcm_denials.adapters.expected_denial_tables import COPIED_FACTS, OPEN_SQL, expected_denials
from openrcm_denials.domain.expected_denials import (
    ClaimItem, ExpectedDenialStatus, Resolution, decide_flag,
)
from openrcm_denials.service_layer.case_moves import Emit
from openrcm_denials.service_layer.claim_timeline import CLAIM_FACTS, record_denial_expected
from openrcm_shared.contracts.claims import ClaimDenialExpected
from openrcm_shared.contracts.denials import (
    ExpectedDenialOpened, ExpectedDenialReflagged, ExpectedDenialReopened, ExpectedDenialResolved,
)
from openrcm_shared.messaging.consumer import HandlerContext

OPEN = ExpectedDenialStatus.OPEN.value


class ExpectedDenialNotFound(LookupError):
    pass


class ExpectedDenialSettled(Exception):
    """A person tried to resolve an item that is resolved already (args: its resolution)."""


async def _claim_facts(ctx: HandlerContext, claim_id: UUID) -> dict | None:
    """The claim as billed (None: its ClaimSubmitted has not reached denials)."""
    # This run's ClaimSubmitted for the claim may still be waiting to be written at the commit.
    await ctx.write_pending(CLAIM_FACTS)
    row = (await ctx.conn.execute(sa.select(claim_facts.c.total_charge, *[claim_facts.c[name] for name in COPIED_FACTS])
                                  .where(claim_facts.c.tenant_id == ctx.tenant_id,
                                         claim_facts.c.claim_id == claim_id))).first()
    return None if row is None else dict(row._mapping)


def _copied_facts(facts: dict | None) -> dict:
    """The item's columns from the claim's facts; billed 0.00 while they are unknown (the worklist sorts
    on the amount, so it is never null)."""
    if facts is None:
        return {"billed_amount": Decimal("0.00")}
    return {**{name: facts[name] for name in COPIED_FACTS}, "billed_amount": facts["total_charge"] or Decimal("0.00")}


async def _items_of_claim(conn: AsyncConnection, tenant_id: str, claim_id: UUID) -> list[ClaimItem]:
    rows = (await conn.execute(sa.select(expected_denials.c.id, expected_denials.c.status,
                                         expected_denials.c.eligibility_check_ids)
                               .where(expected_denials.c.tenant_id == tenant_id,
                                      expected_denials.c.claim_id == claim_id))).all()
    return [ClaimItem(row.id, ExpectedDenialStatus(row.status), tuple(row.eligibility_check_ids)) for row in rows]


async def on_claim_denial_expected(ctx: HandlerContext, event: ClaimDenialExpected) -> None:
    """On the claim's timeline; then an open item for the claim: a new one, or the open one naming this
    newer check. The same check announced again changes nothing (decide_flag)."""
    await record_denial_expected(ctx, event)
    decision = decide_flag(await _items_of_claim(ctx.conn, event.tenant_id, event.claim_id),
                           event.eligibility_check_id)
    if decision.action == "ignore":
        return
    flagged_at = ctx.envelope.time
    facts = await _claim_facts(ctx, event.claim_id)
    if decision.action == "reflag" and await _reflag(ctx, decision.item_id, event, flagged_at, facts):
        return
    await _open(ctx, event, flagged_at, facts)


async def _reflag(ctx: HandlerContext, item_id: UUID, event: ClaimDenialExpected, flagged_at: datetime,
                  facts: dict | None) -> bool:
    """The open item follows the newer check; False when a person resolved it meanwhile."""
    updated = (await ctx.conn.execute(
        expected_denials.update()
        .where(expected_denials.c.tenant_id == event.tenant_id, expected_denials.c.id == item_id,
               expected_denials.c.status == OPEN)
        .values(eligibility_check_id=event.eligibility_check_id,
                eligibility_check_ids=sa.func.array_append(expected_denials.c.eligibility_check_ids,
                                                           event.eligibility_check_id),
                service_date=event.service_date, claim_status=event.status, last_flagged_at=flagged_at,
                **_copied_facts(facts))
        .returning(expected_denials.c.id))).first()
    if updated is None:
        return False
    await ctx.emit(ExpectedDenialReflagged(
        tenant_id=event.tenant_id, expected_denial_id=item_id, claim_id=event.claim_id, payer_id=event.payer_id,
        eligibility_check_id=event.eligibility_check_id, service_date=event.service_date, flagged_at=flagged_at))
    return True


async def _open(ctx: HandlerContext, event: ClaimDenialExpected, flagged_at: datetime, facts: dict | None) -> None:
    item_id = uuid4()
    inserted = (await ctx.conn.execute(pg_insert(expected_denials).values(
        id=item_id, tenant_id=event.tenant_id, claim_id=event.claim_id, payer_id=event.payer_id,
        reason=event.reason, eligibility_check_id=event.eligibility_check_id,
        eligibility_check_ids=[event.eligibility_check_id], service_date=event.service_date,
        claim_status=event.status, flagged_at=flagged_at, last_flagged_at=flagged_at, status=OPEN,
        **_copied_facts(facts),
    ).on_conflict_do_nothing(index_elements=["tenant_id", "claim_id"], index_where=sa.text(OPEN_SQL))
        .returning(expected_denials.c.id))).first()
    if inserted is None:  # the claim has an open item already (its events come in order: not expected)
        return
    await ctx.emit(ExpectedDenialOpened(
        tenant_id=event.tenant_id, expected_denial_id=item_id, claim_id=event.claim_id, payer_id=event.payer_id,
        reason=event.reason, eligibility_check_id=event.eligibility_check_id, service_date=event.service_date,
        billed_amount=facts["total_charge"] if facts else None, flagged_at=flagged_at))


async def close_for_remittance(conn: AsyncConnection, emit: Emit, *, tenant_id: str, claim_id: UUID,
                               resolution: Resolution, remittance_id: UUID,
                               denial_case_id: UUID | None = None) -> list[UUID]:
    """The payer decided the claim: its open item (if any) is resolved `denied` (with the case opened
    for the denial) or `paid`. Answers the items closed."""
    closed = (await conn.execute(
        expected_denials.update()
        .where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.claim_id == claim_id,
               expected_denials.c.status == OPEN)
        .values(status=ExpectedDenialStatus.RESOLVED.value, resolution=resolution.value, resolved_at=sa.func.now(),
                denial_case_id=denial_case_id, remittance_id=remittance_id)
        .returning(expected_denials.c.id, expected_denials.c.payer_id))).all()
    for item in closed:
        await emit(ExpectedDenialResolved(
            tenant_id=tenant_id, expected_denial_id=item.id, claim_id=claim_id, payer_id=item.payer_id,
            resolution=resolution.value, denial_case_id=denial_case_id, remittance_id=remittance_id))
    return [item.id for item in closed]


async def reopen_for_reversal(conn: AsyncConnection, emit: Emit, *, tenant_id: str, claim_id: UUID,
                              remittance_id: UUID) -> UUID | None:
    """The payer took back a payment: the claim's latest item the payer's payment settled `paid` is open
    again (its settlement cleared), unless the claim has an open item already (one per claim) or a
    person settled it since. Answers the item reopened."""
    has_open = sa.exists().where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.claim_id == claim_id,
                                 sa.text(OPEN_SQL))
    latest_paid = (sa.select(expected_denials.c.id)
                   .where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.claim_id == claim_id,
                          expected_denials.c.resolution == Resolution.PAID.value, ~has_open)
                   .order_by(expected_denials.c.resolved_at.desc()).limit(1).scalar_subquery())
    reopened = (await conn.execute(
        expected_denials.update()
        .where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.id == latest_paid)
        .values(status=OPEN, resolution=None, resolved_at=None, remittance_id=None)
        .returning(expected_denials.c.id, expected_denials.c.payer_id))).first()
    if reopened is None:
        return None
    await emit(ExpectedDenialReopened(tenant_id=tenant_id, expected_denial_id=reopened.id, claim_id=claim_id,
                                      payer_id=reopened.payer_id, remittance_id=remittance_id))
    return reopened.id


async def resolve_by_hand(conn: AsyncConnection, emit: Emit, *, tenant_id: str, item_id: UUID,
                          resolution: Resolution, note: str, by: str | None) -> dict:
    """A person settles an open item (ExpectedDenialNotFound: 404; ExpectedDenialSettled: 409)."""
    row = (await conn.execute(sa.select(expected_denials.c.status, expected_denials.c.resolution)
                              .where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.id == item_id)
                              .with_for_update())).first()
    if row is None:
        raise ExpectedDenialNotFound(item_id)
    if row.status != OPEN:
        raise ExpectedDenialSettled(row.resolution)
    resolved = (await conn.execute(
        expected_denials.update()
        .where(expected_denials.c.tenant_id == tenant_id, expected_denials.c.id == item_id)
        .values(status=ExpectedDenialStatus.RESOLVED.value, resolution=resolution.value, resolution_note=note,
                resolved_by=by, resolved_at=datetime.now(timezone.utc))
        .returning(expected_denials))).one()
    await emit(ExpectedDenialResolved(tenant_id=tenant_id, expected_denial_id=item_id, claim_id=resolved.claim_id,
                                      payer_id=resolved.payer_id, resolution=resolution.value, resolved_by=by))
    return dict(resolved._mapping)
