"""Load generators: open loop at a fixed offered rate, and closed loop with N workers.

Open loop: request i is due at start + i / rate and is launched then whatever happened to the
earlier ones, and its latency is measured from when it was due, not from when it went out. A
slow server therefore cannot slow the generator down and hide its own queueing (no
"coordinated omission"); if the generator itself falls behind, the lag is recorded and counted
in the latency too.

Closed loop: each worker sends its next request as soon as the previous one is answered, which
finds the maximum throughput; its latency is measured from the actual send.

Both are bounded: a fixed list of pre-encoded requests (the hard cap), a fixed duration, and a
per-request time-out; a request that times out counts as an error with its elapsed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wire import ConnectionPool, HttpError

START_LEAD_SECONDS = 0.05  # the schedule starts this far in the future, so request 0 is not late


@dataclass(slots=True)
class Exchange:
    """One request and what came of it. Times are time.monotonic() except `arrived_wall`."""

    index: int
    due: float                 # when the request should have been sent (open loop), or was (closed)
    started: float             # when the generator actually started it
    finished: float            # when the response was fully read, or the failure seen
    arrived_wall: float        # time.time() at `finished`: the 201's arrival on the wall clock
    status: int | None         # HTTP status; None when there was no response
    error: str | None          # transport failure or time-out
    body: bytes | None         # the 201's body (parsed after the run); a prefix for other answers

    @property
    def latency(self) -> float:
        return self.finished - self.due

    @property
    def lag(self) -> float:
        return self.started - self.due


@dataclass
class Window:
    """When a run started (first request due) and ended (last answer or give-up)."""

    start: float
    end: float
    schedule_end: float        # when the last request was launched
    capped: bool = False       # closed loop only: ran out of requests before the duration
    abandoned: int = 0         # still in flight past the drain bound (counted as errors)

    @property
    def seconds(self) -> float:
        return self.end - self.start


async def _exchange(pool: ConnectionPool, request: bytes, index: int, due: float, timeout: float,
                    into: list[Exchange]) -> None:
    started = time.monotonic()
    status = error = body = None
    try:
        async with asyncio.timeout(timeout):
            response = await pool.send(request)
        status = response.status
        body = response.body if status in (200, 201) else response.body[:300]  # answers name the claims
    except TimeoutError:
        error = "timeout"
    except HttpError as exc:
        error = str(exc)
    into.append(Exchange(index, due, started, time.monotonic(), time.time(), status, error, body))


async def _drain(tasks: set[asyncio.Task], timeout: float) -> int:
    """Wait for in-flight requests (each is bounded by its own time-out); cancel stragglers."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)
    return len(pending)


async def open_loop(pool: ConnectionPool, requests: Sequence[bytes], *, rate: float, request_timeout: float
                    ) -> tuple[list[Exchange], Window]:
    """Launch every request in `requests` at `rate` per second (the caller sizes the list as
    rate x duration, within the cap) and wait for all answers."""
    interval = 1.0 / rate
    done: list[Exchange] = []
    in_flight: set[asyncio.Task] = set()
    start = time.monotonic() + START_LEAD_SECONDS
    for index, request in enumerate(requests):
        due = start + index * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_exchange(pool, request, index, due, request_timeout, done))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    schedule_end = time.monotonic()
    abandoned = await _drain(in_flight, request_timeout + 5)
    end = max((e.finished for e in done), default=time.monotonic())
    return done, Window(start, end, schedule_end, abandoned=abandoned)


async def closed_loop(pool: ConnectionPool, requests: Sequence[bytes], *, workers: int, duration: float,
                      request_timeout: float) -> tuple[list[Exchange], Window]:
    """`workers` concurrent senders, each waiting for its answer before the next request, until
    `duration` has passed or the requests run out."""
    done: list[Exchange] = []
    pending = iter(range(len(requests)))  # shared: each request is sent once
    start = time.monotonic()
    deadline = start + duration
    capped = False

    async def worker() -> None:
        nonlocal capped
        while time.monotonic() < deadline:
            index = next(pending, None)
            if index is None:
                capped = True
                return
            await _exchange(pool, requests[index], index, time.monotonic(), request_timeout, done)

    tasks = {asyncio.create_task(worker()) for _ in range(workers)}
    abandoned = await _drain(tasks, duration + request_timeout + 5)
    end = max((e.finished for e in done), default=time.monotonic())
    return done, Window(start, end, min(end, deadline), capped=capped, abandoned=abandoned)
