"""A change and its audit entry commit together, or neither does: the remittance service's API
(role api, so no chainer rewrites the entries meanwhile) in this process, on a scratch database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
import pytest
import sqlalchemy as sa

from openrcm_remittance.main import DEFINITION
from openrcm_shared.db import create_engine
from openrcm_shared.http import idempotency
from openrcm_shared.security.context import Principal
from openrcm_shared.security.scopes import ALL_SCOPES
from openrcm_shared.security.tokens import AuthSettings
from openrcm_shared.service import create_service_app
from openrcm_shared.settings import ServiceSettings
from tests.support import eventually

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def database_url(infra):
    return infra.scratch_database(f"openrcm_audit_tx_{uuid.uuid4().hex[:8]}", migrations_of="remittance")


@pytest.fixture
async def remittance(database_url):
    """httpx client on the remittance API running in this process, each request in its own task."""
    app = create_service_app(DEFINITION, ServiceSettings(service_name="remittance", database_url=database_url,
                                                         role="api"),
                             AuthSettings(issuer="https://issuer.test", jwks_url="https://issuer.test/jwks"))

    class AnyToken:  # the authorization itself is tested elsewhere: here, every token is the poster's
        async def verify(self, token: str) -> Principal:
            return Principal("poster", "poster-client", frozenset(ALL_SCOPES), ("practice-tx",))

    app.state.authorizer.verifier = AnyToken()

    async def serve(scope, receive, send):
        await asyncio.create_task(app(scope, receive, send))

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=serve, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://remittance",
                                     headers={"Authorization": "Bearer any"}) as client:
            yield client


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def entries(db, resource_type: str) -> list:
    async with db.connect() as conn:
        return (await conn.execute(sa.text(
            "SELECT id, action, resource_id, outcome, xmin::text AS xmin FROM audit_log "
            "WHERE resource_type = :type ORDER BY id"), {"type": resource_type})).all()


def a_deposit() -> dict:
    return {"trace_number": f"EFT{uuid.uuid4().hex[:10].upper()}", "amount": "412.50",
            "deposit_date": date.today().isoformat()}


async def test_a_deposit_and_its_entry_are_written_by_one_transaction(remittance, db):
    body = a_deposit()
    created = await remittance.post("/v1/deposits", json=body)
    assert created.status_code == 201, created.text
    async with db.connect() as conn:
        deposit_xmin = (await conn.execute(sa.text("SELECT xmin::text FROM deposits WHERE id = :id"),
                                           {"id": created.json()["id"]})).scalar()
    [entry] = [e for e in await entries(db, "deposit") if e.resource_id == created.json()["id"]]
    assert (entry.action, entry.outcome, entry.xmin) == ("create", "ok", deposit_xmin)

    again = await remittance.post("/v1/deposits", json=body)  # the same EFT: refused, recorded as refused
    assert again.status_code == 409

    async def refusal_recorded():
        assert [(e.resource_id, e.outcome) for e in await entries(db, "deposit")][-1] == (None, "409")
        return True
    await eventually(refusal_recorded, timeout=5)


async def test_a_fee_schedule_and_its_entry_are_written_by_one_transaction(remittance, db):
    payer = f"P{uuid.uuid4().hex[:6].upper()}"
    replaced = await remittance.put(f"/v1/fee-schedules/{payer}", headers={"Content-Type": "text/csv"},
                                    content="procedure_code,modifier,allowed_amount,effective_from,effective_to\n"
                                            "99213,,90.00,2026-01-01,\n")
    assert replaced.status_code == 200, replaced.text
    async with db.connect() as conn:
        version_xmin = (await conn.execute(sa.text(
            "SELECT xmin::text FROM fee_schedule_versions WHERE payer_id = :payer"), {"payer": payer})).scalar()
    [entry] = [e for e in await entries(db, "fee_schedule") if e.resource_id == payer]
    assert (entry.action, entry.outcome, entry.xmin) == ("replace", "ok", version_xmin)


async def test_when_the_transaction_fails_after_the_entry_neither_the_change_nor_its_entry_stays(
        remittance, db, monkeypatch):
    written = idempotency.record_change

    async def then_fail(conn, **kwargs):
        await written(conn, **kwargs)
        raise ConnectionResetError("the database went away before the commit")

    monkeypatch.setattr(idempotency, "record_change", then_fail)
    recorded_before = [e.id for e in await entries(db, "deposit")]
    body = a_deposit()
    failed = await remittance.post("/v1/deposits", json=body)
    assert failed.status_code == 503  # the database error's answer
    async with db.connect() as conn:
        stored = (await conn.execute(sa.text("SELECT count(*) FROM deposits WHERE trace_number = :trace"),
                                     {"trace": body["trace_number"]})).scalar()
    assert stored == 0
    # The entry written in the transaction went with the deposit; the failure is recorded after it.
    async def only_the_failure_recorded():
        assert [e.outcome for e in await entries(db, "deposit") if e.id not in recorded_before] == ["503"]
        return True
    await eventually(only_the_failure_recorded, timeout=5)
