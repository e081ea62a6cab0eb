"""The practice (tenant) every request, row and event belongs to.

A third-party billing company serves many practices. For now the tenant comes from the
`X-Tenant-Id` header; authentication and row-level security will derive it later, and nothing
below the API assumes a single practice.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from openrcm_shared.http.problems import Problem, field_error
from openrcm_shared.security.context import Caller, Principal, bind_caller, current_caller

TENANT_HEADER = "X-Tenant-Id"
_TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# async although it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool,
# and that hop cost more CPU per request than the whole check.
async def tenant_id(x_tenant_id: Annotated[str | None, Header(include_in_schema=True)] = None) -> str:
    return tenant_of(x_tenant_id)


def tenant_of(x_tenant_id: str | None) -> str:
    """The practice the X-Tenant-Id header names; 400 when it is missing or malformed. For routes
    that read their headers themselves (see `TENANT_HEADER_DOC`); the others depend on TenantDep."""
    if not x_tenant_id:
        raise Problem(400, "Missing tenant", f"Every request names its practice in the {TENANT_HEADER} header.",
                      type_="missing-tenant", errors=[field_error("/header/X-Tenant-Id", "required")])
    if not _TENANT_PATTERN.match(x_tenant_id):
        raise Problem(400, "Invalid tenant", "1-64 letters, digits, '.', '_' or '-'.", type_="invalid-tenant",
                      errors=[field_error("/header/X-Tenant-Id", "invalid format")])
    _bind_provisional_caller(x_tenant_id)
    return x_tenant_id


# Until requests are authenticated, a request acts as this placeholder principal for the practice
# it names, so the audit trail has a caller to record. Authentication binds the token's principal
# first, and then this binds nothing.
PROVISIONAL_SUBJECT = "anonymous"


def _bind_provisional_caller(tenant: str) -> None:
    caller = current_caller()
    # A placeholder bound for another practice is replaced: requests served in one task (an
    # in-process test client) must not record each other's practice.
    if caller is None or (caller.actor == PROVISIONAL_SUBJECT and caller.tenant_id != tenant):
        bind_caller(Caller(Principal(subject=PROVISIONAL_SUBJECT, client_id=PROVISIONAL_SUBJECT,
                                     scopes=frozenset(), tenants=(tenant,)), tenant))


TenantDep = Annotated[str, Depends(tenant_id)]


# The header as TenantDep documents it, for a route's `openapi_extra` when it reads the header itself.
TENANT_HEADER_DOC = {"name": TENANT_HEADER.lower(), "in": "header", "required": False,
                     "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "X-Tenant-Id"}}
