"""Denial cases from the remittance events.

- ClaimPaymentPosted: the payer's decision on a claim. Kept as the claim's facts (charges, paid, payer
  claim number, the procedure of each line) and counted as adjudicated lines per payer x procedure, the
  denominator of the trends. Its denied lines (paid nothing, reduced for payer reasons) are the ones a
  ClaimDenied for the same claim and remittance lists right after it, with their remark codes: the
  remittance service publishes ClaimDenied for every posting with a denied line, partially paid claims
  included (claim_events.for_posting). The case opens from ClaimDenied, its lines taking their procedures
  from this decision, so a denial is never counted twice.
- ClaimDenied: the case, one per claim and remittance: each line categorized, the case's category and
  priority from them, deadlines from the payer's settings, the trend buckets counted and checked.
  The claim's open expected-denial item (service_layer.expected_denials) closes `denied`, linked to the case.
- ClaimReversed: the payer took back the decision: its unresolved cases close (closed_payer_reversed).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_denials.adapters.tables import (
    adjudication_buckets, claim_adjudications, denial_buckets, denial_cases, denial_lines,
)
from openrcm_denials.domain.appeals import appeal_deadline, corrected_claim_deadline, work_deadline
from openrcm_denials.domain.case_lines import CaseCategorization, categorize_case, denied_lines_of
from openrcm_denials.domain.case_status import AWAITING_PAYER, UNRESOLVED, CaseStatus, IllegalCaseTransition
from openrcm_denials.domain.categories import categorizer
from openrcm_denials.domain.expected_denials import Resolution
from openrcm_denials.domain.priority import priority
from openrcm_denials.service_layer.case_facts import (
    categorization_values, line_rows, payer_history, payer_overrides, payer_windows, priority_values,
)
from openrcm_denials.service_layer.case_moves import move_case
from openrcm_denials.service_layer.expected_denials import close_for_remittance
from openrcm_denials.service_layer.trends import check_trend
from openrcm_shared.contracts.denials import DenialCaseClosed, DenialCaseOpened
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.messaging.consumer import HandlerContext

NO_PROCEDURE = ""  # the bucket key of a claim-level denial or a claim posted without lines


async def on_claim_payment_posted(ctx: HandlerContext, event: ClaimPaymentPosted) -> None:
    day = ctx.envelope.time.date()
    await ctx.conn.execute(pg_insert(claim_adjudications).values(
        tenant_id=event.tenant_id, claim_id=event.claim_id, remittance_id=event.remittance_id,
        payer_id=event.payer_id, adjudicated_on=day, outcome=event.outcome, claim_status_code=event.claim_status_code,
        payer_claim_control_number=event.payer_claim_control_number, charge_amount=event.charge_amount,
        allowed_amount=event.allowed_amount, paid_amount=event.paid_amount,
        patient_responsibility_amount=event.patient_responsibility_amount,
        lines=[line.model_dump(mode="json") for line in event.lines],
    ).on_conflict_do_nothing())
    per_procedure = Counter(line.procedure_code or NO_PROCEDURE for line in event.lines) or Counter({NO_PROCEDURE: 1})
    for procedure_code, count in per_procedure.items():
        statement = pg_insert(adjudication_buckets).values(
            tenant_id=event.tenant_id, payer_id=event.payer_id, procedure_code=procedure_code, day=day, lines=count)
        await ctx.conn.execute(statement.on_conflict_do_update(
            index_elements=["tenant_id", "payer_id", "procedure_code", "day"],
            set_={"lines": adjudication_buckets.c.lines + statement.excluded.lines}))


async def _procedures(ctx: HandlerContext, event: ClaimDenied) -> tuple[dict[int, str], str | None]:
    row = (await ctx.conn.execute(sa.select(claim_adjudications.c.lines, claim_adjudications.c.payer_claim_control_number)
                                  .where(claim_adjudications.c.tenant_id == event.tenant_id,
                                         claim_adjudications.c.claim_id == event.claim_id,
                                         claim_adjudications.c.remittance_id == event.remittance_id))).first()
    if row is None:
        return {}, None
    return ({line["line_number"]: line["procedure_code"] for line in row.lines if line.get("procedure_code")},
            row.payer_claim_control_number)


async def on_claim_denied(ctx: HandlerContext, event: ClaimDenied) -> None:
    """One case per claim and remittance, categorized and ranked, on the worklist until worked. A
    remittance whose denied items are none of them denials (a CO-45 alone) opens no case."""
    conn, tenant_id = ctx.conn, event.tenant_id
    remitted_on = ctx.envelope.time.date()
    procedures, payer_claim_number = await _procedures(ctx, event)
    engine = categorizer()
    categorized = categorize_case(engine, denied_lines_of(event.denials),
                                  overrides=await payer_overrides(conn, tenant_id, event.payer_id), procedures=procedures)
    if not categorized.is_denial:
        return
    windows = await payer_windows(conn, tenant_id, event.payer_id)
    appeal_by = appeal_deadline(remitted_on, windows.appeal_level1_days)
    correct_by = corrected_claim_deadline(remitted_on, windows)
    values = categorization_values(categorized, engine.version)
    deadline = work_deadline(values["recommended_action"], appeal_by, correct_by)
    today = datetime.now(timezone.utc).date()
    ranked = priority(categorized.recoverable_amount, values["category"],
                      await payer_history(conn, tenant_id, event.payer_id, values["category"]), deadline, today)
    case_id, now = uuid4(), datetime.now(timezone.utc)
    inserted = await conn.execute(pg_insert(denial_cases).values(
        id=case_id, tenant_id=tenant_id, claim_id=event.claim_id, remittance_id=event.remittance_id,
        patient_control_number=event.patient_control_number, payer_id=event.payer_id, status=CaseStatus.OPEN.value,
        denied_amount=event.denied_amount, denials=[d.model_dump(mode="json") for d in event.denials],
        appeal_deadline=appeal_by, corrected_claim_deadline=correct_by, work_deadline=deadline,
        remittance_date=remitted_on, opened_at=now, status_changed_at=now,
        payer_claim_control_number=event.payer_claim_control_number or payer_claim_number,
        **values, **priority_values(ranked, today),
    ).on_conflict_do_nothing(constraint="uq_denial_cases_claim_remittance").returning(denial_cases.c.id))
    if inserted.first() is None:
        return
    await conn.execute(denial_lines.insert(), line_rows(tenant_id, case_id, categorized))
    await ctx.emit(DenialCaseOpened(tenant_id=tenant_id, case_id=case_id, claim_id=event.claim_id,
                                    payer_id=event.payer_id, denied_amount=event.denied_amount,
                                    primary_carc=values["primary_carc"], appeal_deadline=appeal_by,
                                    category=values["category"], mapping_version=engine.version))
    # The denial an eligibility answer had foretold (ClaimDenialExpected) came: its item is settled by it.
    await close_for_remittance(conn, ctx.emit, tenant_id=tenant_id, claim_id=event.claim_id,
                               resolution=Resolution.DENIED, remittance_id=event.remittance_id, denial_case_id=case_id)
    for key in await _count_denials(ctx, event.payer_id, categorized, remitted_on):
        await check_trend(conn, ctx.emit, tenant_id, *key, day=remitted_on)


async def _count_denials(ctx: HandlerContext, payer_id: str, categorized: CaseCategorization,
                         day: date) -> list[tuple[str, str, str]]:
    """Add the case's denial lines to the day's buckets; answers the (payer, procedure, category) keys touched."""
    touched = []
    for line in categorized.denial_lines:
        key = (payer_id, line.procedure_code or NO_PROCEDURE, line.found.category.value)
        statement = pg_insert(denial_buckets).values(
            tenant_id=ctx.tenant_id, payer_id=key[0], procedure_code=key[1], category=key[2], day=day,
            lines=1, amount=line.line.amount)
        await ctx.conn.execute(statement.on_conflict_do_update(
            index_elements=["tenant_id", "payer_id", "procedure_code", "category", "day"],
            set_={"lines": denial_buckets.c.lines + 1, "amount": denial_buckets.c.amount + statement.excluded.amount}))
        if key not in touched:
            touched.append(key)
    return touched


async def on_claim_reversed(ctx: HandlerContext, event: ClaimReversed) -> None:
    """The payer took back the decision a case is about: the claim's unresolved cases close, each through
    the state machine (a corrected decision that still denies opens a new case from its own ClaimDenied).
    Cases awaiting the payer's answer to an appeal or a corrected claim stay: the reversal is the first
    half of that answer, and the decision that follows settles them (settlements)."""
    closing = UNRESOLVED - AWAITING_PAYER
    unresolved = (await ctx.conn.execute(sa.select(denial_cases.c.id).where(
        denial_cases.c.tenant_id == event.tenant_id, denial_cases.c.claim_id == event.claim_id,
        denial_cases.c.status.in_([status.value for status in closing])))).scalars().all()
    for case_id in unresolved:
        try:
            await move_case(ctx.conn, ctx.emit, tenant_id=event.tenant_id, case_id=case_id,
                            target=CaseStatus.CLOSED_PAYER_REVERSED, changed_by=None,
                            reason="the payer reversed its decision")
        except IllegalCaseTransition:  # moved meanwhile to a status the reversal does not close
            continue
        await ctx.emit(DenialCaseClosed(tenant_id=event.tenant_id, case_id=case_id, claim_id=event.claim_id,
                                        reason="payer_reversed"))
