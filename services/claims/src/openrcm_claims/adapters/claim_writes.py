"""Rows written for every claim taken in or acknowledged: the claim, its lines, its scrub result
and its timeline. These run for every claim, several times over its life, so they are driver
statements (adapters.driver_sql); each function writes one table in the caller's transaction."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import sqlalchemy as sa
from prometheus_client import Histogram
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.driver_sql import DriverStatement, driver, execute_many, fetch, fetch_many_alone
from openrcm_claims.adapters.tables import (
    claim_history, claim_lines, claims, payers, provider_enrollments, scrub_results,
)
from openrcm_shared.row_security import TENANT_SETTING
from openrcm_shared.audit.tables import ENTRY_COLUMNS, audit_log
from openrcm_shared.messaging.tables import idempotency_keys

CLAIM_COLUMNS = (
    "id", "tenant_id", "encounter_id", "patient_control_number", "status", "coverage_status", "paid_amount",
    "created_at", "updated_at", "frequency_code", "payer_responsibility", "split_part", "prior_claim_id",
    "prior_payer_adjudications", "version", "patient_id", "payer_id", "member_id", "billing_npi", "rendering_npi",
    "place_of_service", "diagnosis_codes", "total_charge", "service_date_from", "service_date_to",
    "filing_deadline", "claim_type", "encounter_document")
LINE_COLUMNS = (
    "claim_id", "line_number", "tenant_id", "procedure_code", "revenue_code", "modifiers", "units", "unit_basis",
    "charge_amount", "service_date", "service_date_to", "place_of_service", "diagnosis_pointers")
SCRUB_COLUMNS = ("claim_id", "version", "tenant_id", "rule_set_version", "blocked", "hits", "scrubbed_at")
HISTORY_COLUMNS = ("claim_id", "tenant_id", "occurred_at", "kind", "from_status", "to_status", "event_id", "detail")

_INSERT_LINE = DriverStatement(claim_lines.insert().inline(), LINE_COLUMNS)
_scrub = pg_insert(scrub_results)
# A version scrubbed again (a claim held by the 837 generator after scrubbing) keeps the latest result.
_UPSERT_SCRUB = DriverStatement(_scrub.on_conflict_do_update(
    index_elements=["claim_id", "version"],
    set_={name: _scrub.excluded[name] for name in ("rule_set_version", "blocked", "hits", "scrubbed_at")}),
    SCRUB_COLUMNS)
# inline(): no RETURNING of the generated id, which nothing reads.
_INSERT_HISTORY = DriverStatement(claim_history.insert().inline(), HISTORY_COLUMNS)
_ENROLLMENT_SPANS = DriverStatement(
    sa.select(provider_enrollments.c.npi, provider_enrollments.c.payer_id, provider_enrollments.c.effective_from,
              provider_enrollments.c.effective_to)
    .where(provider_enrollments.c.tenant_id == sa.bindparam("tenant_id"),
           provider_enrollments.c.npi == sa.any_(sa.bindparam("npis", type_=sa.ARRAY(sa.Text))),
           provider_enrollments.c.payer_id == sa.bindparam("payer_id")))


async def insert_lines(conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]) -> None:
    await execute_many(conn, _INSERT_LINE, rows)


async def upsert_scrub_result(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await execute_many(conn, _UPSERT_SCRUB, [row])


async def insert_history(conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Timeline entries; each row names every HISTORY_COLUMNS value (None where there is none)."""
    await execute_many(conn, _INSERT_HISTORY, rows)


# UPDATE claims by id, one statement per set of columns set (status and updated_at, plus what a
# transition sets with them: paid amount, payer claim control number). The rows travel as one
# array per column and are joined in by unnest(): an acknowledgement moves every claim of a file,
# and one set-based UPDATE costs PostgreSQL about a third of what the same rows cost as one
# UPDATE each (0.07-0.11 ms per row under the intake benchmark).
_UPDATES: dict[tuple[str, ...], str] = {}


def _update_from_arrays(columns: tuple[str, ...]) -> str:
    arrays = ", ".join(f"${number}::{claims.c[name].type.compile(dialect=pg.dialect())}[]"
                       for number, name in enumerate(("id", *columns), start=1))
    return (f"UPDATE claims SET {', '.join(f'{name} = moved.{name}' for name in columns)} "
            f"FROM unnest({arrays}) AS moved(claim_id, {', '.join(columns)}) WHERE claims.id = moved.claim_id")


