"""271 files uploaded (batch answers a clearinghouse returns): each answer finds its check by our
trace number (TRN*2), else by member id and payer; an answer that matches no check is stored and
normalized all the same, attached to the coverage of that member and payer when there is one. The
file is stored once (service_layer.response_files); each check shows its own 271 from it."""

from __future__ import annotations

from datetime import date, datetime, timezone
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_eligibility.adapters.tables import eligibility_checks, eligibility_coverages
from openrcm_eligibility.entrypoints.schemas import UploadedResultOut
from openrcm_eligibility.service_layer.checks import PENDING, record_answer
from openrcm_eligibility.service_layer.response_files import answer_locations, store_response_file
from openrcm_shared.x12.eligibility_271 import EligibilityResponse


async def apply_answers(conn: AsyncConnection, tenant_id: str, answers: list[EligibilityResponse], text: str,
                        ) -> tuple[list[UploadedResultOut], set]:
    """One result per answer, and the batches whose checks it answered (to finish after commit).
    The file is stored once; each check keeps where its transaction set is in it."""
    now = datetime.now(timezone.utc)
    file_id = await store_response_file(conn, tenant_id, text, now)
    locations = answer_locations(text, answers)
    results, batch_ids = [], set()
    for answer, location in zip(answers, locations):
        check, matched_by = await _matching_check(conn, tenant_id, answer)
        if check is None or check.status != PENDING:
            check = await _new_check(conn, tenant_id, answer, check, now)
        await record_answer(conn, check, answer, None, now,
                            stored_271={"response_file_id": file_id, "response_location": location})
        stored = (await conn.execute(sa.select(eligibility_checks).where(eligibility_checks.c.id == check.id))).one()
        if stored.batch_id is not None:
            batch_ids.add(stored.batch_id)
        results.append(UploadedResultOut(
            check_id=stored.id, matched_by=matched_by, status=stored.status, coverage_id=stored.coverage_id,
            patient_id=stored.patient_id, member_id=answer.member_id,
            payer_id=answer.payer.identifier if answer.payer else None,
            trace_numbers=[trace.number for trace in answer.trace_numbers]))
    return results, batch_ids


async def _matching_check(conn: AsyncConnection, tenant_id: str, answer: EligibilityResponse):
    traces = [trace.number for trace in answer.trace_numbers]
    if traces:
        check = (await conn.execute(sa.select(eligibility_checks).where(
            eligibility_checks.c.tenant_id == tenant_id, eligibility_checks.c.trace_number.in_(traces)))).first()
        if check is not None:
            return check, "trace_number"
    payer_id = answer.payer.identifier if answer.payer else None
    if answer.member_id and payer_id:
        check = (await conn.execute(sa.select(eligibility_checks).where(
            eligibility_checks.c.tenant_id == tenant_id, eligibility_checks.c.payer_id == payer_id,
            eligibility_checks.c.member_id == answer.member_id)
            .order_by((eligibility_checks.c.status == PENDING).desc(), eligibility_checks.c.requested_at.desc())
            .limit(1))).first()
        if check is not None:
            return check, "member_and_payer"
    return None, "none"


async def _new_check(conn: AsyncConnection, tenant_id: str, answer: EligibilityResponse, matched, now: datetime):
    """A check for an answer nobody asked for (or one already answered): its coverage from the
    matched check, else from member and payer."""
    payer_id = (answer.payer.identifier if answer.payer else None) or (matched.payer_id if matched else "")
    member_id = answer.member_id or (matched.member_id if matched else "")
    coverage = None
    if matched is None and member_id and payer_id:
        coverage = (await conn.execute(sa.select(eligibility_coverages).where(
            eligibility_coverages.c.tenant_id == tenant_id, eligibility_coverages.c.payer_id == payer_id,
            eligibility_coverages.c.member_id == member_id))).first()
    plan_date = (answer.subscriber.dates.get("plan") if answer.subscriber else None)
    service_date = matched.service_date if matched else (plan_date.start if plan_date else date.today())
    values = dict(id=uuid4(), tenant_id=tenant_id, payer_id=payer_id, member_id=member_id, service_date=service_date,
                  patient_id=matched.patient_id if matched else (coverage.patient_id if coverage else None),
                  coverage_id=matched.coverage_id if matched else (coverage.coverage_id if coverage else None),
                  status=PENDING, origin="upload", requested_at=now, attempts=0)
    await conn.execute(eligibility_checks.insert().values(**values))
    return (await conn.execute(sa.select(eligibility_checks).where(eligibility_checks.c.id == values["id"]))).one()
