"""Opening denial cases from ClaimDenied."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_denials.adapters.tables import denial_cases
from openrcm_denials.domain.appeals import appeal_deadline, primary_reason
from openrcm_shared.contracts.denials import DenialCaseClosed, DenialCaseOpened
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    """One case per claim and remittance, on the worklist until worked."""
    now = datetime.now(timezone.utc)
    group_code, carc = primary_reason(event.denials)
    deadline = appeal_deadline(ctx.envelope.time.date())
    case_id = uuid4()
    inserted = await ctx.conn.execute(pg_insert(denial_cases).values(
        id=case_id, tenant_id=event.tenant_id, claim_id=event.claim_id, remittance_id=event.remittance_id,
        patient_control_number=event.patient_control_number, payer_id=event.payer_id, status="open",
        denied_amount=event.denied_amount, primary_group_code=group_code, primary_carc=carc,
        denials=[d.model_dump(mode="json") for d in event.denials], appeal_deadline=deadline, opened_at=now,
    ).on_conflict_do_nothing(constraint="uq_denial_cases_claim_remittance").returning(denial_cases.c.id))
    if inserted.first() is not None:
        await ctx.emit(DenialCaseOpened(tenant_id=event.tenant_id, case_id=case_id, claim_id=event.claim_id,
                                        payer_id=event.payer_id, denied_amount=event.denied_amount,
                                        primary_carc=carc, appeal_deadline=deadline))


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """The payer took back the decision a case is about: the open cases of the claim close (a
    corrected decision that still denies opens a new case from its own ClaimDenied)."""
    closed = await ctx.conn.execute(denial_cases.update().where(
        denial_cases.c.tenant_id == event.tenant_id, denial_cases.c.claim_id == event.claim_id,
        denial_cases.c.status == "open").values(status="closed_payer_reversed").returning(denial_cases.c.id))
    for case_id in closed.scalars():
        await ctx.emit(DenialCaseClosed(tenant_id=event.tenant_id, case_id=case_id, claim_id=event.claim_id,
                                        reason="payer_reversed"))
