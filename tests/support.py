"""Synthetic test data (no real patients): encounters and payment decisions."""

from __future__ import annotations

import socket
import uuid
from datetime import date, timedelta

# NPIs with valid check digits (the CMS example 1234567893 and synthetic ones).
BILLING_NPI = "1234567893"
RENDERING_NPI = "1245319599"


def encounter(*, patient_id: str | None = None, payer_id: str = "60054", lines: list[dict] | None = None,
              encounter_id: str | None = None) -> dict:
    service_date = (date.today() - timedelta(days=5)).isoformat()
    return {
        "encounter_id": encounter_id or f"ENC-{uuid.uuid4().hex[:10]}",
        "patient": {"id": patient_id or f"PAT-{uuid.uuid4().hex[:8]}", "first_name": "Testy",
                    "last_name": "Synthetic", "birth_date": "1979-04-12", "gender": "F",
                    "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL",
                                "postal_code": "62701"}},
        "coverage": {"payer_id": payer_id, "member_id": "XJ" + uuid.uuid4().hex[:8].upper()},
        "billing_provider": {"npi": BILLING_NPI, "tax_id": "123456789", "name": "Synthetic Family Clinic",
                             "address": {"line1": "100 Main Street", "city": "Springfield", "state": "IL",
                                         "postal_code": "627011234"}},
        "rendering_provider": {"npi": RENDERING_NPI, "first_name": "Rene", "last_name": "Renderer"},
        "place_of_service": "11",
        "diagnosis_codes": ["E11.9", "I10"],
        "lines": lines or [
            {"procedure_code": "99213", "modifiers": ["25"], "units": 1, "charge_amount": "125.00",
             "service_date": service_date, "diagnosis_pointers": [1, 2]},
            {"procedure_code": "36415", "units": 1, "charge_amount": "15.50", "service_date": service_date,
             "diagnosis_pointers": [1]},
        ],
    }


async def eventually(probe, *, timeout: float = 30.0, interval: float = 0.2):
    """Poll `probe` until it returns a truthy value (returned) without raising AssertionError.

    Bounded by `timeout`; the last AssertionError is re-raised so the failure says what was wrong.
    """
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            result = await probe()
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        await asyncio.sleep(interval)
    if last_error:
        raise last_error
    raise AssertionError(f"condition not met within {timeout}s")


def remittance_for(claim: dict, *, trace_number: str | None = None, payer_id: str = "60054") -> dict:
    """The payer's decision used across tests, checked by hand:

    line 1  99213  charge 125.00  allowed 100.00  paid 80.00  CO-45 25.00 (contractual)  PR-2 20.00 (coinsurance)
            125.00 - 25.00 - 20.00 = 80.00
    line 2  36415  charge  15.50  paid 0.00  CO-97 15.50 (bundled: denied), RARC M15
            15.50 - 15.50 = 0.00
    claim paid 80.00, allowed 100.00 (a denied line allows nothing), patient responsibility 20.00,
    denied 15.50 -> partially paid; payment 80.00
    """
    return {
        "payer_id": payer_id,
        "trace_number": trace_number or f"EFT{uuid.uuid4().hex[:12].upper()}",
        "payment_amount": "80.00",
        "payment_date": date.today().isoformat(),
        "claims": [{
            "patient_control_number": claim["patient_control_number"],
            "payer_claim_control_number": "PCCN" + uuid.uuid4().hex[:10].upper(),
            "lines": [
                {"line_number": 1, "charge_amount": "125.00", "allowed_amount": "100.00", "paid_amount": "80.00",
                 "adjustments": [{"group_code": "CO", "carc": "45", "amount": "25.00"},
                                 {"group_code": "PR", "carc": "2", "amount": "20.00"}]},
                {"line_number": 2, "charge_amount": "15.50", "paid_amount": "0.00",
                 "adjustments": [{"group_code": "CO", "carc": "97", "amount": "15.50"}], "rarcs": ["M15"]},
            ],
        }],
    }


async def post_when_known(client, path: str, body: dict, *, timeout: float = 30.0):
    """POST a remittance once the remittance service has seen the claims it names (ClaimSubmitted
    is consumed asynchronously); any answer other than 'unknown claim' is returned."""
    async def attempt():
        response = await client.post(path, json=body)
        if response.status_code == 422 and response.json().get("type", "").endswith("/unknown-claim"):
            return None
        return response

    return await eventually(attempt, timeout=timeout)


async def claim_in(api, claim_id: str, status: str, timeout: float = 45):
    """Wait (bounded) until the claim reaches `status`; returns it."""
    async def reached():
        body = (await api["claims"].get(f"/v1/claims/{claim_id}")).json()
        assert body["status"] == status, (body["status"], [h["kind"] for h in body["history"]])
        return body
    return await eventually(reached, timeout=timeout)


def scratch_database_fixtures(name: str, *, migrations_of: str, pool_size: int = 3):
    """Fixtures `database_url` (module-scoped: a database of its own, migrated with one service's
    scripts, beside the services' ones) and `engine` (a pool on it, per test) for tests that call
    service code directly against PostgreSQL. In the test module: `database_url, engine = ...`."""
    import pytest

    from openrcm_shared.db import create_engine

    @pytest.fixture(scope="module")
    def database_url(infra):
        return infra.scratch_database(f"{name}_{uuid.uuid4().hex[:8]}", migrations_of=migrations_of)

    @pytest.fixture
    async def engine(database_url):
        engine = create_engine(database_url, pool_size=pool_size)
        yield engine
        await engine.dispose()

    return database_url, engine


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts beside the test stack."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def role_engine_fixtures(service: str, *, pool_size: int = 3):
    """Fixtures `app_engine` and `system_engine`: the module's scratch database (`database_url`,
    see scratch_database_fixtures) as `service`'s app role (held to the practice policies; bind a
    practice with security.context.acting_for) and its system role (openrcm_shared.row_security).
    In the test module: `app_engine, system_engine = ...`."""
    import pytest

    from openrcm_devstack.postgres import role_password
    from openrcm_shared.db import create_engine, role_url
    from openrcm_shared.row_security import app_role, system_role

    def fixture(role_of):
        @pytest.fixture
        async def role_engine(database_url):
            engine = create_engine(role_url(database_url, role_of(service), role_password()), pool_size=pool_size)
            yield engine
            await engine.dispose()
        return role_engine

    return fixture(app_role), fixture(system_role)
