"""Admission control: requests beyond the bound get a fast 503 problem+json with Retry-After."""

from __future__ import annotations

import asyncio

import httpx

from openrcm_shared.http.admission import AdmissionMiddleware, AdmissionSettings


def app_holding(release: asyncio.Event, started: list[str]):
    async def app(scope, receive, send):
        started.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


async def until_started(started: list[str], count: int) -> None:
    """Wait until `count` requests have reached the application behind the bound."""
    while len(started) < count:
        await asyncio.sleep(0.01)


async def test_requests_beyond_the_bound_are_shed_and_health_is_never_shed():
    release, started = asyncio.Event(), []
    app = AdmissionMiddleware(app_holding(release, started),
                              AdmissionSettings(max_concurrent_requests=2, retry_after_seconds=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        held = [asyncio.create_task(client.post("/v1/encounters")) for _ in range(2)]
        await until_started(started, 2)
        shed = await client.post("/v1/encounters")
        health = asyncio.create_task(client.get("/readyz"))
        await until_started(started, 3)
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held, health)] == [200, 200, 200]
        after = await client.post("/v1/encounters")

    assert shed.status_code == 503 and shed.headers["retry-after"] == "3"
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.json()["type"].endswith("/overloaded") and shed.json()["instance"] == "/v1/encounters"
    assert started == ["/v1/encounters", "/v1/encounters", "/readyz", "/v1/encounters"]
    assert after.status_code == 200  # the bound counts requests in progress, not requests seen


async def test_a_bound_of_zero_sheds_nothing():
    release, started = asyncio.Event(), []
    release.set()
    app = AdmissionMiddleware(app_holding(release, started), AdmissionSettings(max_concurrent_requests=0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        responses = await asyncio.gather(*(client.post("/v1/encounters") for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5


async def test_webhooks_have_a_bound_of_their_own():
    # An overloaded service still takes the acknowledgements of claims it already accepted.
    release, started = asyncio.Event(), []
    app = AdmissionMiddleware(app_holding(release, started),
                              AdmissionSettings(max_concurrent_requests=1, max_concurrent_webhooks=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        held = asyncio.create_task(client.post("/v1/encounters"))
        await until_started(started, 1)
        new_work = await client.post("/v1/encounters")
        acknowledgement = asyncio.create_task(client.post("/v1/webhooks/clearinghouse"))
        await until_started(started, 2)
        second_acknowledgement = await client.post("/v1/webhooks/clearinghouse")
        release.set()
        assert [r.status_code for r in await asyncio.gather(held, acknowledgement)] == [200, 200]

    assert new_work.status_code == 503
    assert second_acknowledgement.status_code == 503  # the webhooks' own bound holds too
    assert started == ["/v1/encounters", "/v1/webhooks/clearinghouse"]
