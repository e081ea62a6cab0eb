"""Fixtures for every test tier.

Unit tests need nothing. Tests marked `stack` get the real infrastructure: an embedded
PostgreSQL and an Apache Kafka broker started once per session on test ports (so a running
`./openrcm run` is not disturbed), and, for end-to-end tests, the five services as processes.
Everything is stopped at the end of the session.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from openrcm_devstack.paths import local_dir
from openrcm_devstack.stack import TEST_PORTS, Stack


@pytest.fixture(scope="session")
def infra():
    """PostgreSQL + Kafka + topics + migrated service databases (no services)."""
    stack = Stack(local_dir() / "test", TEST_PORTS, fresh=True)
    try:
        stack.start_infrastructure()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(infra):
    """The whole system: infrastructure plus the five services."""
    infra.start_services()
    yield infra
    infra.stop_services()


def service_url(stack: Stack, name: str) -> str:
    return stack.services[name].url


@pytest.fixture
def tenant() -> str:
    """A fresh practice per test, so tests never see each other's rows."""
    return f"practice-{uuid.uuid4().hex[:12]}"


TEST_PAYER = {"name": "Synthetic Health Plan", "claim_types": ["professional", "institutional"],
              "timely_filing_days": 365}


def auth_headers(stack: Stack, tenant: str, **token_options) -> dict[str, str]:
    """Headers of a request authorized for `tenant` (every scope unless `scopes=` says otherwise),
    with a token signed by the stack's issuer."""
    return {"Authorization": f"Bearer {stack.issuer.mint(tenant, **token_options)}", "X-Tenant-Id": tenant}


@pytest.fixture
async def api(stack, tenant):
    """httpx clients for each service, authorized for the test's practice (a token with every
    scope); the practice has one payer registered (60054), as every practice must before it sends claims."""
    headers = auth_headers(stack, tenant)
    clients = {name: httpx.AsyncClient(base_url=svc.url, headers=headers, timeout=30)
               for name, svc in stack.services.items()}
    registered = await clients["claims"].put("/v1/payers/60054", json=TEST_PAYER)
    assert registered.status_code == 200, registered.text
    yield clients
    for client in clients.values():
        await client.aclose()


def pytest_collection_modifyitems(config, items):
    # Tests that start the real stack are slower; run unit tests first so failures show early.
    # Disruptive tests (broker or database restarts) go last, so a slow recovery cannot
    # leak into other tests.
    def tier(item) -> int:
        if item.get_closest_marker("disruptive"):
            return 2
        return 1 if item.get_closest_marker("stack") else 0

    items.sort(key=tier)
