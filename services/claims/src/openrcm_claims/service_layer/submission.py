"""Taking in an encounter: its parties resolved, its lines split into claims the 837 can carry,
each claim with its lines and first history entries, in the caller's transaction. Each claim is
scrubbed, and a clean one goes out with the next 837 batch (service_layer.batches), which
publishes ClaimSubmitted.

One claim per encounter, responsible payer and part: the first payer in the order of benefits
gets the claims now; the next payers get theirs when the previous one has adjudicated
(service_layer.coordination_of_benefits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_claims.adapters import claim_writes
from openrcm_claims.domain.identifiers import new_patient_control_number
from openrcm_claims.domain.lifecycle import ClaimStatus, CoverageStatus
from openrcm_claims.entrypoints.schemas import (
    ClaimLineOut, ClaimOut, EncounterIn, HistoryEntryOut, PriorPayerAdjudicationOut, RelatedClaimOut,
)
from openrcm_claims.service_layer.holds import announce_scrub, scrub_result_row, scrubbed_entry, status_after_scrub
from openrcm_claims.service_layer.reference_data import (
    KNOWN_PAYERS, PROVIDER_REFERENCES, dates_of_service, require_payer, resolve_parties,
)
from openrcm_claims.service_layer.scrubbing import scrub_encounter
from openrcm_shared.audit import change_entry
from openrcm_shared.ids import uuid7
from openrcm_shared.http.problems import Problem, field_error


def claim_type(encounter: EncounterIn) -> str:
    return "institutional" if encounter.institutional_claim else "professional"


def claim_data(encounter: EncounterIn, payer) -> dict:
    """The claim columns an encounter determines (the same on intake and on correction)."""
    total = sum((line.charge_amount for line in encounter.lines), start=encounter.lines[0].charge_amount * 0)
    first_day, last_day = dates_of_service(encounter)
    # Timely filing runs from the date of service: the earliest "from" date on a professional
    # claim, the "through" date on an institutional one (Medicare Claims Processing Manual,
    # Pub. 100-04, ch. 1, section 70.5).
    clock_starts = last_day if encounter.institutional_claim else first_day
    filing_deadline = clock_starts + timedelta(days=payer.timely_filing_days)
    rendering = encounter.attending_provider if encounter.institutional_claim else encounter.rendering_provider
    columns = dict(
        patient_id=encounter.patient.id, payer_id=encounter.coverage.payer_id, member_id=encounter.coverage.member_id,
        billing_npi=encounter.billing_provider.npi, rendering_npi=rendering.npi if rendering else None,
        place_of_service=encounter.place_of_service, diagnosis_codes=encounter.diagnosis_codes, total_charge=total,
        service_date_from=first_day, service_date_to=last_day, filing_deadline=filing_deadline,
        claim_type=claim_type(encounter), encounter_document=encounter.model_dump(mode="json"))
    return {"columns": columns, "total_charge": total, "filing_deadline": filing_deadline}


def split_lines(encounter: EncounterIn, limit: int | None = None) -> list[EncounterIn]:
    """The encounter as one or more claims of at most `limit` lines (50 on an 837P: loop 2400
    repeats 50 times in 005010X222A1; 999 on an 837I), in the EHR's line order. Every part keeps
    all diagnosis codes, so the lines' pointers stay valid; each claim's total is its own lines'."""
    limit = limit or encounter.max_lines_per_claim
    if len(encounter.lines) <= limit:
        return [encounter]
    return [encounter.model_copy(update={"lines": encounter.lines[start:start + limit]})
            for start in range(0, len(encounter.lines), limit)]


def line_values(encounter: EncounterIn) -> list[dict]:
    """The encounter's lines as claim_lines values, but claim_id and tenant_id."""
    institutional = encounter.institutional_claim
    return [{"line_number": number, "procedure_code": line.procedure_code, "revenue_code": line.revenue_code,
             "modifiers": line.modifiers, "units": line.units,
             "unit_basis": line.unit_basis if institutional else None, "charge_amount": line.charge_amount,
             "service_date": line.service_date, "service_date_to": line.service_date_to,
             "place_of_service": line.place_of_service, "diagnosis_pointers": line.diagnosis_pointers}
            for number, line in enumerate(encounter.lines, start=1)]


async def insert_lines(conn: AsyncConnection, tenant_id: str, claim_id, encounter: EncounterIn) -> None:
    """The lines of an existing claim (a corrected version's)."""
    await claim_writes.insert_lines(conn, [{**line, "claim_id": claim_id, "tenant_id": tenant_id}
                                           for line in line_values(encounter)])


async def check_payers(conn: AsyncConnection, tenant_id: str, encounter: EncounterIn):
    """The billed payer's registry row; every payer named must be registered (422 naming it)."""
    for index, other in enumerate(encounter.other_coverages):
        await require_payer(conn, tenant_id, other.payer_id, f"/other_coverages/{index}/payer_id")
    return await require_payer(conn, tenant_id, encounter.coverage.payer_id, "/coverage/payer_id")