async def update_claims(conn: AsyncConnection, rows: list[Mapping[str, Any]]) -> None:
    """Rows of `claim_id` and the columns to set (scalar columns); every row sets the same
    columns. A claim named twice ends with its last row's values, as if applied in order."""
    if not rows:
        return
    columns = tuple(sorted(set(rows[0]) - {"claim_id"}))
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = _update_from_arrays(columns)
    last = {row["claim_id"]: row for row in rows}  # one row per claim: UPDATE .. FROM applies only one
    await (await driver(conn)).execute(statement, list(last), *([row[name] for row in last.values()]
                                                                   for name in columns))


async def enrollment_spans(conn: AsyncConnection, tenant_id: str, npis: list[str],
                           payer_id: str) -> list[tuple]:
    """(npi, payer_id, effective_from, effective_to) of these providers' enrollments with the payer."""
    rows = await fetch(conn, _ENROLLMENT_SPANS, {"tenant_id": tenant_id, "npis": npis, "payer_id": payer_id})
    return [tuple(row) for row in rows]


# --- a new claim in one statement --------------------------------------------------------------
# Taking in a claim writes four tables; as one statement (data-modifying CTEs hanging off the
# claim row) that is one round trip and one statement for PostgreSQL instead of four, and when
# the claim row is not written (the encounter already has it) neither is anything else.
# Lines and history entries travel as JSON arrays, expanded by jsonb_to_recordset.

def _records(name: str, table: sa.Table, columns: tuple[str, ...], *extra: sa.ColumnClause):
    """jsonb_to_recordset(:name) AS name(column type, ...) with the table's own column types."""
    return (sa.func.jsonb_to_recordset(sa.bindparam(name, type_=pg.JSONB))
            .table_valued(*(sa.column(c, table.c[c].type) for c in columns), *extra)
            .render_derived(name=name, with_types=True))


# The idempotency_keys row a keyed request writes with its claim (openrcm_shared.http.idempotency):
# the key, the request's fingerprint and the answer, complete (no in-flight row to update).
KEY_COLUMNS = ("idempotency_key", "request_fingerprint", "response_status", "response_body")


@dataclass(frozen=True)
class KeyedAnswer:
    """An `Idempotency-Key` and the answer stored under it when the claim is written."""

    idempotency_key: str
    request_fingerprint: str
    response_status: int
    response_body: bytes


class KeyTaken(Exception):
    """A concurrent request committed the same `Idempotency-Key` first; nothing was written."""


