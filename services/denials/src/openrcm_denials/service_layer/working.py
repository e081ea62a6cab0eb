"""Working cases day to day: assignment (one or many), notes, documentation requests to clinical staff,
manual status moves, payer settings and category overrides. Each change is one transaction with its
event; a case that does not exist in the practice is CaseNotFound (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Sequence
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.tables import (
    case_notes, case_tasks, category_overrides, denial_cases, denial_lines, payer_category_outcomes,
    payer_denial_settings,
)
from openrcm_denials.domain.case_status import TRANSITIONS, UNRESOLVED, CaseStatus
from openrcm_denials.service_layer.case_facts import rerank
from openrcm_denials.service_layer.case_moves import CaseNotFound, Emit, move_case
from openrcm_denials.service_layer.recategorize import recategorize
from openrcm_shared.contracts.denials import DenialCaseAssigned, DenialCaseNoteAdded, DenialCaseTaskChanged

DOCUMENTATION_REQUEST = "documentation_request"
OUTCOMES = (CaseStatus.WON, CaseStatus.PARTIALLY_WON, CaseStatus.LOST)
_UNRESOLVED_VALUES = [status.value for status in UNRESOLVED]


def _today() -> date:
    return datetime.now(timezone.utc).date()


async def _claims_of(conn: AsyncConnection, tenant_id: str, case_ids: Sequence[UUID]) -> dict[UUID, UUID]:
    rows = (await conn.execute(sa.select(denial_cases.c.id, denial_cases.c.claim_id).where(
        denial_cases.c.tenant_id == tenant_id, denial_cases.c.id.in_(case_ids)).with_for_update())).all()
    return {row.id: row.claim_id for row in rows}


async def assign(conn: AsyncConnection, emit: Emit, tenant_id: str, case_ids: Sequence[UUID], *,
                 assignee: str | None, assignee_kind: str | None, due_date: date | None, by: str | None) -> list[UUID]:
    """All or nothing: CaseNotFound naming the first unknown id when any is unknown."""
    claims = await _claims_of(conn, tenant_id, case_ids)
    unknown = [case_id for case_id in case_ids if case_id not in claims]
    if unknown:
        raise CaseNotFound(unknown[0])
    await conn.execute(denial_cases.update().where(denial_cases.c.tenant_id == tenant_id,
                                                   denial_cases.c.id.in_(case_ids))
                       .values(assignee=assignee, assignee_kind=assignee_kind, due_date=due_date))
    for case_id in dict.fromkeys(case_ids):
        await emit(DenialCaseAssigned(tenant_id=tenant_id, case_id=case_id, claim_id=claims[case_id],
                                      assignee=assignee, assignee_kind=assignee_kind, due_date=due_date,
                                      assigned_by=by))
    return list(dict.fromkeys(case_ids))


async def add_note(conn: AsyncConnection, emit: Emit, tenant_id: str, case_id: UUID, *, body: str,
                   author: str | None) -> dict:
    claims = await _claims_of(conn, tenant_id, [case_id])
    if case_id not in claims:
        raise CaseNotFound(case_id)
    note = {"id": uuid4(), "tenant_id": tenant_id, "case_id": case_id, "author": author, "body": body,
            "created_at": datetime.now(timezone.utc)}
    await conn.execute(case_notes.insert().values(**note))
    await emit(DenialCaseNoteAdded(tenant_id=tenant_id, case_id=case_id, claim_id=claims[case_id],
                                   note_id=note["id"], author=author))
    return note


async def _status(conn: AsyncConnection, tenant_id: str, case_id: UUID) -> CaseStatus:
    return CaseStatus((await conn.execute(sa.select(denial_cases.c.status).where(
        denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id))).scalar_one())


async def request_documentation(conn: AsyncConnection, emit: Emit, tenant_id: str, case_id: UUID, *,
                                description: str, assignee: str | None, due_date: date | None,
                                by: str | None) -> dict:
    """A task for clinical staff; the case waits on clinical while one is open (when its status allows:
    an appealed case keeps its status, the payer has it)."""
    claims = await _claims_of(conn, tenant_id, [case_id])
    if case_id not in claims:
        raise CaseNotFound(case_id)
    task = {"id": uuid4(), "tenant_id": tenant_id, "case_id": case_id, "kind": DOCUMENTATION_REQUEST,
            "description": description, "assignee": assignee, "due_date": due_date, "status": "open",
            "created_by": by, "created_at": datetime.now(timezone.utc)}
    await conn.execute(case_tasks.insert().values(**task))
    await emit(DenialCaseTaskChanged(tenant_id=tenant_id, case_id=case_id, claim_id=claims[case_id],
                                     task_id=task["id"], kind=DOCUMENTATION_REQUEST, status="open",
                                     assignee=assignee, due_date=due_date, changed_by=by))
    current = await _status(conn, tenant_id, case_id)
    if current is not CaseStatus.WAITING_ON_CLINICAL and CaseStatus.WAITING_ON_CLINICAL in _allowed(current):
        await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=CaseStatus.WAITING_ON_CLINICAL,
                        changed_by=by, reason="documentation requested from clinical staff")
    return task


def _allowed(current: CaseStatus) -> frozenset[CaseStatus]:
    return TRANSITIONS[current]


class TaskNotFound(LookupError):
    pass


class TaskClosed(Exception):
    pass


async def close_task(conn: AsyncConnection, emit: Emit, tenant_id: str, case_id: UUID, task_id: UUID, *,
                     status: str, by: str | None) -> dict:
    """Done or cancelled; the last open task closing puts a case waiting on clinical back in progress."""
    claims = await _claims_of(conn, tenant_id, [case_id])
    if case_id not in claims:
        raise CaseNotFound(case_id)
    task = (await conn.execute(sa.select(case_tasks).where(
        case_tasks.c.tenant_id == tenant_id, case_tasks.c.case_id == case_id, case_tasks.c.id == task_id)
        .with_for_update())).first()
    if task is None:
        raise TaskNotFound(task_id)
    if task.status != "open":
        raise TaskClosed(task.status)
    now = datetime.now(timezone.utc)
    await conn.execute(case_tasks.update().where(case_tasks.c.id == task_id)
                       .values(status=status, closed_by=by, closed_at=now))
    await emit(DenialCaseTaskChanged(tenant_id=tenant_id, case_id=case_id, claim_id=claims[case_id], task_id=task_id,
                                     kind=task.kind, status=status, assignee=task.assignee, due_date=task.due_date,
                                     changed_by=by))
    still_open = (await conn.execute(sa.select(sa.func.count()).where(
        case_tasks.c.tenant_id == tenant_id, case_tasks.c.case_id == case_id, case_tasks.c.status == "open"))).scalar_one()
    if not still_open and await _status(conn, tenant_id, case_id) is CaseStatus.WAITING_ON_CLINICAL:
        await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=CaseStatus.IN_PROGRESS,
                        changed_by=by, reason="documentation requests answered")
    return {**task._mapping, "status": status, "closed_by": by, "closed_at": now}


async def move_manually(conn: AsyncConnection, emit: Emit, tenant_id: str, case_id: UUID, *, target: CaseStatus,
                        by: str | None, reason: str | None, amount_recovered: Decimal | None) -> CaseStatus:
    """A person's move; an outcome updates the payer's history at once, so its other open cases re-rank."""
    left = await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=target, changed_by=by,
                           reason=reason, amount_recovered=amount_recovered)
    if target in OUTCOMES:
        row = (await conn.execute(sa.select(denial_cases.c.payer_id, denial_cases.c.category).where(
            denial_cases.c.tenant_id == tenant_id, denial_cases.c.id == case_id))).first()
        await refresh_outcomes(conn, tenant_id, row.payer_id, row.category)
    return left


async def refresh_outcomes(conn: AsyncConnection, tenant_id: str, payer_id: str, category: str | None) -> bool:
    """Recount how the payer's cases of the category ended; when that changed, re-rank its unresolved
    cases of the category. Answers whether it changed."""
    counts = (await conn.execute(sa.select(
        *[sa.func.count().filter(denial_cases.c.status == outcome.value) for outcome in OUTCOMES],
    ).where(denial_cases.c.tenant_id == tenant_id, denial_cases.c.payer_id == payer_id,
            denial_cases.c.category == category))).one()
    stored = (await conn.execute(sa.select(
        payer_category_outcomes.c.won, payer_category_outcomes.c.partially_won, payer_category_outcomes.c.lost,
    ).where(payer_category_outcomes.c.tenant_id == tenant_id, payer_category_outcomes.c.payer_id == payer_id,
            payer_category_outcomes.c.category == category))).first()
    if category is None or (stored is not None and tuple(stored) == tuple(counts)):
        return False
    values = dict(won=counts[0], partially_won=counts[1], lost=counts[2])
    await conn.execute(pg_insert(payer_category_outcomes).values(
        tenant_id=tenant_id, payer_id=payer_id, category=category, **values,
    ).on_conflict_do_update(index_elements=["tenant_id", "payer_id", "category"], set_=values))
    open_cases = (await conn.execute(sa.select(denial_cases.c.id).where(
        denial_cases.c.tenant_id == tenant_id, denial_cases.c.payer_id == payer_id,
        denial_cases.c.category == category, denial_cases.c.status.in_(_UNRESOLVED_VALUES)))).scalars().all()
    for open_case in open_cases:
        await rerank(conn, tenant_id, open_case, _today())
    return True


@dataclass(frozen=True)
class PayerSettingsIn:
    appeal_level1_days: int
    appeal_level2_days: int
    external_review_days: int
    corrected_claim_days: int


async def _unresolved_of_payer(conn: AsyncConnection, tenant_id: str, payer_id: str, carc: str | None = None):
    query = sa.select(denial_cases.c.id).where(denial_cases.c.tenant_id == tenant_id,
                                               denial_cases.c.payer_id == payer_id,
                                               denial_cases.c.status.in_(_UNRESOLVED_VALUES))
    if carc is not None:
        query = query.where(sa.exists().where(denial_lines.c.case_id == denial_cases.c.id,
                                              denial_lines.c.tenant_id == tenant_id, denial_lines.c.carc == carc))
    return (await conn.execute(query)).scalars().all()


async def set_payer_settings(conn: AsyncConnection, emit: Emit, tenant_id: str, payer_id: str,
                             settings: PayerSettingsIn, by: str | None) -> dict:
    """Upsert; the payer's unresolved cases get their deadlines (and so priorities) from the new windows."""
    values = {**settings.__dict__, "updated_by": by, "updated_at": datetime.now(timezone.utc)}
    row = (await conn.execute(pg_insert(payer_denial_settings).values(tenant_id=tenant_id, payer_id=payer_id, **values)
                              .on_conflict_do_update(index_elements=["tenant_id", "payer_id"], set_=values)
                              .returning(payer_denial_settings))).one()
    for case_id in await _unresolved_of_payer(conn, tenant_id, payer_id):
        await recategorize(conn, emit, tenant_id, case_id, _today())
    return dict(row._mapping)


