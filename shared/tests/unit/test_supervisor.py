"""A service's background tasks that end are restarted with backoff; one that cannot be restarted
makes /livez fail (so the orchestrator restarts the process). Through a real service app (role
api: no broker; the database is never reached by these tasks)."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from openrcm_shared.security.tokens import AuthSettings
from openrcm_shared.service import ServiceDefinition, create_service_app
from openrcm_shared.settings import ServiceSettings


def service_app(work: dict, **restarts):
    definition = ServiceDefinition(name="supervised", title="supervised", description="a test service",
                                   aggregate_type="test", routers=[], every_process=work)
    settings = ServiceSettings(service_name="supervised", role="api",
                               database_url="postgresql://nobody@127.0.0.1:9/nothing",
                               **{"task_restart_first_backoff_seconds": 0.01, "task_restart_max_backoff_seconds": 0.05,
                                  "task_max_restarts": 3, "task_restart_window_seconds": 60.0, **restarts})
    return create_service_app(definition, settings, AuthSettings(issuer="https://issuer.invalid",
                                                                 jwks_url="https://issuer.invalid/jwks"))


@contextlib.asynccontextmanager
async def running(app):
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client


async def until(probe, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while not await probe():
            await asyncio.sleep(0.01)


async def task_check(client, name: str) -> str:
    return (await client.get("/readyz")).json()["checks"][f"task:{name}"]


async def test_a_task_that_dies_is_restarted_and_the_process_stays_live():
    starts = []

    async def flaky(runtime):
        starts.append(runtime.definition.name)
        if len(starts) < 3:
            raise ConnectionError("the broker went away")
        await asyncio.Event().wait()

    async def returns(runtime):  # meant to run until stopped: ending at all is an end
        starts.append("returned")

    app = service_app({"flaky": flaky})
    async with running(app) as client:
        async def third_start_running():
            return len(starts) == 3 and await task_check(client, "flaky") == "ok"
        await until(third_start_running)
        assert (await client.get("/livez")).status_code == 200

    returned_app = service_app({"returns": returns}, task_max_restarts=100)
    async with running(returned_app):
        async def returned_and_started_again():
            return starts.count("returned") >= 3
        await until(returned_and_started_again)


async def test_a_task_waiting_to_be_restarted_is_named_by_readyz():
    async def fails_once_then_runs(runtime, attempts=[]):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("the database failed over")
        await asyncio.Event().wait()

    app = service_app({"watch": fails_once_then_runs}, task_restart_first_backoff_seconds=2.0)
    async with running(app) as client:
        async def restarting():
            return await task_check(client, "watch") == "restarting after ConnectionError"
        await until(restarting)
        assert (await client.get("/livez")).status_code == 200  # still live: a restart is coming

        async def restarted():
            return await task_check(client, "watch") == "ok"
        await until(restarted)


async def test_a_task_that_keeps_failing_is_given_up_and_livez_fails():
    async def broken(runtime):
        raise RuntimeError("a setting that cannot work")

    async def healthy(runtime):
        await asyncio.Event().wait()

    app = service_app({"broken": broken, "healthy": healthy})
    async with running(app) as client:
        async def not_live():
            return (await client.get("/livez")).status_code == 503
        await until(not_live)
        live = await client.get("/livez")
        assert live.headers["content-type"] == "application/problem+json"
        assert live.json()["checks"] == {"task:broken": "failed: RuntimeError"}
        assert await task_check(client, "broken") == "failed: RuntimeError"
        assert await task_check(client, "healthy") == "ok"