def _new_claim_statement():
    # The statement binds its own practice (row-level security, openrcm_shared.row_security): it
    # runs outside a transaction block, possibly in a pipeline with other practices' claims
    # (NewClaimsAlone), where no BEGIN binds one. set_config(..., true) lasts until the pipeline's
    # implicit transaction ends, and every row written (and the payer check) is derived from the
    # `practice` row, so the setting is made before any policy is evaluated; a claim of one
    # practice after another's in the same pipeline sets its own before its rows in turn.
    practice = (sa.select(sa.func.set_config(sa.literal_column(f"'{TENANT_SETTING}'"),
                                             sa.bindparam("claim_tenant_id", type_=sa.Text), sa.true())
                          .label("tenant_id"))
                .cte("practice").prefix_with("MATERIALIZED"))
    # With :payer_updated_at, the claim is written only if the payer's registry row is still the
    # one it was scrubbed against (a payer cached by this process may have been changed through
    # another); NULL when the caller read the payer in the same transaction.
    payer_as_scrubbed = sa.bindparam("payer_updated_at", type_=payers.c.updated_at.type)
    payer_unchanged = sa.or_(payer_as_scrubbed.is_(None), sa.exists().where(
        payers.c.tenant_id == practice.c.tenant_id, payers.c.payer_id == sa.bindparam("claim_payer_id"),
        payers.c.updated_at == payer_as_scrubbed))
    # With :key_idempotency_key, the claim is written only if the practice has not used the key
    # yet; the key row (with the answer) is then written with it, below. A concurrent request
    # holding the same key, not yet committed, is not seen here: the key row's insert then waits
    # for it on the primary key and fails with a unique violation, and the whole statement with
    # it (KeyTaken), so nothing is written twice.
    key = sa.bindparam("key_idempotency_key", type_=sa.Text)
    key_unused = sa.or_(key.is_(None), ~sa.exists().where(
        idempotency_keys.c.tenant_id == practice.c.tenant_id, idempotency_keys.c.idempotency_key == key))
    claim_values = (practice.c.tenant_id if c == "tenant_id" else sa.bindparam(f"claim_{c}", type_=claims.c[c].type)
                    for c in CLAIM_COLUMNS)
    new_claim = (pg_insert(claims).from_select(
        list(CLAIM_COLUMNS), sa.select(*claim_values).select_from(practice).where(payer_unchanged, key_unused))
                 .on_conflict_do_nothing(constraint="uq_claims_tenant_encounter_payer_part")
                 .returning(claims.c.id, claims.c.tenant_id).cte("new_claim"))
    line_columns = tuple(c for c in LINE_COLUMNS if c not in ("claim_id", "tenant_id"))
    lines = _records("lines", claim_lines, line_columns)
    new_lines = claim_lines.insert().from_select(
        ["claim_id", "tenant_id", *line_columns],
        sa.select(new_claim.c.id, new_claim.c.tenant_id, *(lines.c[c] for c in line_columns))
        .select_from(new_claim).join(lines, sa.true())).cte("new_lines")
    scrub_columns = tuple(c for c in SCRUB_COLUMNS if c not in ("claim_id", "tenant_id"))
    new_scrub = scrub_results.insert().from_select(
        ["claim_id", "tenant_id", *scrub_columns],
        sa.select(new_claim.c.id, new_claim.c.tenant_id,
                  *(sa.bindparam(f"scrub_{c}", type_=scrub_results.c[c].type) for c in scrub_columns))
    ).cte("new_scrub")
    history_columns = tuple(c for c in HISTORY_COLUMNS if c not in ("claim_id", "tenant_id"))
    # `position`: entries get their ids (the timeline's order) in the order they were given.
    history = _records("history", claim_history, history_columns, sa.column("position", sa.Integer))
    new_history = claim_history.insert().from_select(
        ["claim_id", "tenant_id", *history_columns],
        sa.select(new_claim.c.id, new_claim.c.tenant_id, *(history.c[c] for c in history_columns))
        .select_from(new_claim).join(history, sa.true()).order_by(history.c.position)).cte("new_history")
    # The request's audit entry (openrcm_shared.audit.change_entry), written only with the claim:
    # in the same statement, so in the same transaction, at no extra round trip. All NULL: none.
    new_audit = audit_log.insert().from_select(
        list(ENTRY_COLUMNS),
        sa.select(*(sa.bindparam(f"audit_{c}", type_=audit_log.c[c].type) for c in ENTRY_COLUMNS))
        .select_from(new_claim).where(sa.bindparam("audit_tenant_id", type_=sa.Text).is_not(None))
    ).cte("new_audit")
    new_key = idempotency_keys.insert().from_select(
        ["tenant_id", *KEY_COLUMNS],
        sa.select(new_claim.c.tenant_id,
                  *(key if c == "idempotency_key" else sa.bindparam(f"key_{c}", type_=idempotency_keys.c[c].type)
                    for c in KEY_COLUMNS))
        .select_from(new_claim).where(key.is_not(None))
    ).cte("new_key")
    return sa.select(new_claim.c.id).add_cte(new_lines, new_scrub, new_history, new_audit, new_key)


_INSERT_NEW_CLAIM = DriverStatement(_new_claim_statement())


def _new_claim_params(claim: Mapping[str, Any], lines: list[dict], scrub_result: dict, history: list[dict],
                      payer_updated_at, audit_entry: Mapping[str, Any] | None = None,
                      keyed: KeyedAnswer | None = None) -> dict:  # noqa: ANN001
    params = {f"claim_{c}": claim[c] for c in CLAIM_COLUMNS}
    params.update({f"key_{c}": getattr(keyed, c) if keyed else None for c in KEY_COLUMNS})
    params.update({f"scrub_{c}": scrub_result[c] for c in SCRUB_COLUMNS if c not in ("claim_id", "tenant_id")})
    params.update(lines=lines, history=[{**entry, "position": n} for n, entry in enumerate(history)],
                  payer_updated_at=payer_updated_at)
    params.update({f"audit_{c}": audit_entry[c] if audit_entry else None for c in ENTRY_COLUMNS})
    return params


async def insert_new_claim(conn: AsyncConnection, claim: Mapping[str, Any], lines: list[dict], scrub_result: dict,
                           history: list[dict]) -> bool:
    """The claim row with its lines, scrub result and first timeline entries (in the order given),
    in the caller's transaction; False (nothing written) when the encounter already has this claim.
    Lines and history entries carry every column but claim_id and tenant_id, as JSON values
    (amounts and dates as strings)."""
    return bool(await fetch(conn, _INSERT_NEW_CLAIM, _new_claim_params(claim, lines, scrub_result, history, None)))


