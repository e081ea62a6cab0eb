"""Reference data an encounter may name by id: patients and their coverages, providers, service
facilities. PUT creates or replaces (idempotent by nature); every read is scoped to the practice."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_claims.service_layer.coverage_events import announce_coverages
from openrcm_claims.adapters.tables import coverages, patients, providers, service_facilities
from openrcm_claims.entrypoints.party_schemas import (
    CoverageRecordIn, CoverageRecordOut, FacilityRecordIn, FacilityRecordOut, PatientRecordIn, PatientRecordOut,
    ProviderRecordIn, ProviderRecordOut, ProviderRole,
)
from openrcm_claims.service_layer.reference_data import check_facility, check_provider, invalid, store_coverage
from openrcm_shared.audit import audited, record_change
from openrcm_shared.codes import npi_is_valid
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_doc, problem_responses
from openrcm_shared.http.resources import get_or_404
from openrcm_shared.security.practice import ClaimsRead, ClaimsWrite, ReferenceAdmin

router = APIRouter(prefix="/v1", tags=["patients, providers and facilities"])

RecordIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
NpiPath = Annotated[str, Path(pattern=r"^[0-9]{10}$")]
Limit = Annotated[int, Query(ge=1, le=200)]


async def _upsert(request: Request, table: sa.Table, keys: dict, values: dict, out_model, after=None):
    """Insert or replace one record; `after(conn)` runs in the same transaction (events to stage)."""
    values = {**values, "updated_at": datetime.now(timezone.utc)}
    async with request.app.state.runtime.engine.begin() as conn:
        row = (await conn.execute(
            pg_insert(table).values(**keys, **values)
            .on_conflict_do_update(index_elements=list(keys), set_=values)
            .returning(*[table.c[name] for name in out_model.model_fields]))).one()
        stored = out_model(**row._mapping)
        await record_change(conn, resource=stored)
        if after is not None:
            await after(conn)
    return stored


# ------------------------------------------------------------------------------------------
# Patients and coverages
# ------------------------------------------------------------------------------------------


@router.put("/patients/{patient_id}", response_model=PatientRecordOut, responses=BODY_PROBLEMS)
@audited("update", "patient", resource_id="patient_id", patient_id="patient_id")
async def put_patient(patient_id: RecordIdPath, patient: PatientRecordIn, request: Request,
                      tenant_id: ClaimsWrite) -> PatientRecordOut:
    """Register a patient or replace its demographics (2010BA/2010CA)."""
    return await _upsert(request, patients, {"tenant_id": tenant_id, "patient_id": patient_id},
                         patient.model_dump(mode="json", exclude={"birth_date"}) | {"birth_date": patient.birth_date},
                         PatientRecordOut, after=lambda conn: announce_coverages(conn, tenant_id, patient_id))


@router.get("/patients/{patient_id}", response_model=PatientRecordOut, responses=problem_responses(404))
@audited("read", "patient", resource_id="patient_id", patient_id="patient_id")
async def get_patient(patient_id: RecordIdPath, request: Request, tenant_id: ClaimsRead) -> PatientRecordOut:
    return await get_or_404(request, PatientRecordOut, patients, tenant_id, title="Patient not registered",
                            patient_id=patient_id)


@router.put("/patients/{patient_id}/coverages/{coverage_id}", response_model=CoverageRecordOut,
            responses={**BODY_PROBLEMS, 404: problem_doc(404, "The patient is not registered"),
                       422: problem_doc(422, "Invalid fields, unknown payer, or the order of benefits is taken")})
@audited("update", "coverage", resource_id="coverage_id", patient_id="patient_id")
async def put_coverage(patient_id: RecordIdPath, coverage_id: RecordIdPath, coverage: CoverageRecordIn,
                       request: Request, tenant_id: ClaimsWrite) -> CoverageRecordOut:
    """Register or replace one of the patient's coverages (payer, member, subscriber, order of
    benefits 1/2/3, effective dates)."""
    async with request.app.state.runtime.engine.begin() as conn:
        stored = await store_coverage(conn, tenant_id, patient_id, coverage_id, coverage)
        await record_change(conn, resource=stored)
    return stored


@router.get("/patients/{patient_id}/coverages/{coverage_id}", response_model=CoverageRecordOut,
            responses=problem_responses(404))
@audited("read", "coverage", resource_id="coverage_id", patient_id="patient_id")
async def get_coverage(patient_id: RecordIdPath, coverage_id: RecordIdPath, request: Request,
                       tenant_id: ClaimsRead) -> CoverageRecordOut:
    return await get_or_404(request, CoverageRecordOut, coverages, tenant_id, title="Coverage not registered",
                            patient_id=patient_id, coverage_id=coverage_id)


@router.get("/patients/{patient_id}/coverages", response_model=list[CoverageRecordOut])
@audited("list", "coverage", patient_id="patient_id")
async def list_coverages(patient_id: RecordIdPath, request: Request, tenant_id: ClaimsRead) -> list[CoverageRecordOut]:
    """The patient's coverages in order of benefits, then by start date."""
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(*[coverages.c[name] for name in CoverageRecordOut.model_fields])
            .where(coverages.c.tenant_id == tenant_id, coverages.c.patient_id == patient_id)
            .order_by(coverages.c.order_of_benefits, coverages.c.effective_from, coverages.c.coverage_id))).all()
    return [CoverageRecordOut(**row._mapping) for row in rows]


