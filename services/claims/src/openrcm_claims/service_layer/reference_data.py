"""Reference data: the payer registry, and the patients, coverages, providers and facilities an
encounter may name by id instead of sending them in full.

`resolve_parties` turns an encounter that names its parties by id into the same encounter with
every party in full (as the EHR could have sent it). The claim keeps that resolved document, so
a claim always shows what was billed even when the registry changes later.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openrcm_shared.driver_sql import DriverStatement, fetch, record_type
from openrcm_claims.adapters.tables import (
    coverages, patients, payer_identifiers, payers, providers, service_facilities,
)
from openrcm_claims.service_layer.coverage_events import announce_coverages
from openrcm_claims.entrypoints.party_schemas import (
    CoverageRecordIn, CoverageRecordOut, FacilityRecordIn, ProviderRecordIn,
)
from openrcm_claims.entrypoints.schemas import (
    PAYER_RESPONSIBILITY_ORDER, AddressIn, CoverageIn, EncounterIn, PatientIn, PersonIn, ProviderIn,
    ServiceFacilityIn,
)
from openrcm_shared.http.problems import Problem, field_error

# Encounter field naming a provider by NPI -> (embedded field, role the provider must hold).
PROVIDER_REFERENCES = {
    "billing_provider_npi": ("billing_provider", "billing"),
    "rendering_provider_npi": ("rendering_provider", "rendering"),
    "referring_provider_npi": ("referring_provider", "referring"),
    "supervising_provider_npi": ("supervising_provider", "supervising"),
    "attending_provider_npi": ("attending_provider", "attending"),
}


def invalid(problems: list[tuple[str, str]], title: str = "The request has invalid fields") -> Problem:
    return Problem(422, title, type_="validation-error",
                   errors=[field_error(pointer, message) for pointer, message in problems])


# Every claim taken in looks its payer up: a driver statement (adapters.driver_sql), since
# SQLAlchemy's execution layer cost more CPU than the query does in PostgreSQL. It is the intake
# transaction's first statement, so it also sends that transaction's BEGIN.
_PAYER = DriverStatement(sa.select(payers).where(payers.c.tenant_id == sa.bindparam("tenant_id"),
                                                 payers.c.payer_id == sa.bindparam("payer_id")))
PayerRow = record_type("PayerRow", payers)


async def require_payer(conn, tenant_id: str, payer_id: str, pointer: str) -> PayerRow:
    """The payer's registry row; 422 naming the field when it is not in this practice's registry.
    `conn` must be in a transaction (every caller writes after it)."""
    known = await find_payer(conn, tenant_id, payer_id)
    if known is None:
        raise Problem(422, "Unknown payer", f"Payer {payer_id!r} is not registered; PUT /v1/payers/{payer_id} first.",
                      type_="unknown-payer", errors=[field_error(pointer, "unknown payer")])
    return known


async def find_payer(conn, tenant_id: str, payer_id: str) -> PayerRow | None:  # noqa: ANN001
    found = await fetch(conn, _PAYER, {"tenant_id": tenant_id, "payer_id": payer_id})
    return PayerRow(*found[0]) if found else None


class KnownPayers:
    """Payers' registry rows as this process last read them, for the intake's one-round-trip path
    (submission.take_simple_encounter). A cached row may be stale, since another process may have
    changed the payer: the claim scrubbed against it is written only if the row still carries
    the same `updated_at` (claim_writes.NewClaimsAlone's statement checks it as it writes),
    and otherwise the encounter is taken the general way, which reads the payer afresh. Payers are
    never deleted, so a payer once known stays known; at most `limit` rows are kept.

    The identifiers that name a payer (FHIR intake: Claim.insurer, Coverage.payor) are kept with
    its row: every identifier cached for a payer was read with the row cached for it. Changing a
    payer's identifiers (PUT /v1/payers/{id}) gives it a new `updated_at`, so a write made on a
    stale identifier fails the same check, and a payer forgotten or read anew with another
    `updated_at` takes its cached identifiers with it. Identifiers no payer holds are not cached."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._rows: dict[tuple[str, str], PayerRow] = {}
        self._identified: dict[tuple[str, str, str], str] = {}       # (tenant, system, value) -> payer id
        self._identifiers_of: dict[tuple[str, str], set[tuple[str, str, str]]] = {}

    async def get(self, engine, tenant_id: str, payer_id: str) -> PayerRow | None:  # noqa: ANN001
        """The payer's row, read (in a transaction of its own) when not cached; None when unknown."""
        key = (tenant_id, payer_id)
        row = self._rows.get(key)
        if row is None:
            async with engine.begin() as conn:
                row = await find_payer(conn, tenant_id, payer_id)
            if row is None:
                return None
            self._keep(tenant_id, row)
        return row

    async def by_identifiers(self, engine, tenant_id: str,  # noqa: ANN001
                             pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(system, value) -> the payer it identifies, for those registered (as
        payers_by_identifiers), from the cache, reading (with the payers' rows) those not in it."""
        found = {pair: self._identified[(tenant_id, *pair)] for pair in pairs if (tenant_id, *pair) in self._identified}
        missing = [pair for pair in pairs if pair not in found]
        if missing:
            async with engine.begin() as conn:
                rows = await fetch(conn, _PAYERS_BY_IDENTIFIER, {"tenant_id": tenant_id,
                                                                 "systems": [s for s, _ in missing],
                                                                 "values": [v for _, v in missing]})
            for row in rows:
                payer = PayerRow(*row[2:])
                self._keep(tenant_id, payer)
                pair = (row["system"], row["value"])
                self._identified[(tenant_id, *pair)] = payer.payer_id
                self._identifiers_of.setdefault((tenant_id, payer.payer_id), set()).add((tenant_id, *pair))
                found[pair] = payer.payer_id
        return found

    def _keep(self, tenant_id: str, row: PayerRow) -> None:
        cached = self._rows.get((tenant_id, row.payer_id))
        if cached is not None and cached.updated_at != row.updated_at:
            self.forget(tenant_id, row.payer_id)  # its identifiers were read with the older row
        if len(self._rows) >= self.limit:
            self._rows.clear()
            self._identified.clear()
            self._identifiers_of.clear()
        self._rows[(tenant_id, row.payer_id)] = row

    def forget(self, tenant_id: str, payer_id: str) -> None:
        """The payer changed (or may have): read it, and the identifiers naming it, again next time."""
        self._rows.pop((tenant_id, payer_id), None)
        for identified in self._identifiers_of.pop((tenant_id, payer_id), ()):
            self._identified.pop(identified, None)


# Payers by identifier, with each identifier's payer row (one round trip for the FHIR intake's
# fast path): the columns system, value, then every column of payers.
_PAYERS_BY_IDENTIFIER = DriverStatement(
    sa.select(payer_identifiers.c.system, payer_identifiers.c.value, *payers.c)
    .join(payers, sa.and_(payers.c.tenant_id == payer_identifiers.c.tenant_id,
                          payers.c.payer_id == payer_identifiers.c.payer_id))
    .join(sa.func.unnest(sa.bindparam("systems", type_=sa.ARRAY(sa.Text)),
                         sa.bindparam("values", type_=sa.ARRAY(sa.Text)))
          .table_valued("system", "value").render_derived(name="asked"),
          sa.and_(sa.literal_column("asked.system") == payer_identifiers.c.system,
                  sa.literal_column("asked.value") == payer_identifiers.c.value))
    .where(payer_identifiers.c.tenant_id == sa.bindparam("tenant_id")))


KNOWN_PAYERS = KnownPayers()


async def payer_names(conn: AsyncConnection, tenant_id: str) -> dict[str, str]:
    """Payer id -> registered name (2010BB / 2330B NM103) for one practice."""
    rows = (await conn.execute(sa.select(payers.c.payer_id, payers.c.name)
                               .where(payers.c.tenant_id == tenant_id))).all()
    return {row.payer_id: row.name for row in rows}


async def replace_payer_identifiers(conn: AsyncConnection, tenant_id: str, payer_id: str,
                                    identifiers: list[tuple[str, str]]) -> None:
    """The payer's identifiers (system, value) become exactly these; 422 naming `/identifiers/{i}`
    for each one another payer of the practice already holds."""
    await conn.execute(payer_identifiers.delete().where(payer_identifiers.c.tenant_id == tenant_id,
                                                        payer_identifiers.c.payer_id == payer_id))
    if not identifiers:
        return
    held = await payers_by_identifiers(conn, tenant_id, identifiers)
    problems = [(f"/identifiers/{index}", f"already identifies payer {held[pair]}")
                for index, pair in enumerate(identifiers) if pair in held]
    if problems:
        raise invalid(problems, "Payer identifiers are unique in a practice")
    await conn.execute(payer_identifiers.insert(), [
        {"tenant_id": tenant_id, "payer_id": payer_id, "system": system, "value": value}
        for system, value in identifiers])


async def payers_by_identifiers(conn, tenant_id: str, identifiers: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(system, value) -> the payer it identifies in this practice, for those registered."""
    if not identifiers:
        return {}
    pairs = sa.tuple_(payer_identifiers.c.system, payer_identifiers.c.value)
    rows = (await conn.execute(sa.select(payer_identifiers.c.system, payer_identifiers.c.value,
                                         payer_identifiers.c.payer_id)
                               .where(payer_identifiers.c.tenant_id == tenant_id,
                                      pairs.in_([sa.tuple_(s, v) for s, v in identifiers])))).all()
    return {(row.system, row.value): row.payer_id for row in rows}


async def identifiers_of_payers(conn, tenant_id: str, payer_ids: list[str]) -> dict[str, list[dict]]:
    """payer id -> its identifiers ({system, value}), in a stable order."""
    if not payer_ids:
        return {}
    rows = (await conn.execute(sa.select(payer_identifiers).where(
        payer_identifiers.c.tenant_id == tenant_id, payer_identifiers.c.payer_id.in_(payer_ids))
        .order_by(payer_identifiers.c.system, payer_identifiers.c.value))).all()
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row.payer_id, []).append({"system": row.system, "value": row.value})
    return found


# ------------------------------------------------------------------------------------------
# Writing the registry
# ------------------------------------------------------------------------------------------


async def store_coverage(conn: AsyncConnection, tenant_id: str, patient_id: str, coverage_id: str,
                         coverage: CoverageRecordIn) -> CoverageRecordOut:
    """Create or replace one coverage of a registered patient. Its payer must be registered, and no
    other coverage of the patient may hold the same order of benefits over an overlapping span."""
    known = (await conn.execute(sa.select(patients.c.patient_id).where(
        patients.c.tenant_id == tenant_id, patients.c.patient_id == patient_id))).first()
    if known is None:
        raise Problem(404, "Patient not registered", f"PUT /v1/patients/{patient_id} first.", type_="not-found")
    problems = coverage.problems()
    if problems:
        raise invalid(problems)
    await require_payer(conn, tenant_id, coverage.payer_id, "/payer_id")
    clash = await _same_order_overlapping(conn, tenant_id, patient_id, coverage_id, coverage)
    if clash is not None:
        raise invalid([("/order_of_benefits", f"coverage {clash} already holds order of benefits "
                                              f"{coverage.order_of_benefits} on some of these dates")])
    values = {**coverage.model_dump(mode="json", exclude={"effective_from", "effective_to"}),
              "effective_from": coverage.effective_from, "effective_to": coverage.effective_to,
              "updated_at": datetime.now(timezone.utc)}
    await conn.execute(pg_insert(coverages).values(tenant_id=tenant_id, patient_id=patient_id,
                                                   coverage_id=coverage_id, **values)
                       .on_conflict_do_update(index_elements=["tenant_id", "patient_id", "coverage_id"], set_=values))
    await announce_coverages(conn, tenant_id, patient_id, coverage_id)
    return CoverageRecordOut(patient_id=patient_id, coverage_id=coverage_id, **values)


async def _same_order_overlapping(conn, tenant_id: str, patient_id: str, coverage_id: str,
                                  coverage: CoverageRecordIn) -> str | None:
    far_future = date.max
    rows = (await conn.execute(sa.select(coverages.c.coverage_id, coverages.c.effective_from,
                                         coverages.c.effective_to).where(
        coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id,
        coverages.c.coverage_id != coverage_id, coverages.c.order_of_benefits == coverage.order_of_benefits))).all()
    end = coverage.effective_to or far_future
    for row in rows:
        if row.effective_from <= end and coverage.effective_from <= (row.effective_to or far_future):
            return row.coverage_id
    return None


def check_provider(provider: ProviderRecordIn) -> None:
    problems = provider.problems()
    if problems:
        raise invalid(problems)


def check_facility(facility: FacilityRecordIn) -> None:
    problems = facility.problems()
    if problems:
        raise invalid(problems)


# ------------------------------------------------------------------------------------------
# Resolving an encounter's references
# ------------------------------------------------------------------------------------------


def dates_of_service(encounter: EncounterIn) -> tuple[date, date]:
    return (min(line.service_date for line in encounter.lines),
            max(line.service_date_to or line.service_date for line in encounter.lines))


async def resolve_parties(conn: AsyncConnection, tenant_id: str, encounter: EncounterIn) -> EncounterIn:
    """The encounter with every party in full: registered patient, providers and facility put in
    place of their ids, and, when no coverage was sent, the patient's registered coverages active
    on every date of service, in order of benefits (the first is billed as primary: P, then S, T).
    422 naming each reference that is not registered (or not for that role)."""
    problems: list[tuple[str, str]] = []
    updates: dict = {}
    if encounter.patient_id is not None:
        updates["patient"] = await _registered_patient(conn, tenant_id, encounter.patient_id, problems)
        updates["patient_id"] = None
    for reference, (embedded, role) in PROVIDER_REFERENCES.items():
        npi = getattr(encounter, reference)
        if npi is not None:
            updates[embedded] = await _registered_provider(conn, tenant_id, npi, role, f"/{reference}", problems)
            updates[reference] = None
    if encounter.service_facility_id is not None:
        updates["service_facility"] = await _registered_facility(conn, tenant_id, encounter.service_facility_id,
                                                                 problems)
        updates["service_facility_id"] = None
    patient = updates.get("patient") or encounter.patient
    if encounter.coverage is None and patient is not None:
        found = await registered_coverages(conn, tenant_id, patient.id, *dates_of_service(encounter))
        if not found:
            problems.append(("/coverage", "required: no registered coverage of this patient is active on every "
                                          "date of service; send the coverage or register one"))
        else:
            updates["coverage"], updates["other_coverages"] = found[0], found[1:]
    if problems:
        raise invalid(problems, "The encounter names parties that are not registered")
    return encounter.model_copy(update=updates) if updates else encounter


async def _registered_patient(conn, tenant_id: str, patient_id: str, problems: list) -> PatientIn | None:
    patient = await registered_patient(conn, tenant_id, patient_id)
    if patient is None:
        problems.append(("/patient_id", "no patient with this id is registered (PUT /v1/patients/{id})"))
    return patient


async def _registered_provider(conn, tenant_id: str, npi: str, role: str, pointer: str,
                               problems: list) -> ProviderIn | None:
    found = await registered_provider(conn, tenant_id, npi)
    if found is None:
        problems.append((pointer, "no provider with this NPI is registered (PUT /v1/providers/{npi})"))
        return None
    provider, roles = found
    if role not in roles:
        problems.append((pointer, f"the provider is not registered for the {role} role"))
        return None
    return provider


async def _registered_facility(conn, tenant_id: str, facility_id: str, problems: list) -> ServiceFacilityIn | None:
    facility = await registered_facility(conn, tenant_id, facility_id)
    if facility is None:
        problems.append(("/service_facility_id", "no facility with this id is registered (PUT /v1/facilities/{id})"))
    return facility


async def registered_patient(conn, tenant_id: str, patient_id: str) -> PatientIn | None:
    """The registered patient as an encounter carries it; None when not registered."""
    row = (await conn.execute(sa.select(patients).where(patients.c.tenant_id == tenant_id,
                                                        patients.c.patient_id == patient_id))).first()
    if row is None:
        return None
    return PatientIn(id=row.patient_id, first_name=row.first_name, last_name=row.last_name,
                     birth_date=row.birth_date, gender=row.gender,
                     address=AddressIn(**row.address) if row.address else None)


async def registered_provider(conn, tenant_id: str, npi: str) -> tuple[ProviderIn, frozenset[str]] | None:
    """The registered provider as an encounter carries it, and the roles it may take."""
    row = (await conn.execute(sa.select(providers).where(providers.c.tenant_id == tenant_id,
                                                         providers.c.npi == npi))).first()
    if row is None:
        return None
    return (ProviderIn(npi=row.npi, name=row.name, first_name=row.first_name, last_name=row.last_name,
                       tax_id=row.tax_id, taxonomy_code=row.taxonomy_code,
                       address=AddressIn(**row.address) if row.address else None), frozenset(row.roles))


async def registered_facility(conn, tenant_id: str, facility_id: str) -> ServiceFacilityIn | None:
    row = (await conn.execute(sa.select(service_facilities).where(
        service_facilities.c.tenant_id == tenant_id, service_facilities.c.facility_id == facility_id))).first()
    if row is None:
        return None
    return ServiceFacilityIn(name=row.name, npi=row.npi, address=AddressIn(**row.address))


async def registered_coverage(conn, tenant_id: str, patient_id: str, coverage_id: str) -> CoverageIn | None:
    """One registered coverage of the patient, its order of benefits as payer responsibility."""
    row = (await conn.execute(sa.select(coverages).where(
        coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id,
        coverages.c.coverage_id == coverage_id))).first()
    return None if row is None else _coverage_in(row, PAYER_RESPONSIBILITY_ORDER[row.order_of_benefits - 1])


async def registered_coverages(conn: AsyncConnection, tenant_id: str, patient_id: str, first_day: date,
                               last_day: date) -> list[CoverageIn]:
    """The patient's coverages active from `first_day` through `last_day`, in order of benefits, as
    the claim's coverage (P) and the next payers (S, T)."""
    rows = (await conn.execute(sa.select(coverages).where(
        coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id,
        coverages.c.effective_from <= first_day,
        sa.or_(coverages.c.effective_to.is_(None), coverages.c.effective_to >= last_day))
        .order_by(coverages.c.order_of_benefits, coverages.c.coverage_id))).all()
    return [_coverage_in(row, responsibility) for responsibility, row in zip(PAYER_RESPONSIBILITY_ORDER, rows)]


def _coverage_in(row, responsibility: str) -> CoverageIn:
    return CoverageIn(payer_id=row.payer_id, member_id=row.member_id, group_number=row.group_number,
                      payer_responsibility=responsibility, claim_filing_indicator=row.claim_filing_indicator,
                      relationship_to_subscriber=row.relationship_to_subscriber,
                      subscriber=PersonIn(**row.subscriber) if row.subscriber else None)
