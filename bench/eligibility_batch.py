"""An eligibility batch against the clearinghouse simulator: 5,000 checks, each payer's limit kept.

    uv run python -m bench.eligibility_batch                      5,000 checks over 2 payers, limit 4
    uv run python -m bench.eligibility_batch --checks 1000 --payer-latency 0.02

Starts its own stack (PostgreSQL, Kafka, issuer, clearinghouse simulator, claims and eligibility;
ports OPENRCM_TEST_PORT_OFFSET above the bench ports), registers patients and coverages with
claims (they reach eligibility by CoverageRegistered), then times `POST /v1/eligibility-batches`
until the batch's `finished_at`, and reads from the simulator the most inquiries each payer had in
progress at once. Each simulated payer takes `--payer-latency` seconds per inquiry (a batch 270 of
n inquiries is answered after n times that); the worker sends up to `--batch-inquiries` checks of
one payer in one batch 270. CPU seconds per component (eligibility service, simulator, PostgreSQL,
Kafka) and the load average are reported beside the wall time. Target (issue 17):
5,000 checks in at most 60 s with the per-payer limit respected. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import date, timedelta

import httpx

from bench.cpu import CpuMeter
from bench.machine import load_average
from bench.profiled import START as PROFILE_START, STOP as PROFILE_STOP
from bench.profiling import restart_profiled, signal_profilers, summarize_profile

TARGET_SECONDS = 60.0
PAYERS = ("60054", "87726")
DATES_PER_COVERAGE = 20  # a coverage asked about for several dates of service, as a month's schedule would


async def _register(claims: httpx.AsyncClient, coverages: int) -> list[str]:
    for payer in PAYERS:
        response = await claims.put(f"/v1/payers/{payer}", json={"name": f"Bench Plan {payer}",
                                                                 "claim_types": ["professional"]})
        response.raise_for_status()
    ids = []
    semaphore = asyncio.Semaphore(16)

    async def one(index: int) -> None:
        async with semaphore:
            patient_id, coverage_id = f"BP{index:06d}", f"BC{index:06d}"
            (await claims.put(f"/v1/patients/{patient_id}", json={
                "first_name": "Bench", "last_name": f"Patient{index}", "birth_date": "1980-01-01",
                "gender": "U"})).raise_for_status()
            (await claims.put(f"/v1/patients/{patient_id}/coverages/{coverage_id}", json={
                "payer_id": PAYERS[index % len(PAYERS)], "member_id": f"M{index:08d}",
                "effective_from": "2020-01-01"})).raise_for_status()
            ids.append(coverage_id)

    await asyncio.gather(*(one(i) for i in range(coverages)))
    return sorted(ids)


async def _wait_known(eligibility: httpx.AsyncClient, coverage_ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for coverage_id in (coverage_ids[0], coverage_ids[-1]):
        while (await eligibility.get(f"/v1/coverages/{coverage_id}/eligibility")).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("coverages did not reach the eligibility service")
            await asyncio.sleep(0.5)


async def _run(stack, checks: int, profiled: bool = False) -> dict:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    token = stack.issuer.mint(tenant, ["claims:write", "claims:read", "reference:admin", "eligibility:write",
                                       "eligibility:read"], client_id="bench-eligibility")
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
    async with httpx.AsyncClient(base_url=stack.services["claims"].url, headers=headers, timeout=120) as claims, \
            httpx.AsyncClient(base_url=stack.services["eligibility"].url, headers=headers, timeout=300) as eligibility, \
            httpx.AsyncClient(base_url=stack.clearinghouse_url, timeout=30) as clearinghouse:
        coverages = await _register(claims, max(1, checks // DATES_PER_COVERAGE))
        await _wait_known(eligibility, coverages)
        first = date.today() + timedelta(days=1)
        items = [{"coverage_id": coverages[i % len(coverages)],
                  "service_date": (first + timedelta(days=i // len(coverages))).isoformat()} for i in range(checks)]
        meter = CpuMeter(_component_pids(stack))
        before, load_before = meter.sample(), load_average()
        if profiled:
            signal_profilers(stack, ["eligibility"], PROFILE_START)
        started = time.monotonic()
        created = await eligibility.post("/v1/eligibility-batches", json={
            "provider_npi": "1234567893", "provider_name": "Bench Clinic", "items": items})
        created.raise_for_status()
        queued = time.monotonic() - started
        batch_id = created.json()["id"]
        while True:
            await asyncio.sleep(0.5)
            response = await eligibility.get(f"/v1/eligibility-batches/{batch_id}")
            if response.status_code != 200:
                raise RuntimeError(f"GET batch: {response.status_code} {response.text[:300]}")
            body = response.json()
            if body["finished_at"]:
                break
        elapsed = time.monotonic() - started
        after = meter.sample()
        if profiled:
            signal_profilers(stack, ["eligibility"], PROFILE_STOP)
        stats = (await clearinghouse.get("/v1/eligibility/stats")).json()
    # CPU seconds per component over the run (the machine is shared: wall time alone says little).
    cpu = {name: round(after.components[name] - before.components.get(name, 0.0), 2)
           for name in after.components if name in ("eligibility", "clearinghouse", "postgresql", "kafka")}
    return {"checks": checks, "seconds": round(elapsed, 2), "queued_seconds": round(queued, 2),
            "checks_per_second": round(checks / elapsed, 1), "counts": body["counts"],
            "payer_limit": int(os.environ["OPENRCM_ELIGIBILITY_PAYER_CONCURRENCY"]),
            "batch_inquiries": int(os.environ["OPENRCM_ELIGIBILITY_BATCH_INQUIRIES"]),
            "per_payer": {payer: stats.get(payer, {}) for payer in PAYERS},
            "cpu_seconds": cpu, "cpu_ms_per_check": {name: round(1000 * seconds / checks, 2)
                                                     for name, seconds in cpu.items()},
            "load_average_before": load_before, "load_average_after": load_average(),
            "target_seconds": TARGET_SECONDS}


def _component_pids(stack) -> dict[str, int]:
    pids = {name: service.process.pid for name, service in stack.services.items()}
    if getattr(stack, "clearinghouse", None) is not None and stack.clearinghouse.process.pid:
        pids["clearinghouse"] = stack.clearinghouse.process.pid
    if stack.postgres and stack.postgres.process:
        pids["postgresql"] = stack.postgres.process.pid
    if stack.kafka.process:
        pids["kafka"] = stack.kafka.process.pid
    return pids


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--checks", type=int, default=5000)
    options.add_argument("--payer-limit", type=int, default=4)
    options.add_argument("--payer-latency", type=float, default=0.02,
                         help="seconds each payer takes per inquiry (a batch 270 of n: n times this)")
    options.add_argument("--batch-inquiries", type=int, default=50,
                         help="most checks in one batch 270 (1: one exchange per check)")
    options.add_argument("--profile", action="store_true",
                         help="run the eligibility service under cProfile (proportions only: it slows it down)")
    arguments = options.parse_args()
    os.environ["OPENRCM_ELIGIBILITY_PAYER_CONCURRENCY"] = str(arguments.payer_limit)
    os.environ["OPENRCM_ELIGIBILITY_BATCH_INQUIRIES"] = str(arguments.batch_inquiries)
    os.environ["CLEARINGHOUSE_ELIGIBILITY_LATENCY_SECONDS"] = str(arguments.payer_latency)

    from openrcm_devstack.paths import local_dir
    from openrcm_devstack.stack import DEFAULT_PORTS, Stack

    offset = int(os.environ.get("OPENRCM_TEST_PORT_OFFSET", "0") or 0)
    ports = DEFAULT_PORTS.shifted(20100 + offset, postgres=55434 + offset, kafka=29192 + offset,
                                  kafka_controller=29193 + offset)
    stack = Stack(local_dir() / "bench-eligibility", ports, fresh=True)
    try:
        stack.start_infrastructure()
        stack.start_services(["claims", "eligibility"])
        output = stack.state_dir / "eligibility.prof"
        if arguments.profile:
            restart_profiled(stack, "eligibility", output)
        print(json.dumps(asyncio.run(_run(stack, arguments.checks, arguments.profile)), indent=2))
    finally:
        stack.stop()
    if arguments.profile:
        print(json.dumps(summarize_profile(output, top=30), indent=1))


if __name__ == "__main__":
    main()
