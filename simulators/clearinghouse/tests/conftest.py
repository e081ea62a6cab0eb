"""In-process clearinghouse (httpx.ASGITransport, lifespan started by hand) and tiny webhook
receivers (acknowledgements; remittances) served by uvicorn on free 127.0.0.1 ports. Every wait is
bounded."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from openrcm_clearinghouse_sim.main import create_app
from openrcm_clearinghouse_sim.settings import Settings

WAIT_SECONDS = 30


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status the receiver gave
    received_at: float = field(default_factory=time.monotonic)

    @property
    def transaction_set_id(self) -> str:
        """ST01: 999 or 277, how a receiver tells the two documents apart."""
        text = self.body.decode("ascii")
        element, terminator = text[3], text[105]
        return next(s for s in text.split(terminator) if s.strip().startswith("ST" + element)).strip().split(element)[1]


@dataclass
class WebhookReceiver:
    """Records every POST; answers `fail_with` to the next `failures_left` requests, then 200."""

    url: str = ""
    requests: list[Delivery] = field(default_factory=list)
    failures_left: int = 0
    fail_with: int = 503

    @property
    def accepted(self) -> list[Delivery]:
        return [d for d in self.requests if d.answered == 200]

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - a bare ASGI app
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        if self.failures_left > 0:
            self.failures_left -= 1
            status = self.fail_with
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Delivery(headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


@contextlib.asynccontextmanager
async def served(receiver: WebhookReceiver) -> AsyncIterator[WebhookReceiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/v1/webhooks/clearinghouse"
    server = uvicorn.Server(uvicorn.Config(receiver, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started, "webhook receiver did not start")
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """Stands for the claims service: receives the 999s and 277CAs."""
    async with served(WebhookReceiver()) as receiver:
        yield receiver


@pytest.fixture
async def remittance_receiver() -> AsyncIterator[WebhookReceiver]:
    """Stands for the remittance service: receives the 835s."""
    async with served(WebhookReceiver()) as receiver:
        yield receiver


@pytest.fixture
async def clearinghouse(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator app with its lifespan (workers) running; `settings` come from the test module."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://clearinghouse.test",
                                     timeout=10) as client:
            yield client


async def wait_until(condition: Callable[[], bool], message: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} within {timeout}s")
        await asyncio.sleep(0.02)
