"""Open-loop load from vegeta (github.com/tsenart/vegeta), a Go load generator: it does not take
a Python core from the services it measures, and it keeps its fixed rate whatever the server
does (each request goes out on schedule on a connection of its own if none is free).

The requests are prepared up front as a vegeta JSON targets file (one target per line, the body
base64-encoded, every header per request), one target per request so that no body is sent twice;
vegeta's binary results are then read back with `vegeta encode --to json` (status, latency,
response body of every request) into the same Exchange records the Python load generator makes,
so everything after the load (latency, end-to-end, CPU, targets) is one code path. `vegeta report
-type=json` is kept beside, as vegeta's own summary.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.load import Exchange, Window

VEGETA_VERSION = "v12.13.0"
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}:\d+(?:->\d{1,3}(?:\.\d{1,3}){3}:\d+)?")
INSTALL_HINT = (f"vegeta not found (looked on PATH, in $GOBIN, $GOPATH/bin and ~/go/bin). Install it with:\n"
                f"    go install github.com/tsenart/vegeta/v12@{VEGETA_VERSION}\n"
                f"or run the Python load generator instead: --generator python")


class VegetaMissing(RuntimeError):
    pass


def find_vegeta() -> Path:
    """vegeta on PATH, in $GOBIN, in $GOPATH/bin, or in ~/go/bin (go install's default)."""
    on_path = shutil.which("vegeta")
    if on_path:
        return Path(on_path)
    candidates = [os.environ.get("GOBIN", ""), *(str(Path(p) / "bin") for p in
                                                 os.environ.get("GOPATH", "").split(os.pathsep) if p),
                  str(Path.home() / "go" / "bin")]
    for folder in candidates:
        if folder and (Path(folder) / "vegeta").is_file() and os.access(Path(folder) / "vegeta", os.X_OK):
            return Path(folder) / "vegeta"
    raise VegetaMissing(INSTALL_HINT)


@dataclass(frozen=True)
class Target:
    """One request of the targets file."""

    method: str
    url: str
    body: bytes
    headers: dict[str, str]

    def line(self) -> bytes:
        return json.dumps({"method": self.method, "url": self.url,
                           "body": base64.b64encode(self.body).decode(),
                           "header": {name: [value] for name, value in self.headers.items()}},
                          separators=(",", ":")).encode() + b"\n"


def write_targets(path: Path, targets: list[Target]) -> None:
    with path.open("wb") as out:
        for target in targets:
            out.write(target.line())


async def attack(vegeta: Path, targets_file: Path, results_file: Path, *, rate: float, requests: int,
                 timeout: float, connections: int) -> None:
    """Send the `requests` targets at `rate` per second (open loop), results to `results_file`,
    over at most `connections` connections (as the Python generator's pool): a request due while
    all are busy waits for one, and that wait is in its latency (vegeta times a request from
    when it was due to go out). Bounded: the attack lasts requests / rate seconds, each request
    at most `timeout`, and the whole at most that plus a margin."""
    # Every target once: read lazily, vegeta stops when the file is done. Read whole, it goes round
    # the targets again while the attack lasts, and with exactly requests / rate s the request due
    # at that instant sometimes went out, the first target a second time (an unkeyed encounter: a
    # 409 duplicate). The duration is only a bound now, well past the last target's due time (a
    # generator running behind, its connections all busy, still sends every target).
    duration = requests / rate + timeout
    command = [str(vegeta), "attack", "-format=json", "-lazy", f"-targets={targets_file}", f"-rate={rate:g}/1s",
               f"-duration={duration:.3f}s", f"-timeout={timeout:g}s", f"-output={results_file}",
               f"-max-connections={connections}", "-max-body=-1", "-redirects=-1", "-http2=false"]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE, env=_generator_environment())
    try:
        async with asyncio.timeout(duration + timeout + 30):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError("vegeta did not finish in time") from None
    if process.returncode != 0:
        raise RuntimeError(f"vegeta attack failed ({process.returncode}): {stderr.decode()[-500:]}")


# Go's collector at its default (GOGC=100) ran often in vegeta's heap of bodies and results: at
# 300 requests/s of FHIR Claims the generator took 15-18 % of a core, 12 % with GOGC=400 (docs/
# benchmarks.md). Every core it takes is one the measured services do not get, so it collects
# less often; the heap stays bounded by the run (GOMEMLIMIT makes it collect before 1 GiB). Set
# either in the environment to override.
GENERATOR_GO_SETTINGS = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}


def _generator_environment() -> dict[str, str]:
    return {**GENERATOR_GO_SETTINGS, **os.environ}


async def read_attack(vegeta: Path, results_file: Path) -> tuple[list[Exchange], Window, dict]:
    """The attack's results: (exchanges, window, vegeta's own JSON report)."""
    exchanges = await _read_results(vegeta, results_file)
    report = json.loads(await _run(vegeta, "report", "-type=json", str(results_file)))
    if not exchanges:
        raise RuntimeError("vegeta recorded no results")
    start = min(e.due for e in exchanges)
    end = max(e.finished for e in exchanges)
    return exchanges, Window(start, end, max(e.started for e in exchanges)), report


async def _run(vegeta: Path, *args: str) -> bytes:
    process = await asyncio.create_subprocess_exec(str(vegeta), *args, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(300):
        out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"vegeta {args[0]} failed: {err.decode()[-500:]}")
    return out


# The result vegeta records for a hit due after the last target (lazy targets): no request was
# made. vegeta's own report counts them; the exchanges leave them out.
NO_TARGETS_LEFT = "no targets to attack"


async def _read_results(vegeta: Path, results_file: Path) -> list[Exchange]:
    """Every result as an Exchange; times are wall-clock seconds (vegeta's send timestamps plus
    latencies), which is what the end-to-end measurement compares with the database's clock."""
    encoded = await _run(vegeta, "encode", "--to", "json", str(results_file))
    exchanges = []
    for index, line in enumerate(encoded.splitlines()):
        if line.strip() and (result := json.loads(line)).get("error") != NO_TARGETS_LEFT:
            exchanges.append(exchange_of(index, result))
    exchanges.sort(key=lambda e: e.due)
    return exchanges


def exchange_of(index: int, result: dict) -> Exchange:
    """One line of `vegeta encode --to json` (timestamp RFC 3339, latency in ns, code 0 when no
    answer, body base64) as an Exchange. vegeta measures latency from the request's actual send,
    which in an open loop with unbounded workers is its due time."""
    sent = datetime.fromisoformat(result["timestamp"]).timestamp()
    finished = sent + result["latency"] / 1e9
    status = result.get("code") or None
    error = result.get("error") or None
    body = base64.b64decode(result["body"]) if result.get("body") else b""
    if status is None and error is None:
        error = "no response"
    if status is not None and error and status >= 400:
        error = None  # vegeta names every non-2xx an error ("422 Unprocessable Entity"): the status says it
    if error:  # one kind per failure, not per connection: "read tcp 127.0.0.1:53379->127.0.0.1:28101: ..."
        error = _ADDRESS.sub("ADDRESS", error)
    return Exchange(index, sent, sent, finished, finished, status, error, body)
