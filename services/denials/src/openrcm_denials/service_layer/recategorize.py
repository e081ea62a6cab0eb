"""Categorizing a case again from its stored lines: after a practice changes an override for the payer,
after its payer's settings change the deadlines, or when the shipped mapping's version moved on."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.tables import denial_cases, denial_lines
from openrcm_denials.domain.appeals import appeal_deadline, corrected_claim_deadline, work_deadline
from openrcm_denials.domain.case_lines import DeniedLine, categorize_case, denied_lines_of
from openrcm_denials.domain.categories import categorizer
from openrcm_denials.service_layer.case_facts import (
    categorization_values, payer_overrides, payer_windows, replace_lines, rerank,
)
from openrcm_denials.service_layer.case_moves import Emit
from openrcm_shared.contracts.denials import DenialCaseRecategorized


async def _stored_lines(conn: AsyncConnection, tenant_id: str, case_id: UUID, denials: list):
    rows = (await conn.execute(sa.select(denial_lines).where(
        denial_lines.c.tenant_id == tenant_id, denial_lines.c.case_id == case_id)
        .order_by(denial_lines.c.position))).all()
    if not rows:  # a case opened before its lines were stored: its event's items
        return denied_lines_of(denials), {}
    lines = [DeniedLine(r.line_number, r.group_code, r.carc, tuple(r.rarcs), r.amount) for r in rows]
    return lines, {r.line_number: r.procedure_code for r in rows if r.line_number is not None and r.procedure_code}


async def recategorize(conn: AsyncConnection, emit: Emit, tenant_id: str, case_id: UUID, today: date) -> None:
    """Categorize, date and rank the case again; announce a change of category."""
    case = (await conn.execute(sa.select(
        denial_cases.c.payer_id, denial_cases.c.claim_id, denial_cases.c.category, denial_cases.c.denials,
        denial_cases.c.remittance_date, denial_cases.c.opened_at,
    ).where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id).with_for_update())).first()
    if case is None:
        return
    lines, procedures = await _stored_lines(conn, tenant_id, case_id, case.denials)
    engine = categorizer()
    categorized = categorize_case(engine, lines, overrides=await payer_overrides(conn, tenant_id, case.payer_id),
                                  procedures=procedures)
    if not categorized.is_denial:  # an override cannot make a non-denial a denial, nor the reverse
        return
    remitted_on = case.remittance_date or case.opened_at.date()
    windows = await payer_windows(conn, tenant_id, case.payer_id)
    values = categorization_values(categorized, engine.version)
    appeal_by = appeal_deadline(remitted_on, windows.appeal_level1_days)
    correct_by = corrected_claim_deadline(remitted_on, windows)
    await conn.execute(denial_cases.update().where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id)
                       .values(**values, appeal_deadline=appeal_by, corrected_claim_deadline=correct_by,
                               work_deadline=work_deadline(values["recommended_action"], appeal_by, correct_by),
                               remittance_date=remitted_on))
    await replace_lines(conn, tenant_id, case_id, categorized)
    await rerank(conn, tenant_id, case_id, today)
    if values["category"] != case.category:
        await emit(DenialCaseRecategorized(tenant_id=tenant_id, case_id=case_id, claim_id=case.claim_id,
                                           from_category=case.category, to_category=values["category"],
                                           rule=values["rule"], mapping_version=engine.version))
