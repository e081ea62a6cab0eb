"""How the collections consumer keeps up under intake load: run beside `./openrcm bench intake`.

    python -m bench.collections_consumer --seconds 240 &   # then, in the same checkout and environment:
    ./openrcm bench intake --form json --rates 300 --duration 60 --clearinghouse-validator envelope

Every `--interval` seconds, on the bench stack (BENCH_PORTS, moved by OPENRCM_TEST_PORT_OFFSET), it
counts the claims the claims service submitted (`claim_submissions`), the ClaimSubmitted events
the collections consumer applied (`bill_claims`) and every event it applied (`inbox`), and reads
from /proc the CPU of the collections service process and of the PostgreSQL backends serving the
collections database (a backend's process title names its database). Bounded in time; only
loopback. Printed as one JSON line per sample and a summary: events/s applied, the largest
backlog (submitted - applied), CPU ms per ClaimSubmitted of the service and of its database.

    python -m bench.collections_consumer --handlers-alone --events 2000

The handlers alone (no Kafka, no service process; `handlers_alone`): on its own embedded PostgreSQL
(.local/bench-collections-consumer, bench ports) migrated for collections, as the app role, the
consumer's subscriptions apply `--events` ClaimSubmitted, then a ClaimPaymentPosted (paid, CO and PR
adjustments: the patient's share goes to the account) for each of those claims, in runs of 100
events sharing one transaction as the consumer groups them (`consumer._SharedTransaction`: the
inbox rows, the practice bound per event, `write_at_commit` flushed at the commit). Printed per
event type: Python CPU (this process) and PostgreSQL backend CPU (/proc) per event, and statements
sent per event (each execute or executemany counted once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import asyncpg

from openrcm_devstack.stack import BENCH_PORTS

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process has ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime (proc(5))


def _service_pids() -> list[int]:
    """The collections service's process on the bench stack (its port on the command line)."""
    port = str(BENCH_PORTS.services["collections"])
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"openrcm_collections.main:app" in argv and port.encode() in argv:
                pids.append(int(proc.name))
    return pids


class CpuMeter:
    """CPU seconds of the collections service and of the bench server's backends on its database,
    summed over every process seen (a backend that ended keeps what it used while it was seen)."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, int], float] = {}

    async def read(self, conn: asyncpg.Connection) -> dict[str, float]:
        backends = [row["pid"] for row in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = 'openrcm_collections'")]
        for kind, pids in (("service", _service_pids()), ("database", backends)):
            for pid in pids:
                seconds = _cpu_seconds(pid)
                if seconds:
                    self.last[(kind, pid)] = seconds
        totals = {"service": 0.0, "database": 0.0}
        for (kind, _), seconds in self.last.items():
            totals[kind] += seconds
        return totals


async def _count(conn: asyncpg.Connection, sql: str) -> int:
    try:
        return int(await conn.fetchval(sql))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):  # the table not there yet, or the stack gone
        return -1


async def watch(seconds: float, interval: float) -> list[dict]:
    url = f"postgresql://postgres@127.0.0.1:{BENCH_PORTS.postgres}"
    samples: list[dict] = []
    deadline = time.monotonic() + seconds
    claims = collections = None
    meter = CpuMeter()
    while time.monotonic() < deadline:
        try:
            claims = claims or await asyncpg.connect(f"{url}/openrcm_claims", timeout=5)
            collections = collections or await asyncpg.connect(f"{url}/openrcm_collections", timeout=5)
        except (OSError, asyncpg.PostgresError):  # the bench's stack is not up yet
            claims = collections = None
            await asyncio.sleep(interval)
            continue
        if claims.is_closed() or collections.is_closed():  # the bench stopped its stack
            break
        try:
            cpu = await meter.read(collections)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            break
        sample = {"t": round(time.time(), 2),
                  "submitted": await _count(claims, "SELECT count(DISTINCT claim_id) FROM claim_submissions"),
                  "applied": await _count(collections, "SELECT count(*) FROM bill_claims"),
                  "events": await _count(collections, "SELECT count(*) FROM inbox"),
                  **{f"cpu_{kind}": round(value, 2) for kind, value in cpu.items()},
                  "loadavg": os.getloadavg()[0]}
        samples.append(sample)
        print(json.dumps(sample), flush=True)
        await asyncio.sleep(interval)
    return samples


def summary(samples: list[dict]) -> dict:
    busy = [s for s in samples if s["submitted"] > 0 and s["applied"] >= 0]
    if len(busy) < 2:
        return {"samples": len(samples), "note": "no load seen"}
    first, last = busy[0], busy[-1]
    elapsed = last["t"] - first["t"]
    applied = last["applied"] - first["applied"]
    return {"seconds": round(elapsed, 1), "claims_submitted": last["submitted"], "claims_applied": last["applied"],
            "events_applied_per_s": round((last["events"] - first["events"]) / elapsed, 1),
            "largest_backlog": max(s["submitted"] - s["applied"] for s in busy),
            "backlog_at_end": last["submitted"] - last["applied"],
            "service_cpu_ms_per_claim": round(1000 * (last["cpu_service"] - first["cpu_service"]) / max(applied, 1), 2),
            "database_cpu_ms_per_claim": round(1000 * (last["cpu_database"] - first["cpu_database"])
                                               / max(applied, 1), 2),
            "loadavg_max": max(s["loadavg"] for s in busy)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collections_consumer", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="how long to watch (default 240)")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--handlers-alone", action="store_true",
                        help="the handlers on a PostgreSQL of their own, no Kafka (see the module's docstring)")
    parser.add_argument("--events", type=int, default=2000, help="claims submitted then paid (--handlers-alone)")
    parser.add_argument("--profile", help="cProfile file of the handlers' phases (--handlers-alone)")
    options = parser.parse_args()
    if options.handlers_alone:
        from bench.collections_handlers import run_handlers_alone

        print(json.dumps(run_handlers_alone(min(options.events, 100_000), options.profile), indent=2))
        return
    print(json.dumps({"summary": summary(asyncio.run(watch(min(options.seconds, 900), options.interval)))}))


if __name__ == "__main__":
    main()
