"""The practice (tenant) every request, row and event belongs to.

A third-party billing company serves many practices. A request's practice comes from its access
token (`security.authorization.select_tenant`): the token names one practice, or several, in
which case the `X-Tenant-Id` header selects one of them. Rows carry `tenant_id`, PostgreSQL's
row-level security keeps each transaction to one practice, and events carry it as `ce_tenantid`.
"""

from __future__ import annotations

TENANT_HEADER = "X-Tenant-Id"

# The header as the authorized routes document it, for a route's `openapi_extra` when it reads
# its headers itself.
TENANT_HEADER_DOC = {"name": TENANT_HEADER.lower(), "in": "header", "required": False,
                     "description": "The practice to act for, when the access token serves several",
                     "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}}
