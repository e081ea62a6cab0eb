"""Recording audited acts: which routes are audited (declared on the route), and when each entry
is written.

A route is audited by decorating its endpoint with `audited(action, resource_type, ...)`, naming
where the resource's and the patient's ids are found: a path parameter, a query parameter, or an
attribute of what the route returned (or created). Nothing else goes in the handler. Then:

- a read is recorded right after the handler produced its answer and before the answer's first
  byte is sent (`AuditMiddleware`): no entry, no disclosure. If the entry cannot be written, a
  read that would have returned PHI is answered 503 instead;
- a change is recorded inside the transaction that makes it (`record_change(conn)`, called where
  the mutation's transaction is, e.g. `idempotent_create`), so the change and its entry commit
  together or not at all;
- a request refused or failed (4xx/5xx: a 404 for another practice's id, a 409, a 422) is
  recorded after it was answered, with its HTTP status as the outcome.

Entries are written unchained (cheap: one row, no lock shared between requests); the chainer
(openrcm_shared.audit.chainer) links them into each practice's hash chain within about a second.
Entries written after a request go through `AuditWriter`, which groups concurrent requests'
entries into one statement per practice.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.audit.purpose import PURPOSE_HEADER, purpose_of_use
from openrcm_shared.audit.tables import ENTRY_COLUMNS, audit_log
from openrcm_shared.http.problems import Problem, problem_response
from openrcm_shared.security.context import acting_for, current_caller, current_tenant

log = logging.getLogger(__name__)

READ_ACTIONS = frozenset({"read", "list"})
# The actor recorded when no principal is bound (nothing authenticated the request).
UNKNOWN_ACTOR = "unknown"
# Recorded values are identifiers: anything longer is cut (a path parameter is the caller's text).
MAX_VALUE_LENGTH = 200
_PURPOSE_HEADER_KEY = PURPOSE_HEADER.lower().encode("latin-1")
_INSERT = audit_log.insert().inline()  # no RETURNING: nothing reads the generated id back

# A practice's group of entries as one statement whatever its size (one prepared statement), with
# the practice bound for the statement's own transaction first: row-level security's WITH CHECK
# reads app.tenant_id, and every row's tenant_id is the value set_config returns, so the setting
# is in place before any row is formed.
_GROUP_COLUMNS = tuple(name for name in ENTRY_COLUMNS if name != "tenant_id")
_INSERT_GROUP = (
    "WITH practice AS MATERIALIZED (SELECT set_config('app.tenant_id', $1, true) AS tenant_id) "
    f"INSERT INTO audit_log (tenant_id, {', '.join(_GROUP_COLUMNS)}) "
    f"SELECT practice.tenant_id, {', '.join(f'entry.{name}' for name in _GROUP_COLUMNS)} FROM practice, unnest("
    + ", ".join(f"${number}::{'timestamptz' if name == 'occurred_at' else 'text'}[]"
                for number, name in enumerate(_GROUP_COLUMNS, start=2))
    + f") AS entry({', '.join(_GROUP_COLUMNS)})")

AUDIT_ENTRIES_LOST = Counter("openrcm_audit_entries_lost_total",
                             "Audit entries of refusals and failures that could not be written", ["reason"])


@dataclass(frozen=True, slots=True)
class AuditSpec:
    """What an audited route does, for its entries. `resource_id` and `patient_id` name where the
    ids are found: a path parameter, else a query parameter, else an attribute of the resource
    the route returned or created (None: not known)."""

    action: str  # read, list, create, update, delete, or a verb (post, match, void ...)
    resource_type: str
    resource_id: str | None = None
    patient_id: str | None = None

    @property
    def discloses(self) -> bool:
        return self.action in READ_ACTIONS


def audited(action: str, resource_type: str, *, resource_id: str | None = None,
            patient_id: str | None = None) -> Callable:
    """Declare a route audited (decorate the endpoint, under the router's decorator). The
    endpoint keeps its signature; it checks `X-Purpose-Of-Use` (400 when it is not a PurposeOfUse
    code) and remembers what it returned, for the ids named by attribute."""
    spec = AuditSpec(action, resource_type, resource_id, patient_id)

    def decorate(endpoint: Callable) -> Callable:
        @functools.wraps(endpoint)
        async def audited_endpoint(*args: Any, **kwargs: Any) -> Any:
            request_audit = _REQUEST.get()
            if request_audit is not None:
                request_audit.purpose = purpose_of_use(request_audit.header(_PURPOSE_HEADER_KEY))
            result = await endpoint(*args, **kwargs)
            if request_audit is not None:
                request_audit.result = result
            return result

        audited_endpoint.audit_spec = spec
        return audited_endpoint

    return decorate


def spec_of(scope) -> AuditSpec | None:  # noqa: ANN001 - an ASGI scope
    """The audit declaration of the route a request was routed to (None: not audited)."""
    return getattr(getattr(scope.get("route"), "endpoint", None), "audit_spec", None)


class _RequestAudit:
    """One request's audit state, shared by the middleware, the endpoint and `record_change`
    (a mutable object in a context variable, so tasks the request starts see the same one)."""

    __slots__ = ("scope", "purpose", "result", "staged", "_query")

    def __init__(self, scope) -> None:  # noqa: ANN001
        self.scope = scope
        self.purpose: str | None = None
        self.result: Any = None
        self.staged: set[tuple[str, str | None]] = set()  # entries written in a mutation's transaction
        self._query: dict[str, str] | None = None

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return value.decode("latin-1")
        return None

    def lookup(self, name: str | None, resource: Any) -> Any:
        if name is None:
            return None
        path_params = self.scope.get("path_params") or {}
        if name in path_params:
            return path_params[name]
        if self._query is None:
            self._query = dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1")))
        if name in self._query:
            return self._query[name]
        return getattr(resource, name, None) if resource is not None else None

    def entry(self, spec: AuditSpec, outcome: str, *, resource: Any = None, resource_id: Any = None,
              patient_id: Any = None, action: str | None = None, resource_type: str | None = None) -> dict | None:
        """The audit_log row for this request (None when no practice is bound: the request was
        refused before it named one, and an entry belongs to a practice)."""
        caller = current_caller()
        tenant_id = caller.tenant_id if caller is not None else current_tenant()
        if tenant_id is None:
            return None
        resource = resource if resource is not None else self.result
        route = self.scope.get("route")
        return {
            "tenant_id": tenant_id,
            "occurred_at": datetime.now(timezone.utc),
            "actor": _text(caller.principal.subject) if caller is not None else UNKNOWN_ACTOR,
            "client_id": _text(caller.principal.client_id) if caller is not None else None,
            "action": action or spec.action,
            "route": f"{self.scope['method']} {getattr(route, 'path', self.scope['path'])}",
            "resource_type": resource_type or spec.resource_type,
            "resource_id": _text(resource_id if resource_id is not None else self.lookup(spec.resource_id, resource)),
            "patient_id": _text(patient_id if patient_id is not None else self.lookup(spec.patient_id, resource)),
            "outcome": outcome,
            "purpose": self.purpose if self.purpose is not None else _valid_purpose(self.header(_PURPOSE_HEADER_KEY)),
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL
    return text[:MAX_VALUE_LENGTH]


def _valid_purpose(value: str | None) -> str | None:
    """The header's code if it is one (for entries of requests refused before the endpoint checked it)."""
    try:
        return purpose_of_use(value)
    except Problem:
        return None


_REQUEST: contextvars.ContextVar[_RequestAudit | None] = contextvars.ContextVar("openrcm_request_audit", default=None)


async def record_change(conn: AsyncConnection, *, resource: Any = None, resource_id: Any = None,
                        patient_id: Any = None, action: str | None = None, resource_type: str | None = None) -> None:
    """Write the current request's audit entry in `conn`'s transaction (outcome `ok`), so it
    commits with the change it records, or not at all.

    Call it where the change's transaction is, with the resource changed or created (its ids are
    read as the route's `audited` declaration says) or the ids themselves; `action` and
    `resource_type` override the declaration's (a request that posts several payments records
    each). A no-op outside a request to an audited route (an event consumer, a worker), and for a
    resource this request already recorded."""
    row = change_entry(resource=resource, resource_id=resource_id, patient_id=patient_id, action=action,
                       resource_type=resource_type)
    if row is not None:
        await conn.execute(_INSERT, row)


def change_entry(*, resource: Any = None, resource_id: Any = None, patient_id: Any = None, action: str | None = None,
                 resource_type: str | None = None) -> dict | None:
    """The audit_log row `record_change` would write (None when it would write nothing), for a
    writer that puts it in its own statement; the request counts it as written in the change's
    transaction, so the caller must write it there."""
    request_audit = _REQUEST.get()
    spec = spec_of(request_audit.scope) if request_audit is not None else None
    if spec is None:
        return None
    row = request_audit.entry(spec, "ok", resource=resource, resource_id=resource_id, patient_id=patient_id,
                              action=action, resource_type=resource_type)
    if row is None:
        return None
    key = (row["resource_type"], row["resource_id"])
    if key in request_audit.staged:
        return None
    request_audit.staged.add(key)
    return row


class AuditMiddleware:
    """ASGI middleware recording every request to an audited route: reads before their answer
    goes out, refusals and failures after they were answered; changes that recorded themselves in
    their transaction (`record_change`) are not recorded again unless the request then failed."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_audit = _RequestAudit(scope)
        token = _REQUEST.set(request_audit)
        answered = False
        withheld = False

        async def send_after_recording(message) -> None:  # noqa: ANN001
            nonlocal answered, withheld
            if message["type"] == "http.response.start" and not answered:
                answered = True
                withheld = not await _record_answer(request_audit, message["status"])
                if withheld:
                    await _unavailable(scope, receive, send)
                    return
            if not withheld:
                await send(message)

        try:
            await self.app(scope, receive, send_after_recording)
        except Exception:
            if not answered:  # the server's error handler answers 500 after this middleware
                await _record_answer(request_audit, 500)
            raise
        finally:
            _REQUEST.reset(token)


async def _record_answer(request_audit: _RequestAudit, status: int) -> bool:
    """Record the request's answer if it needs an entry; False only when a read's answer must be
    withheld because its entry could not be written.

    A read that discloses (2xx, 3xx) waits for its entry's commit. Anything else (a refusal, a
    failure, a change its transaction did not record) is answered at once and its entry written
    meanwhile: nothing was disclosed, and a client told 503 while the database is away must not
    wait for the entry's own attempt to reach it."""
    spec = spec_of(request_audit.scope)
    if spec is None or (request_audit.staged and status < 400):
        return True
    row = request_audit.entry(spec, str(status))
    engine = _engine_of(request_audit.scope)
    if row is None or engine is None:
        return True
    writer = audit_writer(engine)
    if not (spec.discloses and status < 400):
        writer.submit(row)
        return True
    try:
        await writer.write(row)
    except Exception as exc:
        log.error("audit entry not written: the read is withheld", extra={
            "error_class": type(exc).__name__, "route": row["route"], "status": status})
        return False
    return True


