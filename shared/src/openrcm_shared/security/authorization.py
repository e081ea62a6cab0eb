"""Who may call a route, for which practice: the one mechanism every service uses.

Every `/v1/*` and `/fhir/*` route declares the scope it needs (`requires(Scope.CLAIMS_READ)` as a
parameter type, or `await authorize(request, scope)` on a hot path that reads its headers itself).
The request then:

1. carries `Authorization: Bearer <JWT>` (RFC 6750 §2.1), verified by `TokenVerifier`; a missing
   or unacceptable token is 401 with `WWW-Authenticate: Bearer …` (RFC 6750 §3) as problem+json;
2. holds the route's scope, else 403 `insufficient_scope`;
3. acts for one practice: the token's tenant claim names it (or, for a billing company's token
   naming several, `X-Tenant-Id` selects one of them); a practice the token does not name, or a
   reserved internal name, is 403.

The caller and its practice are then bound to the request's task (`security.context`), where the
database session (row-level security) and the audit log find them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import Header, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes

from openrcm_shared.http.rate_limits import check_rate_limit
from openrcm_shared.http.tenancy import TENANT_HEADER
from openrcm_shared.http.problems import Problem, field_error, problem_response
from openrcm_shared.security.context import Caller, Principal, bind_caller
from openrcm_shared.security.scopes import SCOPE_DESCRIPTIONS, Scope
from openrcm_shared.security.tokens import AuthSettings, InvalidToken, TokenVerifier

_TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Names the system uses for itself: an ERA no practice claims yet, the clearinghouse's own scope,
# background work. No token can act as them, whatever its claims say.
RESERVED_TENANTS = frozenset({"unassigned", "clearinghouse", "system", "openrcm"})
SECURITY_SCHEME_NAME = "OAuth2ClientCredentials"
REALM = "openrcm"


def _problem_401(reason: str | None) -> Problem:
    """RFC 6750 §3: no error code when the request has no credentials; `invalid_token` otherwise."""
    if reason is None:
        challenge = f'Bearer realm="{REALM}"'
        detail = "Send an OAuth 2.0 access token: Authorization: Bearer <token>."
    else:
        challenge = f'Bearer realm="{REALM}", error="invalid_token", error_description="{reason}"'
        detail = f"The access token is not accepted: {reason}."
    return Problem(401, "Unauthorized", detail, type_="unauthorized", headers={"WWW-Authenticate": challenge})


def _problem_403(detail: str, *, scope: str | None = None, pointer: str | None = None) -> Problem:
    headers = None
    if scope is not None:
        headers = {"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'}
    errors = [field_error(pointer, detail)] if pointer else None
    return Problem(403, "Forbidden", detail, type_="forbidden", headers=headers, errors=errors)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header (scheme case-insensitive, RFC 6750 §2.1)."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _problem_401("the Authorization header is not a Bearer token")
    return token.strip()


def require_scopes(principal: Principal, scopes: Sequence[str]) -> None:
    """403 `insufficient_scope` (RFC 6750 §3.1) naming the first scope the token lacks."""
    for scope in scopes:
        if not principal.has_scope(scope):
            raise _problem_403(f"This operation needs the {scope} scope.", scope=scope)


def select_tenant(principal: Principal, requested: str | None) -> str:
    """The practice this request acts for: the one the token names, or the one `X-Tenant-Id`
    selects among several; never a reserved name, never one the token does not name."""
    if requested is not None and not _TENANT_PATTERN.match(requested):
        raise Problem(400, "Invalid tenant", "1-64 letters, digits, '.', '_' or '-'.", type_="invalid-tenant",
                      errors=[field_error("/header/X-Tenant-Id", "invalid format")])
    allowed = [tenant for tenant in principal.tenants if tenant not in RESERVED_TENANTS]
    if requested is None:
        if len(allowed) == 1:
            return allowed[0]
        if not allowed:
            raise _problem_403("The access token names no practice this API serves.")
        raise Problem(400, "Practice not selected",
                      f"The access token serves several practices; name one in the {TENANT_HEADER} header.",
                      type_="missing-tenant", errors=[field_error("/header/X-Tenant-Id", "required")])
    if requested in RESERVED_TENANTS or requested not in allowed:
        raise _problem_403("The access token does not grant access to this practice.", pointer="/header/X-Tenant-Id")
    return requested


class Authorizer:
    """The service's token verifier and settings, at `app.state.authorizer`."""

    def __init__(self, settings: AuthSettings, verifier: TokenVerifier | None = None) -> None:
        self.settings = settings
        self.verifier = verifier or TokenVerifier(settings)

    def check_configured(self) -> None:
        """Called at start-up: a service never serves its routes without an issuer to trust."""
        if not self.settings.configured:
            raise RuntimeError("authentication is not configured: set OPENRCM_AUTH_ISSUER and OPENRCM_AUTH_JWKS_URL")

    async def principal(self, request: Request) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise _problem_401(None)
        try:
            return await self.verifier.verify(token)
        except InvalidToken as invalid:
            raise _problem_401(str(invalid)) from None

    async def authorize(self, request: Request, scopes: Sequence[str]) -> Caller:
        principal = await self.principal(request)
        check_rate_limit(request, principal.client_id)  # per OAuth client: 429 beyond its rate
        require_scopes(principal, scopes)
        caller = Caller(principal, select_tenant(principal, request.headers.get(TENANT_HEADER)))
        bind_caller(caller)
        return caller


