"""The audit chainer: seals new audit entries into each practice's hash chain, and prunes entries
past retention while keeping what remains verifiable.

Guarantees:
- Requests never wait for it and never share a lock: they insert unchained rows; one chainer per
  service database (the leader, by PostgreSQL advisory lock, like the outbox relay) gives each
  new entry the next position in its practice's chain, its `prev_hash` and its `hash`, in one
  transaction with the practice's chain head, within about `interval` seconds of the entry's
  commit.
- Each entry is sealed once: the table's trigger lets an UPDATE only fill in the chain columns of
  an unsealed row, and (tenant_id, chain_seq) is unique, so a second chainer (a lost lock) fails
  instead of forking a chain.
- Retention deletes only a chain's oldest sealed entries, through the one path the trigger
  allows (the retention setting of the transaction), and records the last one deleted as the
  chain's anchor, so verification starts from it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openrcm_shared.audit.chain import START, AuditEntry, ChainPoint, seal
from openrcm_shared.audit.tables import audit_chain_heads, audit_log
from openrcm_shared.leadership import AdvisoryLockLeadership

log = logging.getLogger(__name__)

AUDIT_ENTRIES_CHAINED = Counter("openrcm_audit_entries_chained_total", "Audit entries sealed into a chain",
                                ["service"])
AUDIT_ENTRIES_PRUNED = Counter("openrcm_audit_entries_pruned_total", "Audit entries deleted by retention",
                               ["service"])
AUDIT_UNCHAINED_AGE = Gauge("openrcm_audit_oldest_unchained_age_seconds",
                            "Age of the oldest audit entry not sealed yet (0: none)", ["service"])

# The retention job's path through the append-only trigger: set for its own transaction only.
RETENTION_SETTING = "openrcm.audit_retention_days"

ENTRY_FIELDS = tuple(field.name for field in dataclasses.fields(AuditEntry))
_ENTRY_COLUMNS = [audit_log.c[name] for name in ENTRY_FIELDS]
_UNCHAINED = (sa.select(*_ENTRY_COLUMNS).where(audit_log.c.hash.is_(None))
              .order_by(audit_log.c.id).limit(sa.bindparam("batch_size")))
# Built once: the expression (an IS NULL comparison and an aggregate) took more CPU to build than to run.
_OLDEST_UNCHAINED = sa.select(sa.func.min(audit_log.c.occurred_at)).where(audit_log.c.hash.is_(None))
# How often the unchained-age gauge is read (every round, twice a second, was most of an idle
# service's chainer CPU; the gauge is scraped every 15-60 s).
LAG_EVERY_SECONDS = 10.0
_SEAL = sa.text(
    "UPDATE audit_log SET chain_seq = sealed.chain_seq, prev_hash = sealed.prev_hash, hash = sealed.hash "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prev_hashes AS bytea[]), "
    "CAST(:hashes AS bytea[])) AS sealed(id, chain_seq, prev_hash, hash) "
    "WHERE audit_log.id = sealed.id AND audit_log.hash IS NULL")


def entry_of(row) -> AuditEntry:  # noqa: ANN001 - a Row with the audit_log columns
    """An audit_log row as the chain reads it (every column the hash covers, and the chain's)."""
    return AuditEntry(**{name: row._mapping[name] for name in ENTRY_FIELDS})


class AuditChainer:
    def __init__(self, engine: AsyncEngine, *, service_name: str, retention_days: int,
                 interval: float = 0.5, batch_size: int = 2000, prune_every: float = 3600.0) -> None:
        self.engine = engine
        self.service_name = service_name
        self.retention_days = retention_days
        self.interval = interval
        self.batch_size = batch_size
        self.prune_every = prune_every
        self.leadership = AdvisoryLockLeadership(engine, f"openrcm-audit-chainer:{service_name}", role="audit chainer")

    @property
    def holds_lock(self) -> bool:
        return self.leadership.holds_lock

    async def run(self) -> None:
        """Chain (and prune) while leader, until cancelled; survives database outages by backing off."""
        await self.leadership.run(self._chain_while_leader)

    async def _chain_while_leader(self, lock_conn: AsyncConnection) -> None:
        next_prune = next_lag = time.monotonic()
        while True:
            chained = await self.chain_once()
            if time.monotonic() >= next_prune:
                await self._prune_quietly()
                next_prune = time.monotonic() + self.prune_every
            if chained < self.batch_size:
                if time.monotonic() >= next_lag:
                    await self._record_lag()
                    next_lag = time.monotonic() + LAG_EVERY_SECONDS
                await asyncio.sleep(self.interval)

    async def chain_once(self) -> int:
        """Seal up to `batch_size` unsealed entries (in id order, per practice after its head);
        returns how many."""
        async with self.engine.begin() as conn:
            entries = [entry_of(row) for row in
                       (await conn.execute(_UNCHAINED, {"batch_size": self.batch_size})).all()]
            if not entries:
                return 0
            by_practice: dict[str, list[AuditEntry]] = {}
            for entry in entries:
                by_practice.setdefault(entry.tenant_id, []).append(entry)
            heads = await _heads_for_update(conn, list(by_practice))
            sealed: list[AuditEntry] = []
            new_heads: dict[str, ChainPoint] = {}
            for tenant_id, practice_entries in by_practice.items():
                practice_sealed, new_heads[tenant_id] = seal(practice_entries, heads.get(tenant_id, START))
                sealed.extend(practice_sealed)
            result = await conn.execute(_SEAL, {
                "ids": [e.id for e in sealed], "seqs": [e.chain_seq for e in sealed],
                "prev_hashes": [e.prev_hash for e in sealed], "hashes": [e.hash for e in sealed]})
            if result.rowcount != len(sealed):  # another chainer sealed some: roll back, start again
                raise RuntimeError("audit entries were sealed concurrently")
            await _store_heads(conn, new_heads)
        AUDIT_ENTRIES_CHAINED.labels(self.service_name).inc(len(sealed))
        return len(sealed)

    async def _record_lag(self) -> None:
        async with self.engine.connect() as conn:
            oldest = (await conn.execute(_OLDEST_UNCHAINED)).scalar()
        age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else 0.0
        AUDIT_UNCHAINED_AGE.labels(self.service_name).set(max(age, 0.0))

    async def _prune_quietly(self) -> None:
        """Retention must never stop the chaining: a failed pass is logged and tried next time."""
        try:
            await self.prune()
        except Exception as exc:
            log.error("audit retention failed", extra={"error_class": type(exc).__name__})

    async def prune(self, *, chunk: int = 10_000) -> int:
        """Delete each practice's leading run of sealed entries older than the retention period,
        `chunk` entries per transaction, moving the chain's anchor to the last one deleted."""
        async with self.engine.connect() as conn:
            practices = (await conn.execute(sa.select(audit_chain_heads.c.tenant_id))).scalars().all()
        pruned = 0
        for tenant_id in practices:
            while (deleted := await self._prune_chunk(tenant_id, chunk)) > 0:
                pruned += deleted
        if pruned:
            AUDIT_ENTRIES_PRUNED.labels(self.service_name).inc(pruned)
            log.info("audit entries pruned", extra={"count": pruned, "retention_days": self.retention_days})
        return pruned

    async def _prune_chunk(self, tenant_id: str, chunk: int) -> int:
        async with self.engine.begin() as conn:
            # PostgreSQL's clock, as the trigger reads it (now(): this transaction's start).
            cutoff = (await conn.execute(sa.select(
                sa.func.now() - sa.func.make_interval(0, 0, 0, self.retention_days)))).scalar()
            head = (await conn.execute(sa.select(audit_chain_heads).where(
                audit_chain_heads.c.tenant_id == tenant_id).with_for_update())).first()
            if head is None:
                return 0
            # The chain's leading entries, oldest position first, while they are older than the cutoff.
            leading = (await conn.execute(
                sa.select(audit_log.c.chain_seq, audit_log.c.hash, audit_log.c.occurred_at)
                .where(audit_log.c.tenant_id == tenant_id, audit_log.c.chain_seq > head.anchor_seq)
                .order_by(audit_log.c.chain_seq).limit(chunk))).all()
            last = None
            for row in leading:
                if row.occurred_at >= cutoff:
                    break
                last = row
            if last is None:
                return 0
            await conn.execute(sa.select(sa.func.set_config(RETENTION_SETTING, str(self.retention_days), True)))
            deleted = (await conn.execute(audit_log.delete().where(
                audit_log.c.tenant_id == tenant_id, audit_log.c.chain_seq > head.anchor_seq,
                audit_log.c.chain_seq <= last.chain_seq))).rowcount
            await conn.execute(audit_chain_heads.update().where(audit_chain_heads.c.tenant_id == tenant_id).values(
                anchor_seq=last.chain_seq, anchor_hash=last.hash, pruned_count=head.pruned_count + deleted,
                updated_at=sa.func.now()))
        return deleted


async def _heads_for_update(conn: AsyncConnection, tenants: list[str]) -> dict[str, ChainPoint]:
    """The practices' chain heads, locked until the batch is sealed (a head row is the chain's tip)."""
    rows = (await conn.execute(
        sa.select(audit_chain_heads.c.tenant_id, audit_chain_heads.c.last_seq, audit_chain_heads.c.last_hash)
        .where(audit_chain_heads.c.tenant_id == sa.any_(sa.literal(tenants, pg.ARRAY(sa.Text))))
        .with_for_update())).all()
    return {row.tenant_id: ChainPoint(row.last_seq, row.last_hash) for row in rows}


async def _store_heads(conn: AsyncConnection, new_heads: dict[str, ChainPoint]) -> None:
    """Move each practice's head to its last sealed entry (a new practice's chain starts at START)."""
    now = datetime.now(timezone.utc)
    insert = pg_insert(audit_chain_heads).values([
        dict(tenant_id=tenant_id, last_seq=head.seq, last_hash=head.hash, anchor_seq=START.seq,
             anchor_hash=START.hash, pruned_count=0, updated_at=now) for tenant_id, head in new_heads.items()])
    await conn.execute(insert.on_conflict_do_update(index_elements=["tenant_id"], set_={
        "last_seq": insert.excluded.last_seq, "last_hash": insert.excluded.last_hash,
        "updated_at": insert.excluded.updated_at}))
