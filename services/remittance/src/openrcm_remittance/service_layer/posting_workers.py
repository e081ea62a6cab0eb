"""Worker processes that prepare the batches of large ERAs, so posting uses more than one core.

Posting is CPU-bound Python (parsing, matching, the posting rules, building rows and events); one
process runs it on one core however many the machine has. A large transaction set's claims are
therefore cut into fragments of X12 text (`stream_835_fragments`, cheap), each fragment is parsed
and prepared in a worker (`era_batches.prepare_batch`, reading what was billed on the worker's own
connection), and the posting's process only streams the finished COPY bytes into its single
transaction, in file order. All or nothing still holds: workers read, they never write.

`OPENRCM_REMITTANCE_POSTING_WORKERS` sets how many worker processes there are (default 2; 0 posts
everything in the service's own process). They are started with the service (so the first large ERA
does not wait for them) in the "spawn" way: a fork of a process running an event loop, threads and
open connections is not safe. A worker that dies breaks the pool; the posting that was using it
fails and rolls back (its file is posted again later), postings run in the service's own process
until `keep_workers` has started a new pool (within RESTART_SECONDS).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from prometheus_client import REGISTRY, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from openrcm_remittance.service_layer.era_batches import BatchJob, BatchResult, prepare_batch
from openrcm_shared.security.context import acting_for

log = logging.getLogger(__name__)

WORKERS_SETTING = "OPENRCM_REMITTANCE_POSTING_WORKERS"
DEFAULT_WORKERS = 2
# Fragments with fewer claims than this are prepared in the posting's own process: shipping them
# costs more than it saves (an ERA with a handful of claims, the last piece of a large one).
MIN_CLAIMS_FOR_A_WORKER = 200

_pool: ProcessPoolExecutor | None = None
_pool_url: str | None = None


def configured_workers() -> int:
    raw = os.environ.get(WORKERS_SETTING, str(DEFAULT_WORKERS)).strip()
    try:
        workers = int(raw)
    except ValueError:
        raise ValueError(f"{WORKERS_SETTING} must be a whole number of processes, not {raw!r}") from None
    if workers < 0:
        raise ValueError(f"{WORKERS_SETTING} must be 0 or more, not {workers}")
    return workers


def database_url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def start(engine: AsyncEngine, workers: int | None = None) -> ProcessPoolExecutor | None:
    """Start the worker processes (if configured) and wait until each has started up."""
    global _pool, _pool_url
    workers = configured_workers() if workers is None else workers
    if workers == 0:
        return None
    url = database_url_of(engine)
    if _pool is not None and _pool_url == url:
        return _pool
    shutdown()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(url,))
    # Make every process start now (a pool starts them on demand) and finish its imports.
    for future in [pool.submit(_ready) for _ in range(workers)]:
        future.result()
    _pool, _pool_url = pool, url
    return pool


def pool_for(engine: AsyncEngine) -> ProcessPoolExecutor | None:
    """The running pool for this database, or None (not started, or started for another one)."""
    if _pool is not None and _pool_url == database_url_of(engine):
        return _pool
    return None


def shutdown() -> None:
    global _pool, _pool_url
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool, _pool_url = None, None


def discard_broken(error: BaseException) -> None:
    """Forget a pool a dead worker broke; the next `start` makes a new one."""
    global _pool, _pool_url
    if isinstance(error, BrokenProcessPool) and _pool is not None:
        log.error("a posting worker process died; the pool is replaced on the next start")
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool, _pool_url = None, None


# On the service's /metrics: where batches were prepared, and the workers' CPU for them (an
# operator sees whether large ERAs really use the workers; the benchmark reads the CPU).
BATCHES_PREPARED = Counter("openrcm_remittance_posting_batches_total",
                           "835 claim batches prepared for posting, by where", ["prepared_in"])
WORKERS_RUNNING = Gauge("openrcm_remittance_posting_workers", "Posting worker processes running in this service")
WORKER_CPU_SECONDS = Counter("openrcm_remittance_posting_worker_cpu_seconds_total",
                             "CPU seconds posting worker processes spent preparing batches")


def worker_cpu_seconds() -> float:
    return REGISTRY.get_sample_value("openrcm_remittance_posting_worker_cpu_seconds_total") or 0.0


async def run_in_worker(pool: ProcessPoolExecutor, job: BatchJob) -> BatchResult:
    result, cpu_seconds = await asyncio.get_running_loop().run_in_executor(pool, _prepare_in_worker, job)
    WORKER_CPU_SECONDS.inc(cpu_seconds)
    BATCHES_PREPARED.labels(prepared_in="worker").inc()
    return result


RESTART_SECONDS = 30.0


async def keep_workers(runtime) -> None:
    """Background task of the service: the pool lives as long as the service does, and is started
    again when a dead worker broke it (meanwhile postings run in the service's own process)."""
    if configured_workers() == 0:
        return
    try:
        while True:
            # The workers prepare the batches of ERA postings, which run as the system role.
            if pool_for(runtime.system_engine) is None:
                WORKERS_RUNNING.set(0)
                try:
                    await asyncio.to_thread(start, runtime.system_engine)
                    WORKERS_RUNNING.set(configured_workers())
                except Exception:
                    log.exception("could not start the posting workers; posting in the service's process")
            await asyncio.sleep(RESTART_SECONDS)
    finally:
        WORKERS_RUNNING.set(0)
        await asyncio.to_thread(shutdown)


# -- inside a worker process ------------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None


def _start_worker(database_url: str) -> None:
    global _loop, _engine
    from openrcm_shared.db import create_engine
    from openrcm_shared.gc_tuning import settle_after_start_up

    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    # One connection: a worker prepares one batch at a time.
    _engine = create_engine(database_url, pool_size=1, max_overflow=0)
    # A batch allocates hundreds of thousands of short-lived objects that reference counting frees;
    # the cyclic collector would walk them (and everything imported) every 700 allocations.
    settle_after_start_up()


def _ready() -> bool:
    return True


def _prepare_in_worker(job: BatchJob) -> tuple[BatchResult, float]:
    started = time.process_time()
    result = _loop.run_until_complete(_prepare(job))
    return result, time.process_time() - started


async def _prepare(job: BatchJob) -> BatchResult:
    # Acting for the batch's practice: what the worker reads is that practice's alone under a role
    # held to the practice policies (the ERA posting's system role is not, and reads by tenant_id).
    with acting_for(job.tenant_id):
        async with _engine.connect() as reader:
            return await prepare_batch(reader, job)
