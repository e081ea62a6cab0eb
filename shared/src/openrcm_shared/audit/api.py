"""GET /v1/audit-events: a practice's audit trail, newest first, in every service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.params import Depends
from pydantic import BaseModel

from openrcm_shared.audit.recording import audited
from openrcm_shared.audit.tables import audit_log
from openrcm_shared.http.bounds import BusinessDateTime
from openrcm_shared.http.pagination import Page, decode_cursor, fetch_page
from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.practice import AuditRead

Identifier = Annotated[str | None, Query(min_length=1, max_length=200)]


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    client_id: str | None
    action: str
    route: str | None
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str
    purpose: str | None
    chain_seq: int | None  # its position in the practice's chain; None until the chainer sealed it
    hash: str | None  # hex SHA-256 (see openrcm_shared.audit.chain), None until sealed

    @classmethod
    def of(cls, row) -> "AuditEventOut":  # noqa: ANN001 - a Row of audit_log
        values = dict(row._mapping)
        values["hash"] = row.hash.hex() if row.hash is not None else None
        return cls(**values)


_COLUMNS = [audit_log.c[name] for name in AuditEventOut.model_fields]


def _check_cursor(cursor: str | None) -> None:
    """A cursor is a time and an id this API issued; anything else is a 400, not a database error."""
    if cursor is None:
        return
    occurred_at, entry_id = decode_cursor(cursor, 2)
    try:
        datetime.fromisoformat(occurred_at)
        int(entry_id)
    except ValueError:
        raise Problem(400, "Invalid cursor", "Pass back the next_cursor of a previous page unchanged.",
                      type_="invalid-cursor", errors=[field_error("/query/cursor", "not a cursor issued by this API")]
                      ) from None


def audit_events_router(*, dependencies: Sequence[Depends] = ()) -> APIRouter:
    """The router, with `dependencies` run before the route (e.g. the scope check `audit:read`)."""
    router = APIRouter(prefix="/v1", tags=["audit"], dependencies=list(dependencies))

    @router.get("/audit-events", response_model=Page[AuditEventOut])
    @audited("list", "audit_event", patient_id="patient_id")
    async def list_audit_events(
            request: Request, tenant_id: AuditRead, patient_id: Identifier = None, actor: Identifier = None,
            resource_type: Identifier = None, resource_id: Identifier = None,
            since: BusinessDateTime | None = None, until: BusinessDateTime | None = None, cursor: str | None = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page[AuditEventOut]:
        """Who read or changed what in this practice, newest first: reads of PHI and money
        movements, and refused attempts, with the caller, the route, the resource and patient,
        the outcome and the purpose of use. `since` (inclusive) and `until` (exclusive) bound
        the time (ISO 8601 with offset); follow `next_cursor` for older entries. Reading the
        trail is itself recorded."""
        if since is not None and until is not None and until <= since:
            raise Problem(422, "The request has invalid fields", type_="validation-error",
                          errors=[field_error("/query/until", "must be after since")])
        _check_cursor(cursor)
        query = sa.select(*_COLUMNS).where(audit_log.c.tenant_id == tenant_id)
        for column, value in ((audit_log.c.patient_id, patient_id), (audit_log.c.actor, actor),
                              (audit_log.c.resource_type, resource_type), (audit_log.c.resource_id, resource_id)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(audit_log.c.occurred_at >= since)
        if until is not None:
            query = query.where(audit_log.c.occurred_at < until)
        async with request.app.state.runtime.engine.connect() as conn:
            rows, next_cursor = await fetch_page(conn, query, order_by=[audit_log.c.occurred_at, audit_log.c.id],
                                                 cursor=cursor, limit=limit)
        return Page[AuditEventOut](items=[AuditEventOut.of(row) for row in rows], next_cursor=next_cursor)

    return router