async def submit_encounter(conn: AsyncConnection, tenant_id: str, encounter: EncounterIn) -> ClaimOut:
    """Create the claims for an encounter; 409 if the EHR's encounter id was already submitted.

    Returns the first claim as the API shows it (its `related_claims` list the parts split off
    it), built from what was written (no read-back)."""
    encounter = await resolve_parties(conn, tenant_id, encounter)
    payer = await check_payers(conn, tenant_id, encounter)
    parts = split_lines(encounter)
    created: list[ClaimOut] = []
    for number, part in enumerate(parts, start=1):
        claim = await create_claim(conn, tenant_id, part, payer, split_part=number,
                                   received_detail={"split_part": number, "split_parts": len(parts)}
                                   if len(parts) > 1 else {})
        if claim is None:
            raise Problem(409, "Encounter already submitted",
                          f"Encounter {encounter.encounter_id!r} already has a claim.", type_="duplicate-encounter",
                          errors=[field_error("/encounter_id", "already submitted")])
        created.append(claim)
    return with_related(created[0], created)


def with_related(claim: ClaimOut, siblings: list[ClaimOut]) -> ClaimOut:
    return claim.model_copy(update={"related_claims": [
        RelatedClaimOut(id=other.id, patient_control_number=other.patient_control_number, payer_id=other.payer_id,
                        payer_responsibility=other.payer_responsibility, split_part=other.split_part,
                        status=other.status) for other in siblings if other.id != claim.id]})


@dataclass(frozen=True)
class NewClaim:
    """One claim scrubbed and ready to write: its rows, and the claim as the API shows it."""

    claim_row: dict
    lines: list[dict]
    scrub_row: dict
    history: list[dict]
    held: bool
    rule_set_version: str
    hits: list[dict]
    out: ClaimOut


async def create_claim(conn: AsyncConnection, tenant_id: str, encounter: EncounterIn, payer, *, split_part: int = 1,
                       prior_claim_id: UUID | None = None, prior_adjudications: list[dict] | None = None,
                       received_kind: str = "received", received_detail: dict | None = None) -> ClaimOut | None:
    """Write one claim (its row, lines, scrub result and first history entries) for the encounter's
    billed coverage; None when the encounter already has this claim (same payer responsibility
    and part)."""
    new = await prepare_claim(conn, tenant_id, encounter, payer, split_part=split_part,
                              prior_claim_id=prior_claim_id, prior_adjudications=prior_adjudications,
                              received_kind=received_kind, received_detail=received_detail)
    if not await claim_writes.insert_new_claim(conn, new.claim_row, new.lines, new.scrub_row, new.history):
        return None
    if new.held:  # ClaimHeld can be staged only once the claim exists; its entry names it
        await announce_scrub(conn, tenant_id=tenant_id, claim_id=new.out.id, version=1, from_status=None,
                             rule_set_version=new.rule_set_version, hits=new.hits, at=new.out.created_at)
    return new.out


@dataclass(frozen=True)
class IdempotentIntake:
    """A keyed request's `Idempotency-Key`, its fingerprint (openrcm_shared.http.idempotency), and
    how its answer is written from the claim: the body a replay of the key returns."""

    key: str
    fingerprint: str
    answer: Callable[[ClaimOut], bytes]


async def take_simple_encounter(engine, tenant_id: str, encounter: EncounterIn, *,  # noqa: ANN001
                                keyed: IdempotentIntake | None = None) -> ClaimOut | None:
    """Most encounters in one round trip to PostgreSQL instead of four (BEGIN, payer lookup, the
    write, COMMIT): an encounter sent in full (no registered party named by id), for one payer,
    on one claim, whose payer does not require enrollment and which scrubs clean is written by one
    statement as a transaction of its own, against this process's cached payer row; statements of
    concurrent requests share a round trip and a commit (claim_writes.NewClaimsAlone). With
    `keyed`, the same statement writes the key and its answer (201, `keyed.answer(claim)`), only
    if the practice has not used the key, so a keyed request costs what an unkeyed one does.

    None when this is not such an encounter, or when the statement wrote nothing: the encounter
    already has its claim, the payer has changed since it was cached, or the key was used (or is
    being used by a concurrent request). The caller then takes the encounter the general way
    (submit_encounter under openrcm_shared.http.idempotency.create_once), which gives each of
    those cases its answer (a replay, 422 for a key reused with another body, 409), in one
    transaction; nothing was written here, so nothing is written twice."""
    if not _simple(encounter):
        return None
    payer = await KNOWN_PAYERS.get(engine, tenant_id, encounter.coverage.payer_id)
    if payer is None or payer.enrollment_required or len(split_lines(encounter)) > 1:
        return None
    new = await prepare_claim(None, tenant_id, encounter, payer)  # no enrollment to read: no connection
    if new.held:  # ClaimHeld is staged with the claim, in the general way's transaction
        return None
    stored = (claim_writes.KeyedAnswer(keyed.key, keyed.fingerprint, 201, keyed.answer(new.out))
              if keyed is not None else None)
    try:
        written = await claim_writes.new_claims_alone(engine).write(
            new.claim_row, new.lines, new.scrub_row, new.history, payer_updated_at=payer.updated_at,
            audit_entry=change_entry(resource=new.out), keyed=stored)
    except claim_writes.KeyTaken:
        return None
    if not written:
        KNOWN_PAYERS.forget(tenant_id, payer.payer_id)  # changed, or a duplicate: read it afresh next time
        return None
    return new.out


