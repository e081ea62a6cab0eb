"""What categorizing and ranking a case reads from the practice's settings and history, and the writes
that store the result: one place for the consumers, the routes and the background pass."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.tables import (
    category_overrides, denial_cases, denial_lines, payer_category_outcomes, payer_denial_settings,
)
from openrcm_denials.domain.appeals import DEFAULT_WINDOWS, DenialWindows
from openrcm_denials.domain.case_lines import CaseCategorization
from openrcm_denials.domain.categories import Action, Category, PayerOverride, Team
from openrcm_denials.domain.priority import Outcomes, Priority, priority


async def payer_windows(conn: AsyncConnection, tenant_id: str, payer_id: str) -> DenialWindows:
    row = (await conn.execute(sa.select(
        payer_denial_settings.c.appeal_level1_days, payer_denial_settings.c.appeal_level2_days,
        payer_denial_settings.c.external_review_days, payer_denial_settings.c.corrected_claim_days,
    ).where(payer_denial_settings.c.tenant_id == tenant_id, payer_denial_settings.c.payer_id == payer_id))).first()
    return DEFAULT_WINDOWS if row is None else DenialWindows(*row)


async def payer_overrides(conn: AsyncConnection, tenant_id: str, payer_id: str) -> dict[str, PayerOverride]:
    rows = (await conn.execute(sa.select(category_overrides).where(
        category_overrides.c.tenant_id == tenant_id, category_overrides.c.payer_id == payer_id))).all()
    return {row.carc: PayerOverride(
        payer_id=row.payer_id, carc=row.carc, category=Category(row.category),
        owning_team=Team(row.owning_team) if row.owning_team else None,
        recommended_action=Action(row.recommended_action) if row.recommended_action else None,
        preventable=row.preventable) for row in rows}


async def payer_history(conn: AsyncConnection, tenant_id: str, payer_id: str, category: str | None) -> Outcomes:
    """How this payer's cases of the category ended, as of the last refresh (payer_category_outcomes)."""
    row = (await conn.execute(sa.select(
        payer_category_outcomes.c.won, payer_category_outcomes.c.partially_won, payer_category_outcomes.c.lost,
    ).where(payer_category_outcomes.c.tenant_id == tenant_id, payer_category_outcomes.c.payer_id == payer_id,
            payer_category_outcomes.c.category == (category or Category.OTHER)))).first()
    return Outcomes() if row is None else Outcomes(*row)


def categorization_values(categorized: CaseCategorization, version: str) -> dict:
    """The case columns its top denial line decides."""
    top = categorized.top
    found = top.found
    return {"category": found.category.value, "core_scenario": found.core_scenario,
            "owning_team": found.owning_team.value, "preventable": found.preventable,
            "recommended_action": found.recommended_action.value, "rule": found.rule, "rule_why": found.why,
            "mapping_version": version, "recoverable_amount": categorized.recoverable_amount,
            "primary_group_code": top.line.group_code, "primary_carc": top.line.carc}


def priority_values(ranked: Priority, today: date) -> dict:
    return {"priority": ranked.score, "priority_parts": ranked.parts(), "priority_as_of": today}


def line_rows(tenant_id: str, case_id: UUID, categorized: CaseCategorization) -> list[dict]:
    return [{"tenant_id": tenant_id, "case_id": case_id, "position": position, "line_number": c.line.line_number,
             "procedure_code": c.procedure_code, "group_code": c.line.group_code, "carc": c.line.carc,
             "rarcs": list(c.line.rarcs), "amount": c.line.amount, "is_denial": c.found.is_denial,
             "category": c.found.category.value if c.found.category else None, "rule": c.found.rule, "why": c.found.why}
            for position, c in enumerate(categorized.lines)]


async def replace_lines(conn: AsyncConnection, tenant_id: str, case_id: UUID, categorized: CaseCategorization) -> None:
    await conn.execute(denial_lines.delete().where(denial_lines.c.tenant_id == tenant_id,
                                                   denial_lines.c.case_id == case_id))
    await conn.execute(denial_lines.insert(), line_rows(tenant_id, case_id, categorized))


async def rerank(conn: AsyncConnection, tenant_id: str, case_id: UUID, today: date) -> Priority | None:
    """Recompute one case's priority from its stored inputs (after its category, deadline or its payer's
    history changed)."""
    row = (await conn.execute(sa.select(
        denial_cases.c.payer_id, denial_cases.c.category, denial_cases.c.recoverable_amount,
        denial_cases.c.work_deadline).where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id))).first()
    if row is None:
        return None
    ranked = priority(row.recoverable_amount, row.category,
                      await payer_history(conn, tenant_id, row.payer_id, row.category), row.work_deadline, today)
    await conn.execute(denial_cases.update().where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id)
                       .values(**priority_values(ranked, today)))
    return ranked
