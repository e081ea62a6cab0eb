"""Who is acting, and for which practice, in the current task.

An authorized HTTP request binds its `Caller` (the token's principal and the practice it selected);
an event consumer binds the practice of the event it is applying (`ce_tenantid`). Everything below
the entrypoints reads these instead of having them passed down: the database session sets
PostgreSQL's `app.tenant_id` from `current_tenant()` (row-level security), and the audit log takes
the actor from `current_caller()`.

Context variables are per asyncio task, so concurrent requests never see each other's values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified access token's identity (RFC 9068 claims)."""

    subject: str  # `sub`: the person or the client acting; recorded as the actor
    client_id: str  # `client_id`: the OAuth client (rate limits and audit)
    scopes: frozenset[str]  # `scope`, split on spaces
    tenants: tuple[str, ...]  # the practices the token may act for
    token_id: str | None = None  # `jti`
    issuer: str | None = None  # `iss`

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorized request: who is calling and the one practice it acts for."""

    principal: Principal
    tenant_id: str

    @property
    def actor(self) -> str:
        return self.principal.subject


_caller: ContextVar[Caller | None] = ContextVar("openrcm_caller", default=None)
_tenant: ContextVar[str | None] = ContextVar("openrcm_tenant", default=None)


def current_caller() -> Caller | None:
    """The authorized caller of the HTTP request being handled (None in consumers and background work)."""
    return _caller.get()


def current_tenant() -> str | None:
    """The practice whose rows the current task may read and write (None: none bound)."""
    return _tenant.get()


def bind_caller(caller: Caller) -> None:
    """Bind an authorized request's caller and its practice for the rest of the request's task."""
    _caller.set(caller)
    _tenant.set(caller.tenant_id)


def bind_tenant(tenant_id: str | None) -> Token:
    """Bind the practice for the current task (a consumer applying one practice's event); returns
    the token for `reset_tenant`."""
    return _tenant.set(tenant_id)


def reset_tenant(token: Token) -> None:
    _tenant.reset(token)


@contextlib.contextmanager
def acting_for(tenant_id: str | None) -> Iterator[None]:
    """The practice bound for the duration of a block (a consumer's handler, background work for one practice)."""
    token = _tenant.set(tenant_id)
    try:
        yield
    finally:
        _tenant.reset(token)