def _simple(encounter: EncounterIn) -> bool:
    references = (encounter.patient_id, encounter.service_facility_id,
                  *(getattr(encounter, field) for field in PROVIDER_REFERENCES))
    return encounter.coverage is not None and not encounter.other_coverages and all(r is None for r in references)


async def prepare_claim(conn: AsyncConnection | None, tenant_id: str, encounter: EncounterIn, payer, *,
                        split_part: int = 1,
                        prior_claim_id: UUID | None = None, prior_adjudications: list[dict] | None = None,
                        received_kind: str = "received", received_detail: dict | None = None) -> NewClaim:
    """One claim for the encounter's billed coverage, scrubbed (which reads the providers'
    enrollments on `conn` when the payer requires enrollment; `conn` may be None otherwise), as
    rows to write and as the API shows it once written."""
    # Time-ordered (RFC 9562 v7): every index keyed by the claim, here and in each consumer's
    # database (lines, timeline, receivables, expected claims), grows at its right edge instead of
    # touching a random page per claim once the tables outgrow memory (openrcm_shared.ids).
    claim_id = uuid7()
    now = datetime.now(timezone.utc)
    pcn = new_patient_control_number()
    prior_adjudications = prior_adjudications or []
    data = claim_data(encounter, payer)
    total = data["total_charge"]
    responsibility = encounter.coverage.payer_responsibility
    # Scrub first, so the claim row is written once, with its status.
    rule_set_version, hits = await scrub_encounter(conn, tenant_id=tenant_id, encounter=encounter,
                                                   patient_control_number=pcn, total_charge=total, payer=payer,
                                                   prior_adjudications=prior_adjudications)
    status = status_after_scrub(hits)
    detail = {"total_charge": str(total), **(received_detail or {})}
    claim_row = dict(
        id=claim_id, tenant_id=tenant_id, encounter_id=encounter.encounter_id, patient_control_number=pcn,
        status=status, coverage_status=CoverageStatus.UNVERIFIED, paid_amount=0, created_at=now, updated_at=now,
        frequency_code=encounter.frequency_code, payer_responsibility=responsibility, split_part=split_part,
        prior_claim_id=prior_claim_id, prior_payer_adjudications=prior_adjudications, version=1,
        **data["columns"])
    history = [dict(claim_id=claim_id, tenant_id=tenant_id, occurred_at=now, kind=received_kind, from_status=None,
                    to_status=None, event_id=None, detail=detail)]
    held = status == ClaimStatus.HELD
    if not held:  # a clean claim's "scrubbed" entry names no event: it goes in the same statement
        history.append(scrubbed_entry(claim_id=claim_id, tenant_id=tenant_id, version=1, from_status=None,
                                      rule_set_version=rule_set_version, hits=hits, at=now))
    scrub_row = scrub_result_row(claim_id=claim_id, version=1, tenant_id=tenant_id,
                                 rule_set_version=rule_set_version, hits=hits, scrubbed_at=now)
    # Amounts, dates and ids go into the statement's JSON as they are: its JSON serialiser
    # (openrcm_shared.driver_sql._json_text) writes them as strings PostgreSQL reads back exactly.
    lines = line_values(encounter)
    entries = [{name: value for name, value in entry.items() if name not in ("claim_id", "tenant_id")}
               for entry in history]
    columns = data["columns"]
    out = ClaimOut(
        id=claim_id, encounter_id=encounter.encounter_id, patient_control_number=pcn, patient_id=columns["patient_id"],
        payer_id=columns["payer_id"], status=status, coverage_status=CoverageStatus.UNVERIFIED,
        total_charge=total, paid_amount=Decimal(0), service_date_from=columns["service_date_from"],
        service_date_to=columns["service_date_to"], diagnosis_codes=encounter.diagnosis_codes, created_at=now,
        updated_at=now, version=1, claim_type=columns["claim_type"], payer_responsibility=responsibility,
        split_part=split_part, prior_claim_id=prior_claim_id, filing_deadline=data["filing_deadline"],
        payer_claim_control_number=None, frequency_code=encounter.frequency_code,
        lines=[ClaimLineOut(line_number=n, procedure_code=line.procedure_code, revenue_code=line.revenue_code,
                            modifiers=line.modifiers, units=line.units, charge_amount=line.charge_amount,
                            service_date=line.service_date, service_date_to=line.service_date_to,
                            place_of_service=line.place_of_service, diagnosis_pointers=line.diagnosis_pointers)
               for n, line in enumerate(encounter.lines, start=1)],
        scrub_hits=hits,
        prior_payer_adjudications=[PriorPayerAdjudicationOut.model_validate(a) for a in prior_adjudications],
        history=[HistoryEntryOut(occurred_at=now, kind=received_kind, from_status=None, to_status=None,
                                 event_id=None, detail=detail)])
    return NewClaim(claim_row, lines, scrub_row, entries, held, rule_set_version, hits, out)
