"""Reference data the claims context needs: the payer registry and provider enrollments."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Literal
from uuid import UUID, uuid4

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_claims.adapters.tables import payers, provider_enrollments
from openrcm_claims.service_layer.reference_data import (
    KNOWN_PAYERS, identifiers_of_payers, replace_payer_identifiers, require_payer,
)
from openrcm_shared.codes import npi_is_valid
from openrcm_shared.http.idempotency import idempotent_create
from openrcm_shared.http.pagination import Page, fetch_page
from openrcm_shared.http.problems import Problem
from openrcm_shared.http.openapi_docs import BODY_PROBLEMS, problem_responses
from openrcm_shared.security.practice import ClaimsRead, ReferenceAdmin

router = APIRouter(prefix="/v1", tags=["reference data"])

PayerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]


class PayerIdentifierIn(BaseModel):
    """An identifier other parties know the payer by, as a FHIR Identifier: `system` a URI (e.g.
    `urn:oid:2.16.840.1.113883.6.300`, the NAIC codes) and `value`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # A URI with a scheme (RFC 3986): http(s)://..., urn:oid:..., urn:uuid:...
    system: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", max_length=255)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class PayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    claim_types: list[Literal["professional", "institutional"]] = Field(min_length=1)
    timely_filing_days: Annotated[int, Field(ge=1, le=3650)] = 365
    enrollment_required: bool = False
    # Medicare takes corrections as new claims (frequency 1), not replacements (7) or voids (8).
    replacement_claims_accepted: bool = True
    acknowledgement_follow_up_days: Annotated[int, Field(ge=1, le=90)] = 7
    # Unique per practice: a FHIR Claim's insurer or Coverage.payor names the payer by any of them.
    identifiers: list[PayerIdentifierIn] = Field(default_factory=list, max_length=20)

    @field_validator("identifiers")
    @classmethod
    def _distinct(cls, identifiers: list[PayerIdentifierIn]) -> list[PayerIdentifierIn]:
        seen = set()
        for identifier in identifiers:
            if (identifier.system, identifier.value) in seen:
                raise ValueError(f"{identifier.system}|{identifier.value} is listed twice")
            seen.add((identifier.system, identifier.value))
        return identifiers


class PayerOut(PayerIn):
    model_config = ConfigDict(extra="ignore")

    payer_id: str
    updated_at: datetime


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    npi: str
    payer_id: PayerId
    effective_from: date
    effective_to: date | None = None

    @field_validator("npi")
    @classmethod
    def _npi(cls, value: str) -> str:
        if not npi_is_valid(value):
            raise ValueError("not a valid NPI (10 digits with a Luhn check digit)")
        return value

    @model_validator(mode="after")
    def _span(self) -> "EnrollmentIn":
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


class EnrollmentOut(EnrollmentIn):
    model_config = ConfigDict(extra="ignore")

    id: UUID
    created_at: datetime


_PAYER_COLUMNS = [payers.c[name] for name in PayerOut.model_fields if name != "identifiers"]
_ENROLLMENT_COLUMNS = [provider_enrollments.c[name] for name in EnrollmentOut.model_fields]


@router.put("/payers/{payer_id}", response_model=PayerOut, responses=BODY_PROBLEMS)
async def put_payer(payer_id: PayerId, payer: PayerIn, request: Request, tenant_id: ReferenceAdmin) -> PayerOut:
    """Register a payer or change how it takes claims (idempotent by nature). `identifiers`
    replaces the payer's identifiers; one another payer of the practice holds is a 422 naming it."""
    now = datetime.now(timezone.utc)
    values = {**payer.model_dump(exclude={"identifiers"}), "updated_at": now}
    identifiers = [(i.system, i.value) for i in payer.identifiers]
    async with request.app.state.runtime.engine.begin() as conn:
        row = (await conn.execute(
            pg_insert(payers).values(tenant_id=tenant_id, payer_id=payer_id, **values)
            .on_conflict_do_update(index_elements=["tenant_id", "payer_id"], set_=values)
            .returning(*_PAYER_COLUMNS))).one()
        await replace_payer_identifiers(conn, tenant_id, payer_id, identifiers)
    KNOWN_PAYERS.forget(tenant_id, payer_id)  # other processes' caches are caught by the intake's check
    return PayerOut(**row._mapping, identifiers=payer.identifiers)


@router.get("/payers/{payer_id}", response_model=PayerOut, responses=problem_responses(404))
async def get_payer(payer_id: str, request: Request, tenant_id: ClaimsRead) -> PayerOut:
    async with request.app.state.runtime.engine.connect() as conn:
        row = (await conn.execute(sa.select(*_PAYER_COLUMNS).where(
            payers.c.tenant_id == tenant_id, payers.c.payer_id == payer_id))).first()
        if row is None:
            raise Problem(404, "Payer not registered", type_="not-found")
        identifiers = await identifiers_of_payers(conn, tenant_id, [payer_id])
    return PayerOut(**row._mapping, identifiers=identifiers.get(payer_id, []))


@router.get("/payers", response_model=list[PayerOut])
async def list_payers(request: Request, tenant_id: ClaimsRead) -> list[PayerOut]:
    async with request.app.state.runtime.engine.connect() as conn:
        rows = (await conn.execute(sa.select(*_PAYER_COLUMNS).where(payers.c.tenant_id == tenant_id)
                                   .order_by(payers.c.payer_id))).all()
        identifiers = await identifiers_of_payers(conn, tenant_id, [row.payer_id for row in rows])
    return [PayerOut(**row._mapping, identifiers=identifiers.get(row.payer_id, [])) for row in rows]


@router.post("/enrollments", status_code=201, response_model=EnrollmentOut,
             responses={**BODY_PROBLEMS, **problem_responses(409)})
async def post_enrollment(enrollment: EnrollmentIn, request: Request, tenant_id: ReferenceAdmin,
                          idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Record that a provider is enrolled with a payer from one date (to another)."""
    async def create(conn):
        await require_payer(conn, tenant_id, enrollment.payer_id, "/payer_id")
        stored = EnrollmentOut(id=uuid4(), created_at=datetime.now(timezone.utc), **enrollment.model_dump())
        await conn.execute(provider_enrollments.insert().values(tenant_id=tenant_id, **stored.model_dump()))
        return stored

    return await idempotent_create(request, tenant_id=tenant_id, idempotency_key=idempotency_key, create=create,
                                   location=lambda stored: f"/v1/enrollments/{stored.id}",
                                   response_model=EnrollmentOut)


@router.get("/enrollments", response_model=Page[EnrollmentOut])
async def list_enrollments(request: Request, tenant_id: ClaimsRead, npi: str | None = None,
                           payer_id: str | None = None, cursor: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Page[EnrollmentOut]:
    query = sa.select(*_ENROLLMENT_COLUMNS).where(provider_enrollments.c.tenant_id == tenant_id)
    if npi:
        query = query.where(provider_enrollments.c.npi == npi)
    if payer_id:
        query = query.where(provider_enrollments.c.payer_id == payer_id)
    async with request.app.state.runtime.engine.connect() as conn:
        rows, next_cursor = await fetch_page(conn, query, order_by=[provider_enrollments.c.created_at,
                                                                    provider_enrollments.c.id],
                                             cursor=cursor, limit=limit)
    return Page[EnrollmentOut](items=[EnrollmentOut(**row._mapping) for row in rows], next_cursor=next_cursor)