async def authorize(request: Request, *scopes: str) -> Caller:
    """Authorize this request for `scopes` and bind its caller (for routes that read their headers
    themselves; document them with `security_doc`)."""
    return await request.app.state.authorizer.authorize(request, scopes)


class _ClientCredentialsScheme(OAuth2):
    """How OpenAPI shows the scheme (client credentials against the issuer's token endpoint);
    the check itself is `Authorizer.authorize`, which answers with problem+json."""

    def __init__(self) -> None:
        super().__init__(flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/oauth/token", scopes=dict(SCOPE_DESCRIPTIONS))), scheme_name=SECURITY_SCHEME_NAME,
            description="OAuth 2.0 client credentials; JWT access tokens (RFC 9068) from the deployment's issuer",
            auto_error=False)

    async def __call__(self, request: Request) -> str | None:
        return None


_SCHEME = _ClientCredentialsScheme()


async def _authorized_caller(
        request: Request, security_scopes: SecurityScopes, _scheme: Annotated[str | None, Security(_SCHEME)] = None,
        # Read by `authorize` from the request; declared so OpenAPI documents it.
        _x_tenant_id: Annotated[str | None, Header(alias=TENANT_HEADER, description=(
            "The practice to act for, when the access token serves several"))] = None) -> Caller:
    return await request.app.state.authorizer.authorize(request, security_scopes.scopes)


async def _authorized_tenant(caller: Annotated[Caller, Security(_authorized_caller)]) -> str:
    return caller.tenant_id


def requires(*scopes: str):
    """A route parameter type: the practice (`str`) of a caller authorized for `scopes`.

        async def get_claim(claim_id: UUID, tenant_id: ClaimsRead) -> ClaimOut: ...
    """
    return Annotated[str, Security(_authorized_tenant, scopes=list(scopes))]


def caller_requiring(*scopes: str):
    """A route parameter type: the whole `Caller` (actor and practice) authorized for `scopes`."""
    return Annotated[Caller, Security(_authorized_caller, scopes=list(scopes))]


def requirement(*scopes: str):
    """The same check as a router's or route's `dependencies=[...]` entry, for routes that need no
    practice (reference lists) but must still be called with a token holding `scopes`."""
    return Security(_authorized_caller, scopes=list(scopes))


def security_doc(*scopes: str) -> dict:
    """The OpenAPI `security` of a route that calls `authorize` itself (for its `openapi_extra`)."""
    return {"security": [{SECURITY_SCHEME_NAME: list(scopes)}]}


# Paths answered without a token (probes), and those open only where the deployment says so.
OPEN_PATHS = frozenset({"/livez", "/readyz"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATHS = frozenset({"/metrics"})


class OperationsGateMiddleware:
    """/docs, /openapi.json and /metrics behind a token with `ops:read` unless the deployment opens
    them (`OPENRCM_AUTH_OPEN_DOCS`, `OPENRCM_AUTH_OPEN_METRICS`: open on loopback in the local
    stack, closed by default in compose)."""

    def __init__(self, app, authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer
        closed = set()
        if not authorizer.settings.open_docs:
            closed |= DOCS_PATHS
        if not authorizer.settings.open_metrics:
            closed |= METRICS_PATHS
        self.closed = frozenset(closed)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in self.closed:
            request = Request(scope)
            try:
                principal = await self.authorizer.principal(request)
                require_scopes(principal, (Scope.OPS_READ,))
            except Problem as refused:
                return await problem_response(refused, request)(scope, receive, send)
        return await self.app(scope, receive, send)
