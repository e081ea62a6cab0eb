"""What the databases say after a run: when the remittance service learned of each claim, and how
many claims the claims service really created.

End-to-end: the remittance service projects every ClaimSubmitted into expected_claims and stamps
the row's recorded_at with PostgreSQL's clock_timestamp() as it applies the event. The load
generator, on the same machine and clock, noted the wall-clock time each 201 arrived; the
difference is the path claims outbox -> relay -> Kafka -> remittance consumer -> committed row,
as seen from the moment the client was told its claim exists.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

from bench.wire import LOOPBACK


@dataclass
class Arrivals:
    recorded_at: dict[str, float]   # claim id -> recorded_at as a Unix timestamp
    submitted_at: dict[str, float]  # claim id -> ClaimSubmitted's submitted_at: its 837 round
    waited_seconds: float           # how long after the run the last expected claim showed up (or gave up)
    complete: bool                  # every expected claim showed up within the bound


async def _connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    if url.host not in LOOPBACK:
        raise ValueError(f"benchmarks only talk to loopback addresses, not {url.host!r}")
    return await asyncpg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                 database=url.database, timeout=10)


async def wait_for_expected_claims(database_url: str, tenant_id: str, claim_ids: list[str], *, timeout: float,
                                   poll_seconds: float = 0.25) -> Arrivals:
    """Poll the remittance database until every one of `claim_ids` is there, or `timeout`."""
    ids = [uuid.UUID(claim_id) for claim_id in claim_ids]
    conn = await _connect(database_url)
    try:
        started = time.monotonic()
        while True:
            found = await conn.fetchval(
                "SELECT count(*) FROM expected_claims WHERE tenant_id = $1 AND claim_id = ANY($2::uuid[])",
                tenant_id, ids)
            if found >= len(ids) or time.monotonic() - started >= timeout:
                break
            await asyncio.sleep(poll_seconds)
        waited = time.monotonic() - started
        rows = await conn.fetch(
            "SELECT claim_id, recorded_at, submitted_at FROM expected_claims "
            "WHERE tenant_id = $1 AND claim_id = ANY($2::uuid[])", tenant_id, ids)
    finally:
        await conn.close()
    recorded = {str(row["claim_id"]): row["recorded_at"].timestamp() for row in rows}
    submitted = {str(row["claim_id"]): row["submitted_at"].timestamp() for row in rows}
    return Arrivals(recorded, submitted, round(waited, 2), len(recorded) >= len(ids))


async def count_claims(database_url: str, tenant_id: str) -> int:
    """Claims the claims service holds for the tenant: more than the 201s the client saw when it
    gave up on requests (time-outs) that the service still completed."""
    conn = await _connect(database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM claims WHERE tenant_id = $1", tenant_id)
    finally:
        await conn.close()


async def sessions_by_database(database_url: str) -> dict[str, int]:
    """Sessions PostgreSQL has established per database since its statistics began
    (pg_stat_database.sessions): the difference over a run is how many connections the services
    opened, each a new backend process with cold catalog caches. A steady pool opens none."""
    conn = await _connect(database_url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = await conn.fetch("SELECT datname, sessions FROM pg_stat_database WHERE datname LIKE 'openrcm_%'")
    finally:
        await conn.close()
    return {row["datname"]: row["sessions"] for row in rows}