async def set_override(conn: AsyncConnection, emit: Emit, tenant_id: str, payer_id: str, carc: str, values: dict,
                       by: str | None) -> dict:
    values = {**values, "updated_by": by, "updated_at": datetime.now(timezone.utc)}
    row = (await conn.execute(pg_insert(category_overrides).values(tenant_id=tenant_id, payer_id=payer_id, carc=carc,
                                                                   **values)
                              .on_conflict_do_update(index_elements=["tenant_id", "payer_id", "carc"], set_=values)
                              .returning(category_overrides))).one()
    for case_id in await _unresolved_of_payer(conn, tenant_id, payer_id, carc):
        await recategorize(conn, emit, tenant_id, case_id, _today())
    return dict(row._mapping)


async def delete_override(conn: AsyncConnection, emit: Emit, tenant_id: str, payer_id: str, carc: str) -> bool:
    deleted = (await conn.execute(category_overrides.delete().where(
        category_overrides.c.tenant_id == tenant_id, category_overrides.c.payer_id == payer_id,
        category_overrides.c.carc == carc).returning(category_overrides.c.carc))).first()
    if deleted is None:
        return False
    for case_id in await _unresolved_of_payer(conn, tenant_id, payer_id, carc):
        await recategorize(conn, emit, tenant_id, case_id, _today())
    return True
