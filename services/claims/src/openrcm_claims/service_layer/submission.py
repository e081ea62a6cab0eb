"""Taking in an encounter: one claim, its lines and its first history entry, in the caller's
transaction. The claim is then scrubbed, and a clean one goes out with the next 837 batch
(service_layer.batches), which publishes ClaimSubmitted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters.tables import claim_lines, claims
from openrcm_claims.domain.identifiers import new_patient_control_number
from openrcm_claims.service_layer.reference_data import require_payer
from openrcm_claims.service_layer.holds import record_scrub, status_after_scrub
from openrcm_claims.service_layer.scrubbing import scrub_encounter
from openrcm_claims.domain.lifecycle import CoverageStatus
from openrcm_claims.entrypoints.schemas import ClaimLineOut, ClaimOut, EncounterIn, HistoryEntryOut
from openrcm_shared.http.problems import Problem, field_error



def claim_data(encounter: EncounterIn, payer) -> dict:
    """The claim columns an encounter determines (the same on intake and on correction)."""
    total = sum((line.charge_amount for line in encounter.lines), start=encounter.lines[0].charge_amount * 0)
    dates = [line.service_date for line in encounter.lines]
    # Timely filing runs from the date of service; the earliest line sets the deadline.
    filing_deadline = min(dates) + timedelta(days=payer.timely_filing_days)
    columns = dict(
        patient_id=encounter.patient.id, payer_id=encounter.coverage.payer_id, member_id=encounter.coverage.member_id,
        billing_npi=encounter.billing_provider.npi,
        rendering_npi=encounter.rendering_provider.npi if encounter.rendering_provider else None,
        place_of_service=encounter.place_of_service, diagnosis_codes=encounter.diagnosis_codes, total_charge=total,
        service_date_from=min(dates), service_date_to=max(dates), filing_deadline=filing_deadline,
        encounter_document=encounter.model_dump(mode="json"))
    return {"columns": columns, "total_charge": total, "dates": dates, "filing_deadline": filing_deadline}


async def insert_lines(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    await conn.execute(claim_lines.insert(), [
        {"claim_id": claim_id, "line_number": number, "tenant_id": tenant_id, "procedure_code": line.procedure_code,
         "modifiers": line.modifiers, "units": line.units, "charge_amount": line.charge_amount,
         "service_date": line.service_date, "place_of_service": line.place_of_service,
         "diagnosis_pointers": line.diagnosis_pointers}
        for number, line in enumerate(encounter.lines, start=1)])


async def submit_encounter(conn: AsyncConnection, tenant_id: str, encounter: EncounterIn) -> ClaimOut:
    """Create the claim for an encounter; 409 if the EHR's encounter id was already submitted.

    Returns the new claim as the API shows it, built from what was written (no read-back)."""
    payer = await require_payer(conn, tenant_id, encounter.coverage.payer_id, "/coverage/payer_id")
    claim_id = uuid4()
    now = datetime.now(timezone.utc)
    pcn = new_patient_control_number()
    data = claim_data(encounter, payer)
    total, dates, filing_deadline = data["total_charge"], data["dates"], data["filing_deadline"]
    # Scrub first, so the claim row is written once, with its status.
    rule_set_version, hits = await scrub_encounter(conn, tenant_id=tenant_id, encounter=encounter,
                                                   patient_control_number=pcn, total_charge=total, payer=payer)
    status = status_after_scrub(hits)
    inserted = await conn.execute(
        pg_insert(claims).values(
            id=claim_id, tenant_id=tenant_id, encounter_id=encounter.encounter_id, patient_control_number=pcn,
            status=status, coverage_status=CoverageStatus.UNVERIFIED, paid_amount=0, created_at=now,
            updated_at=now, **data["columns"],
        ).on_conflict_do_nothing(constraint="uq_claims_tenant_encounter").returning(claims.c.id))
    if inserted.first() is None:
        raise Problem(409, "Encounter already submitted",
                      f"Encounter {encounter.encounter_id!r} already has a claim.", type_="duplicate-encounter",
                      errors=[field_error("/encounter_id", "already submitted")])
    await insert_lines(conn, tenant_id, claim_id, encounter)
    received = dict(claim_id=claim_id, tenant_id=tenant_id, occurred_at=now, kind="received", from_status=None,
                    to_status=None, event_id=None, detail={"total_charge": str(total)})
    await record_scrub(conn, tenant_id=tenant_id, claim_id=claim_id, version=1, from_status=None,
                       rule_set_version=rule_set_version, hits=hits, status_written=True,
                       earlier_history=(received,))
    return ClaimOut(
        id=claim_id, encounter_id=encounter.encounter_id, patient_control_number=pcn, patient_id=encounter.patient.id,
        payer_id=encounter.coverage.payer_id, status=status, coverage_status=CoverageStatus.UNVERIFIED,
        total_charge=total, paid_amount=0, service_date_from=min(dates), service_date_to=max(dates),
        diagnosis_codes=encounter.diagnosis_codes, created_at=now, updated_at=now, version=1,
        claim_type="professional", filing_deadline=filing_deadline, payer_claim_control_number=None,
        frequency_code="1",
        lines=[ClaimLineOut(line_number=n, procedure_code=line.procedure_code, modifiers=line.modifiers,
                            units=line.units, charge_amount=line.charge_amount, service_date=line.service_date,
                            place_of_service=line.place_of_service, diagnosis_pointers=line.diagnosis_pointers)
               for n, line in enumerate(encounter.lines, start=1)],
        scrub_hits=hits,
        history=[HistoryEntryOut(occurred_at=now, kind="received", from_status=None, to_status=None,
                                 event_id=None, detail={"total_charge": str(total)})])