# How many claims each intake commit carried: 1 when requests come one at a time, more in bursts.
INTAKE_GROUP_SIZE = Histogram("openrcm_claims_intake_group_size", "Claims written by one intake commit",
                              buckets=(1, 2, 4, 8, 16, 32, 64))


class NewClaimsAlone:
    """The intake's one-statement writes (`_INSERT_NEW_CLAIM` with `payer_updated_at`), each a
    transaction of its own, grouped: writes that arrive while a round trip is in flight go
    together in the next one, pipelined and committed as one transaction (group commit).

    Why: at 300 claims/s each claim was its own round trip and its own commit, i.e. ~300 WAL
    flushes a second (1-2.7 ms each under load) and a switch between the API process and its
    PostgreSQL backend per request, on two shared cores. Grouped, a burst costs a few round trips
    and flushes instead of one per claim; a lone write still goes at once (no waiting to fill a
    group). Durability is unchanged: each caller's answer waits for the commit its write is in.

    All or nothing per group (one implicit transaction): if a group fails, its writes are retried
    one by one, so one bad write costs no other its claim and each caller gets its own outcome.
    One group in flight per engine (per process and database).
    """

    def __init__(self, engine: AsyncEngine, *, max_group: int = 64) -> None:
        self.engine = engine
        self.max_group = max_group
        self._waiting: list[tuple[dict, UUID, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None  # writes groups while any write is waiting
        self.groups_written = 0  # round trips that committed a group (of one or more writes)

    async def write(self, claim: Mapping[str, Any], lines: list[dict], scrub_result: dict, history: list[dict], *,
                    payer_updated_at, audit_entry: Mapping[str, Any] | None = None,
                    keyed: KeyedAnswer | None = None) -> bool:  # noqa: ANN001
        """True once the claim is written and committed; False (nothing written) when the encounter
        already has this claim, the payer's registry row no longer has `payer_updated_at`, or the
        practice already used `keyed`'s key; KeyTaken (nothing written) when a concurrent request
        committed that key first. `audit_entry`: an audit_log row written with the claim (and only
        then); `keyed`: the key and its answer, written with the claim (and only then)."""
        loop = asyncio.get_running_loop()
        if self._writer is not None and self._writer.get_loop() is not loop:  # an earlier event loop's (tests)
            self._writer, self._waiting = None, []
        written = loop.create_future()
        self._waiting.append((_new_claim_params(claim, lines, scrub_result, history, payer_updated_at, audit_entry,
                                                keyed), claim["id"], written))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_waiting(), name="new-claims-alone")
        return await written

    async def _write_waiting(self) -> None:
        # Ends as soon as nothing waits; the next write starts it again.
        while self._waiting:
            group, self._waiting = self._waiting[:self.max_group], self._waiting[self.max_group:]
            await self._write_group(group)

    async def _write_group(self, group: list[tuple[dict, UUID, asyncio.Future]]) -> None:
        try:
            async with self.engine.connect() as conn:
                rows = await fetch_many_alone(conn, _INSERT_NEW_CLAIM, [params for params, _, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][2], exception=KeyTaken() if _key_taken(exc) else exc)
            else:
                for member in group:  # the group was rolled back whole: each on its own, for its own outcome
                    await self._write_group([member])
            return
        self.groups_written += 1
        INTAKE_GROUP_SIZE.observe(len(group))
        written = {row[0] for row in rows}
        for _, claim_id, future in group:
            _settle(future, result=claim_id in written)


def _key_taken(exc: Exception) -> bool:
    return isinstance(exc, asyncpg.UniqueViolationError) and exc.table_name == idempotency_keys.name


def _settle(future: asyncio.Future, *, result: bool | None = None, exception: BaseException | None = None) -> None:
    if future.done():  # the caller is gone (its request was cancelled); the write stands regardless
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


_GROUPED_WRITES: "weakref.WeakKeyDictionary[AsyncEngine, NewClaimsAlone]" = weakref.WeakKeyDictionary()


def new_claims_alone(engine: AsyncEngine) -> NewClaimsAlone:
    """The grouped writer of this engine (one per process and database)."""
    writes = _GROUPED_WRITES.get(engine)
    if writes is None:
        writes = _GROUPED_WRITES[engine] = NewClaimsAlone(engine)
    return writes
