"""A case's other ways out: write off (a second person approves above the threshold), transfer to the
patient, bill the next payer, or ask claims for a corrected claim. Each is recorded in `case_actions`,
announced with its event and moves the case through `move_case`, all in one transaction."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_denials.adapters.appeal_tables import case_actions, claim_facts
from openrcm_denials.domain.case_status import CaseStatus
from openrcm_denials.domain.case_work import check_bill_secondary, check_transfer_to_patient
from openrcm_denials.service_layer.appeals import case_category, load_case
from openrcm_denials.service_layer.case_moves import Emit, move_case
from openrcm_shared.contracts.denials import (
    CorrectedClaimRequested, DenialTransferredToPatient, DenialWrittenOff, LineCorrection, SecondaryBillingRequested,
)
from openrcm_shared.http.problems import Problem, field_error


class SameApprover(Exception):
    """The person who asked for a write-off cannot approve it (a 403)."""


class NotPendingApproval(Exception):
    """The write-off was already approved (a 409)."""


async def _record(conn: AsyncConnection, case, *, kind: str, status: str, amount: Decimal | None, reason: str,
                  requested_by: str, detail: dict | None = None, approved_by: str | None = None) -> dict:
    now = datetime.now(timezone.utc)
    row = {"id": uuid4(), "tenant_id": case.tenant_id, "case_id": case.id, "claim_id": case.claim_id, "kind": kind,
           "status": status, "amount": amount, "reason": reason, "detail": detail or {},
           "requested_by": requested_by, "requested_at": now, "approved_by": approved_by,
           "decided_at": now if status == "done" else None}
    await conn.execute(case_actions.insert().values(**row))
    return row


def _amount_within(case, amount: Decimal | None) -> Decimal:
    amount = case.denied_amount if amount is None else amount
    if amount <= 0 or amount > case.denied_amount:
        raise Problem(422, "Invalid amount", type_="validation-error",
                      errors=[field_error("/amount", f"more than 0.00 and at most the denied {case.denied_amount}")])
    return amount


async def _write_off_done(conn: AsyncConnection, emit: Emit, case, amount: Decimal, reason: str, requested_by: str,
                          approved_by: str | None) -> None:
    await move_case(conn, emit, tenant_id=case.tenant_id, case_id=case.id, target=CaseStatus.WRITTEN_OFF,
                    changed_by=approved_by or requested_by, reason=reason)
    await emit(DenialWrittenOff(tenant_id=case.tenant_id, case_id=case.id, claim_id=case.claim_id,
                                payer_id=case.payer_id, amount=amount, reason=reason, requested_by=requested_by,
                                approved_by=approved_by))


async def request_write_off(conn: AsyncConnection, emit: Emit, *, tenant_id: str, case_id: UUID,
                            amount: Decimal | None, reason: str, requested_by: str, threshold: Decimal) -> dict:
    """At or under the threshold the write-off is done now; above it, it waits for a second person."""
    case = await load_case(conn, tenant_id, case_id, for_update=True)
    amount = _amount_within(case, amount)
    if amount <= threshold:
        await _write_off_done(conn, emit, case, amount, reason, requested_by, None)
        return await _record(conn, case, kind="write_off", status="done", amount=amount, reason=reason,
                             requested_by=requested_by)
    return await _record(conn, case, kind="write_off", status="pending_approval", amount=amount, reason=reason,
                         requested_by=requested_by, detail={"threshold": str(threshold)})


async def approve_write_off(conn: AsyncConnection, emit: Emit, *, tenant_id: str, write_off_id: UUID,
                            approved_by: str) -> dict:
    row = (await conn.execute(sa.select(case_actions).where(
        case_actions.c.tenant_id == tenant_id, case_actions.c.id == write_off_id,
        case_actions.c.kind == "write_off").with_for_update())).first()
    if row is None:
        raise Problem(404, "Write-off not found", type_="not-found")
    if row.status != "pending_approval":
        raise NotPendingApproval(row.status)
    if row.requested_by == approved_by:
        raise SameApprover()
    case = await load_case(conn, tenant_id, row.case_id, for_update=True)
    await _write_off_done(conn, emit, case, row.amount, row.reason, row.requested_by, approved_by)
    now = datetime.now(timezone.utc)
    await conn.execute(case_actions.update().where(case_actions.c.id == write_off_id)
                       .values(status="done", approved_by=approved_by, decided_at=now))
    return {**row._asdict(), "status": "done", "approved_by": approved_by, "decided_at": now}


async def transfer_to_patient(conn: AsyncConnection, emit: Emit, *, tenant_id: str, case_id: UUID,
                              amount: Decimal | None, reason: str, requested_by: str) -> dict:
    """The payer's denial stands and the patient owes the amount: the case is lost to the payer
    (reason `transferred_to_patient`) and collections bills the patient."""
    case = await load_case(conn, tenant_id, case_id, for_update=True)
    check_transfer_to_patient(case_category(case))
    amount = _amount_within(case, amount)
    patient_id = (await conn.execute(sa.select(claim_facts.c.patient_id).where(
        claim_facts.c.tenant_id == tenant_id, claim_facts.c.claim_id == case.claim_id))).scalar_one_or_none()
    if patient_id is None:
        raise Problem(409, "Patient not known", "No ClaimSubmitted for this claim has reached the denials service.",
                      type_="claim-facts-missing")
    await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=CaseStatus.LOST,
                    changed_by=requested_by, reason="transferred_to_patient")
    await emit(DenialTransferredToPatient(tenant_id=tenant_id, case_id=case_id, claim_id=case.claim_id,
                                          patient_id=patient_id, payer_id=case.payer_id, amount=amount,
                                          reason=reason, requested_by=requested_by))
    return await _record(conn, case, kind="transfer_to_patient", status="done", amount=amount, reason=reason,
                         requested_by=requested_by, detail={"patient_id": patient_id})


async def bill_secondary(conn: AsyncConnection, emit: Emit, *, tenant_id: str, case_id: UUID, reason: str,
                         requested_by: str) -> dict:
    """A coordination-of-benefits denial: this payer's denial stands (lost, reason
    `billed_to_next_payer`) and claims bills the patient's next payer if it has one."""
    case = await load_case(conn, tenant_id, case_id, for_update=True)
    check_bill_secondary(case_category(case))
    await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=CaseStatus.LOST,
                    changed_by=requested_by, reason="billed_to_next_payer")
    await emit(SecondaryBillingRequested(tenant_id=tenant_id, case_id=case_id, claim_id=case.claim_id,
                                         payer_id=case.payer_id, amount=case.denied_amount,
                                         requested_by=requested_by))
    return await _record(conn, case, kind="bill_secondary", status="done", amount=case.denied_amount,
                         reason=reason, requested_by=requested_by)