def _engine_of(scope) -> AsyncEngine | None:  # noqa: ANN001
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    return getattr(runtime, "engine", None)


async def _unavailable(scope, receive, send) -> None:  # noqa: ANN001
    problem = Problem(503, "Audit trail unavailable", "The access could not be recorded, so nothing was disclosed; "
                      "retry shortly.", type_="audit-unavailable", headers={"Retry-After": "2"})
    await problem_response(problem)(scope, receive, send)


class AuditWriter:
    """Writes entries recorded after a request: entries that arrive while a write is in flight go
    together in the next one (one statement per practice in the group, which binds that practice
    for itself, so row-level security's WITH CHECK holds). Each caller's `write` returns once its
    entry is committed; a failed write fails each of the callers waiting then.

    The writer keeps one pooled connection while entries keep coming, and gives it back after
    `linger` seconds without any: taking a connection from the pool and giving it back cost more
    CPU than the INSERT itself, on every read."""

    def __init__(self, engine: AsyncEngine, *, max_group: int = 256, max_backlog: int = 10_000,
                 linger: float = 1.0) -> None:
        self.engine = engine
        self.max_group = max_group
        self.max_backlog = max_backlog
        self.linger = linger
        self._waiting: list[tuple[dict, asyncio.Future]] = []
        self._arrived = asyncio.Event()
        self._writer: asyncio.Task | None = None

    async def write(self, row: dict) -> None:
        """Return once the entry is committed (raise if it could not be)."""
        await self._queue(row)

    def submit(self, row: dict) -> None:
        """Write the entry without waiting for it; one that cannot be written is counted and
        logged. At most `max_backlog` entries wait (a database away for long): beyond, new ones
        are dropped and counted, so memory stays bounded."""
        if len(self._waiting) >= self.max_backlog:
            AUDIT_ENTRIES_LOST.labels("backlog_full").inc()
            return
        self._queue(row).add_done_callback(_count_if_lost)

    def _queue(self, row: dict) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if self._writer is not None and self._writer.get_loop() is not loop:  # an earlier event loop's (tests)
            self._writer, self._waiting, self._arrived = None, [], asyncio.Event()
        written = loop.create_future()
        self._waiting.append((row, written))
        self._arrived.set()
        if self._writer is None:
            self._start_writer()
        return written

    def _start_writer(self) -> None:
        # A context of its own: the writer serves many requests, and must not carry the caller,
        # practice or audit state of the one that happened to start it.
        self._writer = asyncio.get_running_loop().create_task(
            self._write_while_arriving(), name="audit-writer", context=contextvars.Context())

    async def _write_while_arriving(self) -> None:
        this_writer = asyncio.current_task()
        try:
            async with self.engine.connect() as conn:
                # On the driver connection, outside any transaction: each statement commits by
                # itself, in one round trip. Through SQLAlchemy's execution layer, with BEGIN and
                # COMMIT, an entry cost several times a trivial read's CPU (`./openrcm bench audit`).
                driver = (await conn.get_raw_connection()).driver_connection
                while await self._entries_arrived():
                    group, self._waiting = self._waiting[:self.max_group], self._waiting[self.max_group:]
                    await self._write_group(driver, group)
        except Exception as exc:
            if self._writer is this_writer:  # no connection to be had: the entries waiting for one fail
                waiting, self._waiting = self._waiting, []
                _settle([future for _, future in waiting], exc)
        finally:
            if self._writer is this_writer:
                self._writer = None

    async def _entries_arrived(self) -> bool:
        """True when entries wait; False (and this writer is no longer the one new entries start
        or wake) after `linger` seconds without any."""
        if not self._waiting:
            self._arrived.clear()
            try:
                async with asyncio.timeout(self.linger):  # no task of its own, unlike wait_for
                    await self._arrived.wait()
            except TimeoutError:
                pass
        if not self._waiting:
            self._writer = None  # at once, with no await before returning: the next entry starts a writer
            return False
        return True

    async def _write_group(self, driver, group: list[tuple[dict, asyncio.Future]]) -> None:  # noqa: ANN001
        by_practice: dict[str, list[tuple[dict, asyncio.Future]]] = {}
        for member in group:
            by_practice.setdefault(member[0]["tenant_id"], []).append(member)
        for tenant_id, members in by_practice.items():
            columns = [[row[name] for row, _ in members] for name in _GROUP_COLUMNS]
            try:
                with acting_for(tenant_id):
                    await driver.execute(_INSERT_GROUP, tenant_id, *columns)
            except Exception as exc:
                # This group's callers are told; this writer and its connection (broken, perhaps)
                # are given up, and a new writer with a connection of its own takes the rest.
                _settle([future for _, future in group], exc)
                self._writer = None
                if self._waiting:
                    self._start_writer()
                raise
            _settle([future for _, future in members])


def _settle(futures: list[asyncio.Future], exception: BaseException | None = None) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exception) if exception is not None else future.set_result(None)


def _count_if_lost(written: asyncio.Future) -> None:
    if not written.cancelled() and written.exception() is not None:
        AUDIT_ENTRIES_LOST.labels("write_failed").inc()
        log.error("audit entry not written", extra={"error_class": type(written.exception()).__name__})


_WRITERS: "weakref.WeakKeyDictionary[AsyncEngine, AuditWriter]" = weakref.WeakKeyDictionary()


def audit_writer(engine: AsyncEngine) -> AuditWriter:
    """The grouped writer of this engine (one per process and database)."""
    writer = _WRITERS.get(engine)
    if writer is None:
        writer = _WRITERS[engine] = AuditWriter(engine)
    return writer
