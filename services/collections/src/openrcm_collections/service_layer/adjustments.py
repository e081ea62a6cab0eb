"""Adjustments and write-offs on a patient's account: posted at once up to the approval threshold,
above it only once a second person approves; reversed by a new adjustment, never edited."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa

from openrcm_collections.adapters.tables import account_adjustments, ledger_entries
from openrcm_collections.service_layer.ledger import EntryDraft, lock_account
from openrcm_collections.service_layer.payments import post_movement
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.money import ZERO


async def request_adjustment(conn, tenant_id: str, patient_id: str, *, kind: str, reason_code: str, amount: Decimal,
                             claim_id: UUID | None, financial_assistance: bool, note: str | None, actor: str | None,
                             approval_threshold: Decimal) -> dict:
    """Record the adjustment; post it now when it is within the threshold, else wait for approval."""
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    owed = await _owed(conn, tenant_id, patient_id, claim_id)
    if amount > owed:
        raise Problem(422, "The request has invalid fields", type_="validation-error", errors=[field_error(
            "/amount", f"more than the patient owes{' on this claim' if claim_id else ''} ({max(owed, ZERO)})")])
    row = dict(id=uuid.uuid4(), tenant_id=tenant_id, patient_id=patient_id, claim_id=claim_id, kind=kind,
               reason_code=reason_code, amount=amount, financial_assistance=financial_assistance, note=note,
               status="pending_approval" if amount > approval_threshold else "posted", requested_by=actor,
               decided_by=None, reverses_adjustment_id=None, requested_at=now, decided_at=None)
    if row["status"] == "posted":
        row.update(decided_by=actor, decided_at=now)
    await conn.execute(account_adjustments.insert().values(**row))
    if row["status"] == "posted":
        await _post(conn, row, -amount)
    return row


async def decide_adjustment(conn, tenant_id: str, patient_id: str, adjustment_id: UUID, *, approve: bool,
                            actor: str | None) -> dict:
    """A second person approves (the adjustment posts) or rejects it; the requester cannot."""
    adjustment = await _adjustment(conn, tenant_id, patient_id, adjustment_id)
    if adjustment["status"] != "pending_approval":
        raise Problem(409, "Not waiting for approval", f"the adjustment is {adjustment['status']}",
                      type_="adjustment-not-pending")
    if actor is None or actor == adjustment["requested_by"]:
        raise Problem(403, "A second person must decide", "the person who asked for an adjustment above the "
                      "approval threshold cannot approve or reject it", type_="second-approver-required")
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    status = "posted" if approve else "rejected"
    if approve and adjustment["amount"] > await _owed(conn, tenant_id, patient_id, adjustment["claim_id"]):
        raise Problem(409, "The balance changed", "the patient now owes less than this adjustment",
                      type_="adjustment-exceeds-balance")
    await conn.execute(sa.update(account_adjustments).where(account_adjustments.c.id == adjustment_id).values(
        status=status, decided_by=actor, decided_at=now))
    adjustment.update(status=status, decided_by=actor, decided_at=now)
    if approve:
        await _post(conn, adjustment, -adjustment["amount"])
    return adjustment


async def reverse_adjustment(conn, tenant_id: str, patient_id: str, adjustment_id: UUID, *, actor: str | None) -> dict:
    """Take a posted adjustment back with a new one of the opposite amount (the patient owes it again)."""
    adjustment = await _adjustment(conn, tenant_id, patient_id, adjustment_id)
    if adjustment["status"] != "posted" or adjustment["reverses_adjustment_id"] is not None:
        raise Problem(409, "Not reversible", f"the adjustment is {adjustment['status']}", type_="adjustment-not-posted")
    now = _now()
    await lock_account(conn, tenant_id, patient_id, now)
    reversal = {**adjustment, "id": uuid.uuid4(), "status": "posted", "requested_by": actor, "decided_by": actor,
                "requested_at": now, "decided_at": now, "reverses_adjustment_id": adjustment_id}
    await conn.execute(account_adjustments.insert().values(**reversal))
    await conn.execute(sa.update(account_adjustments).where(account_adjustments.c.id == adjustment_id).values(
        status="reversed"))
    await _post(conn, reversal, adjustment["amount"])
    return reversal


async def _post(conn, adjustment: dict, amount: Decimal) -> None:
    movement = "adjustment_reversed" if adjustment["reverses_adjustment_id"] else f"adjustment:{adjustment['kind']}"
    await post_movement(conn, adjustment["tenant_id"], adjustment["patient_id"], [EntryDraft(
        "adjustment", amount, claim_id=adjustment["claim_id"], movement_id=adjustment["id"])], movement, "adjustment")


async def _owed(conn, tenant_id: str, patient_id: str, claim_id: UUID | None) -> Decimal:
    query = sa.select(sa.func.coalesce(sa.func.sum(ledger_entries.c.amount), ZERO)).where(
        ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.patient_id == patient_id)
    if claim_id is not None:
        query = query.where(ledger_entries.c.claim_id == claim_id)
    return (await conn.execute(query)).scalar_one()


async def _adjustment(conn, tenant_id: str, patient_id: str, adjustment_id: UUID) -> dict:
    row = (await conn.execute(sa.select(account_adjustments).where(
        account_adjustments.c.tenant_id == tenant_id, account_adjustments.c.patient_id == patient_id,
        account_adjustments.c.id == adjustment_id).with_for_update())).first()
    if row is None:
        raise Problem(404, "No such adjustment on this account", type_="not-found")
    return dict(row._mapping)


def _now() -> datetime:
    return datetime.now(timezone.utc)
