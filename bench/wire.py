"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation.

Why not httpx: the load generator shares two cores with the whole stack it measures, so every
microsecond of client CPU is taken from the services. This client does only what the benchmark
needs (POST a pre-encoded request, read status and body) at a fraction of httpx's cost per
request. Loopback only.

One connection carries one request at a time (no pipelining). The pool opens connections on
demand up to `max_connections`; beyond that, callers wait for a free one, and that wait is
part of the latency they measure (as it would be for a real client).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# uvicorn closes idle keep-alive connections after 5 s; never reuse one idle for longer than this.
KEEPALIVE_EXPIRY_SECONDS = 4.0


class HttpError(Exception):
    """The exchange failed below HTTP (connection refused or reset, malformed response)."""


@dataclass
class Response:
    status: int
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    def __init__(self, host: str, port: int, *, max_connections: int) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"benchmarks only talk to loopback addresses, not {host!r}")
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._freed = asyncio.Condition()
        self.opened_total = 0

    def request_bytes(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        """The whole request, encoded once up front so the timed path only writes bytes."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def _acquire(self) -> _Connection:
        async with self._freed:
            while True:
                now = time.monotonic()
                while self._idle:
                    conn = self._idle.pop()  # most recently used first: keeps few connections hot
                    if now - conn.idle_since < KEEPALIVE_EXPIRY_SECONDS:
                        return conn
                    self._discard(conn)
                if self._open < self.max_connections:
                    self._open += 1
                    break
                await self._freed.wait()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except BaseException:
            await self._release(None)
            raise
        self.opened_total += 1
        return _Connection(reader, writer)

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open -= 1

    async def _release(self, conn: _Connection | None, *, reusable: bool = False) -> None:
        async with self._freed:
            if conn is not None and reusable:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            elif conn is not None:
                self._discard(conn)
            else:
                self._open -= 1
            self._freed.notify()

    async def send(self, request: bytes) -> Response:
        """Send one pre-encoded request and read the whole response.

        Raises HttpError on connection failures; cancellation (time-outs) closes the connection.
        """
        conn = await self._acquire()
        reusable = False
        try:
            conn.writer.write(request)
            response, reusable = await _read_response(conn.reader)
            return response
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from None
        finally:
            # Shielded so a cancelled request still returns its slot to the pool.
            await asyncio.shield(self._release(conn, reusable=reusable))

    async def close(self) -> None:
        async with self._freed:
            while self._idle:
                self._discard(self._idle.pop())


async def _read_response(reader: asyncio.StreamReader) -> tuple[Response, bool]:
    """Status line, headers and a Content-Length or chunked body; returns (response, keep-alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        raise ValueError("response without Content-Length or chunked encoding")
    keep_alive = headers.get("connection", "").lower() != "close"
    return Response(status, body), keep_alive
