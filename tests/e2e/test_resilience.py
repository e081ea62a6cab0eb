"""Outages on the real stack: the broker stopped under traffic, PostgreSQL restarted.

Both stop shared infrastructure, so they run after every other test (marker `disruptive`).
Traffic is bounded: a fixed number of requests, and every wait has a deadline.
"""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa

from openrcm_shared.db import create_engine
from tests.support import encounter, eventually

pytestmark = [pytest.mark.stack, pytest.mark.disruptive]

ENCOUNTERS_DURING_OUTAGE = 25


async def scalar(url: str, query: str, **params):
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(query), params)).scalar()
    finally:
        await engine.dispose()


async def test_kafka_down_apis_keep_accepting_and_everything_drains_when_it_returns(api, stack, tenant):
    claims_db = stack.database_url("claims")
    remittance_db = stack.database_url("remittance")
    stack.stop_kafka()
    try:
        created = []
        for _ in range(ENCOUNTERS_DURING_OUTAGE):
            response = await api["claims"].post("/v1/encounters", json=encounter())
            assert response.status_code == 201, response.text
            created.append(response.json())
        async def outbox_grew():
            # each claim goes out with the next 837 batch; its ClaimSubmitted waits in the outbox
            backlog = await scalar(claims_db, "SELECT count(*) FROM outbox "  # the relay deletes what it published
                                              "WHERE tenant_id = :t AND event_type LIKE '%claim_submitted%'", t=tenant)
            assert backlog == ENCOUNTERS_DURING_OUTAGE, backlog
            return True
        await eventually(outbox_grew, timeout=15)

        async def worker_not_ready():
            # The claims worker publishes (relay) and consumes: it reports the broker gone. The API
            # process publishes nothing itself, so it stays ready and keeps taking encounters.
            async with httpx.AsyncClient(base_url=stack.services["claims-worker"].url) as worker:
                response = await worker.get("/readyz")
            assert response.status_code == 503 and response.json()["checks"]["kafka"] != "ok", response.text
            return True
        await eventually(worker_not_ready, timeout=15)
        api_ready = await api["claims"].get("/readyz")
        assert api_ready.status_code == 200 and "kafka" not in api_ready.json()["checks"], api_ready.text
    finally:
        stack.kafka.start()

    async def drained():
        unpublished = await scalar(claims_db, "SELECT count(*) FROM outbox WHERE tenant_id = :t", t=tenant)
        assert unpublished == 0, unpublished
        known = await scalar(remittance_db, "SELECT count(*) FROM expected_claims WHERE tenant_id = :t", t=tenant)
        assert known == ENCOUNTERS_DURING_OUTAGE, known  # consumed downstream, each once
        return True
    await eventually(drained, timeout=120, interval=1)

    async def ready_again():
        for service in stack.services.values():
            async with httpx.AsyncClient(base_url=service.url) as client:
                response = await client.get("/readyz")
                assert response.status_code == 200, response.text
        return True
    await eventually(ready_again, timeout=60, interval=1)


async def test_postgres_restart_gives_fast_503s_no_half_written_claim_and_pools_reconnect(api, stack, tenant):
    if stack.postgres is None:
        pytest.skip("PostgreSQL is an external server (DATABASE_URL); the suite does not restart it")
    before = (await api["claims"].get("/v1/claims")).json()["items"]
    stack.stop_postgres()
    try:
        started = time.monotonic()
        response = await api["claims"].post("/v1/encounters", json=encounter())
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
        assert elapsed < 10, f"503 took {elapsed:.1f}s"
        ready = await api["claims"].get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
    finally:
        stack.postgres.start()

    async def accepting_again():
        response = await api["claims"].post("/v1/encounters", json=encounter())
        assert response.status_code == 201, response.text
        return response.json()
    claim = await eventually(accepting_again, timeout=60, interval=0.5)

    after = (await api["claims"].get("/v1/claims")).json()["items"]
    assert [c["id"] for c in after] == [claim["id"]] + [c["id"] for c in before]  # nothing half-written

    async def consumers_recovered():
        known = await scalar(stack.database_url("remittance"),
                             "SELECT count(*) FROM expected_claims WHERE claim_id = :c", c=claim["id"])
        assert known == 1
        return True
    await eventually(consumers_recovered, timeout=60, interval=0.5)