# ------------------------------------------------------------------------------------------
# Providers and facilities
# ------------------------------------------------------------------------------------------


def _check_npi(npi: str) -> str:
    if not npi_is_valid(npi):
        raise invalid([("/path/npi", "not a valid NPI (10 digits with a Luhn check digit)")])
    return npi


@router.put("/providers/{npi}", response_model=ProviderRecordOut, responses=BODY_PROBLEMS)
async def put_provider(npi: NpiPath, provider: ProviderRecordIn, request: Request,
                       tenant_id: ReferenceAdmin) -> ProviderRecordOut:
    """Register a provider (NPI with its check digit) with its roles: billing (an organization with
    TIN and street address), rendering, referring, supervising, attending (persons)."""
    _check_npi(npi)
    check_provider(provider)
    return await _upsert(request, providers, {"tenant_id": tenant_id, "npi": npi},
                         provider.model_dump(mode="json"), ProviderRecordOut)


@router.get("/providers/{npi}", response_model=ProviderRecordOut, responses=problem_responses(404))
async def get_provider(npi: NpiPath, request: Request, tenant_id: ClaimsRead) -> ProviderRecordOut:
    return await get_or_404(request, ProviderRecordOut, providers, tenant_id, title="Provider not registered", npi=npi)


@router.get("/providers", response_model=Page[ProviderRecordOut])
async def list_providers(request: Request, tenant_id: ClaimsRead, role: ProviderRole | None = None,
                         cursor: str | None = None, limit: Limit = 50) -> Page[ProviderRecordOut]:
    query = sa.select(*[providers.c[name] for name in ProviderRecordOut.model_fields]).where(
        providers.c.tenant_id == tenant_id)
    if role:
        query = query.where(providers.c.roles.any(role))
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[providers.c.npi],
                                             cursor=cursor, limit=limit)
    return Page[ProviderRecordOut](items=[ProviderRecordOut(**row._mapping) for row in rows], next_cursor=next_cursor)


@router.put("/facilities/{facility_id}", response_model=FacilityRecordOut, responses=BODY_PROBLEMS)
async def put_facility(facility_id: RecordIdPath, facility: FacilityRecordIn, request: Request,
                       tenant_id: ReferenceAdmin) -> FacilityRecordOut:
    """Register a service facility location (a street address with ZIP+4, optional NPI)."""
    check_facility(facility)
    return await _upsert(request, service_facilities, {"tenant_id": tenant_id, "facility_id": facility_id},
                         facility.model_dump(mode="json"), FacilityRecordOut)


@router.get("/facilities/{facility_id}", response_model=FacilityRecordOut, responses=problem_responses(404))
async def get_facility(facility_id: RecordIdPath, request: Request, tenant_id: ClaimsRead) -> FacilityRecordOut:
    return await get_or_404(request, FacilityRecordOut, service_facilities, tenant_id,
                            title="Facility not registered", facility_id=facility_id)


@router.get("/facilities", response_model=list[FacilityRecordOut])
async def list_facilities(request: Request, tenant_id: ClaimsRead) -> list[FacilityRecordOut]:
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(*[service_facilities.c[name] for name in FacilityRecordOut.model_fields])
            .where(service_facilities.c.tenant_id == tenant_id).order_by(service_facilities.c.facility_id))).all()
    return [FacilityRecordOut(**row._mapping) for row in rows]