async def request_correction(conn: AsyncConnection, emit: Emit, *, tenant_id: str, case_id: UUID,
                             lines: list[LineCorrection], diagnosis_codes: list[str] | None, reason: str,
                             requested_by: str) -> dict:
    """Claims replaces the claim with the payer (frequency 7) with these corrections; the case waits
    as `corrected_resubmitted` and settles when the payer's next 835 for the claim is posted."""
    case = await load_case(conn, tenant_id, case_id, for_update=True)
    await move_case(conn, emit, tenant_id=tenant_id, case_id=case_id, target=CaseStatus.CORRECTED_RESUBMITTED,
                    changed_by=requested_by, reason="corrected_claim_requested")
    request_id = uuid4()
    await emit(CorrectedClaimRequested(tenant_id=tenant_id, case_id=case_id, claim_id=case.claim_id,
                                       request_id=request_id, lines=lines, diagnosis_codes=diagnosis_codes,
                                       reason=reason, requested_by=requested_by))
    return await _record(conn, case, kind="corrected_claim", status="done", amount=None, reason=reason,
                         requested_by=requested_by, detail={
                             "request_id": str(request_id), "diagnosis_codes": diagnosis_codes,
                             "lines": [line.model_dump(mode="json", exclude_none=True) for line in lines]})
