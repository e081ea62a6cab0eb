"""What the audit trail costs per request: CPU of the service process and of PostgreSQL.

    ./openrcm bench audit                  4,000 requests per run, five runs of each kind
    ./openrcm bench audit --requests 500   a quick run

Starts its own PostgreSQL (embedded, BENCH ports, .local/bench-audit) and migrates the claims
database. Measured apart from everything else a request does, so the difference stays visible on
a busy machine:

- a read: a FastAPI app with the audit middleware and one audited route that only returns a
  model, driven through its ASGI interface, with the trail on and off (off: no route counts as
  audited); the difference per request is what recording a read costs (the entry built, its
  INSERT and commit, which concurrent reads share);
- an encounter: the claims intake's one-statement write (claim_writes.NewClaimsAlone) with and
  without its audit entry inside the statement;
- the chainer: sealing every entry written, per entry.

Runs alternate on and off; medians are reported. Figures only, no assertions.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

from fastapi import FastAPI
from pydantic import BaseModel

from bench.cpu import CpuMeter
from bench.machine import describe_machine
from openrcm_shared.audit import AuditMiddleware, audited
from openrcm_shared.http.tenancy import TenantDep

TENANT = "bench-practice"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _audit(enabled: bool):
    """With `enabled` False, no route counts as audited (the declarations are looked up per request)."""
    from openrcm_shared.audit import recording

    declared = recording.spec_of
    if not enabled:
        recording.spec_of = lambda scope: None
    try:
        yield
    finally:
        recording.spec_of = declared


async def _drive(requests: int, concurrency: int, send) -> None:  # noqa: ANN001
    counter = iter(range(requests))

    async def worker() -> None:
        for n in counter:
            await send(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _compare(name: str, meter: CpuMeter, requests: int, rounds: int, concurrency: int, send,
                   toggle) -> dict:  # noqa: ANN001
    """Median CPU per request (service, PostgreSQL) with the trail on and off, alternating runs."""
    samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(rounds):
        for enabled in (True, False):
            with toggle(enabled):
                before, database_before = _cpu_seconds(), meter.sample().components.get("postgresql", 0.0)
                await _drive(requests, concurrency, lambda n: send(n, enabled))
                database = meter.sample().components.get("postgresql", 0.0) - database_before
                samples[enabled].append(((_cpu_seconds() - before) / requests, database / requests))
    on = [statistics.median(s[i] for s in samples[True]) for i in (0, 1)]
    off = [statistics.median(s[i] for s in samples[False]) for i in (0, 1)]
    result = {"request": name, "concurrency": concurrency, "requests_per_run": requests, "runs_each": rounds,
              "service_us_on": round(on[0] * 1e6), "service_us_off": round(off[0] * 1e6),
              "postgresql_us_on": round(on[1] * 1e6), "postgresql_us_off": round(off[1] * 1e6),
              "audit_us_service": round((on[0] - off[0]) * 1e6),
              "audit_us_postgresql": round((on[1] - off[1]) * 1e6)}
    print(json.dumps(result), file=sys.stderr)
    return result


class _ClaimOut(BaseModel):
    id: str
    patient_id: str


def _read_app(engine):
    """One audited read that does nothing else, behind the audit middleware, as the services wire it."""
    app = FastAPI()
    app.add_middleware(AuditMiddleware)
    app.state.runtime = SimpleNamespace(engine=engine)

    @app.get("/v1/claims/{claim_id}")
    @audited("read", "claim", resource_id="claim_id", patient_id="patient_id")
    async def get_claim(claim_id: str, tenant_id: TenantDep) -> _ClaimOut:
        return _ClaimOut(id=claim_id, patient_id="P-1")

    async def serve(scope, receive, send):  # each request in a task of its own, as under uvicorn
        await asyncio.create_task(app(scope, receive, send))
    return serve


async def _reads(engine, meter: CpuMeter, requests: int, rounds: int) -> list[dict]:
    import httpx

    transport = httpx.ASGITransport(app=_read_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://claims",
                                 headers={"X-Tenant-Id": TENANT}) as client:
        async def read(n: int, enabled: bool) -> None:
            response = await client.get(f"/v1/claims/{uuid.UUID(int=n)}")
            assert response.status_code == 200, response.text

        await _drive(requests, 16, lambda n: read(n, True))  # warm-up
        return [await _compare("claim read", meter, requests, rounds, concurrency, read, _audit)
                for concurrency in (1, 16)]


async def _encounters(engine, meter: CpuMeter, requests: int, rounds: int) -> list[dict]:
    from openrcm_claims.adapters.claim_writes import new_claims_alone
    from openrcm_claims.entrypoints.schemas import EncounterIn
    from openrcm_claims.service_layer.reference_data import KNOWN_PAYERS
    from openrcm_claims.service_layer.submission import prepare_claim
    from services.claims.tests.integration.practice import register_payer
    from tests.support import encounter

    await register_payer(engine, TENANT)
    payer = await KNOWN_PAYERS.get(engine, TENANT, "60054")
    writes = new_claims_alone(engine)
    prepared = [await prepare_claim(None, TENANT, EncounterIn.model_validate(encounter()), payer)
                for _ in range(requests * rounds * 4 + requests)]
    queue = iter(prepared)

    def entry(claim) -> dict:  # noqa: ANN001 - what change_entry gives the intake
        return dict(tenant_id=TENANT, occurred_at=claim.out.created_at, actor="ehr-1", client_id="ehr",
                    action="create", route="POST /v1/encounters", resource_type="claim", resource_id=str(claim.out.id),
                    patient_id=claim.out.patient_id, outcome="ok", purpose=None)

    async def intake(n: int, enabled: bool) -> None:
        claim = next(queue)
        assert await writes.write(claim.claim_row, claim.lines, claim.scrub_row, claim.history,
                                  payer_updated_at=payer.updated_at, audit_entry=entry(claim) if enabled else None)

    @contextmanager
    def no_toggle(enabled: bool):
        yield

    await _drive(requests, 16, lambda n: intake(n, True))  # warm-up
    return [await _compare("encounter (intake statement)", meter, requests, rounds, concurrency, intake, no_toggle)
            for concurrency in (1, 16)]


async def _chain_all(engine, meter: CpuMeter) -> dict:
    from openrcm_shared.audit.chainer import AuditChainer

    chainer = AuditChainer(engine, service_name="bench", retention_days=2190)
    before, database_before = _cpu_seconds(), meter.sample().components.get("postgresql", 0.0)
    started, sealed = time.perf_counter(), 0
    while (batch := await chainer.chain_once()) > 0:
        sealed += batch
    wall = time.perf_counter() - started
    service = _cpu_seconds() - before
    database = meter.sample().components.get("postgresql", 0.0) - database_before
    return {"entries_sealed": sealed, "seconds": round(wall, 2), "entries_per_second": round(sealed / wall),
            "chainer_us_per_entry": round(service / sealed * 1e6),
            "postgresql_us_per_entry": round(database / sealed * 1e6)}


async def _bench(database_url: str, postgres_pid: int, requests: int, rounds: int) -> dict:
    from openrcm_shared.db import create_engine

    engine = create_engine(database_url, pool_size=20)
    meter = CpuMeter({"postgresql": postgres_pid})
    try:
        runs = await _reads(engine, meter, requests, rounds) + await _encounters(engine, meter, requests, rounds)
        chaining = await _chain_all(engine, meter)
    finally:
        await engine.dispose()
    return {"machine": describe_machine(), "runs": runs, "chainer": chaining}


def run(requests: int, rounds: int) -> int:
    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.services import SERVICES, migrate_service
    from openrcm_devstack.stack import BENCH_PORTS, Stack

    stack = Stack(local_dir() / "bench-audit", BENCH_PORTS, fresh=True)
    try:
        stack.start_postgres()
        url = stack.database_url("claims")
        migrate_service(next(s for s in SERVICES if s.name == "claims"), url)
        report = asyncio.run(_bench(url, stack.postgres.process.pid, requests, rounds))
    finally:
        stack.stop()
    print(json.dumps(report, indent=2))
    return 0
