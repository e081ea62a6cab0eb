"""Card payments in two steps on a real PostgreSQL (service_layer.payment_intents): no account row
is locked while the processor thinks, and the crash window between the processor's answer and the
payment's record is recovered — a capture is recorded once, an authorization never captured is
voided, a call the processor never took is abandoned. The processor is the local simulator.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from openrcm_collections.adapters.payment_processor import ProcessorUnavailable, SimulatedProcessor
from openrcm_collections.adapters.tables import patient_accounts, patient_payments, payment_intents
from openrcm_collections.service_layer.payment_intents import authorize_payment, reconcile_intents, record_intent
from openrcm_collections.service_layer.payments import PaymentRequest, record_payment
from openrcm_shared.db import bind_practice
from openrcm_shared.http.problems import Problem
from openrcm_shared.security.context import acting_for
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_collections_intents", migrations_of="collections")
app_engine, system_engine = role_engine_fixtures("collections")
CARD = PaymentRequest(Decimal("25.00"), "card", None, "tok_visa_test", None)


class CountingProcessor(SimulatedProcessor):
    """The simulator, counting the calls that reach it; `capture_fails` makes capture a network error."""

    def __init__(self, *, capture_fails: bool = False, hold_authorize: asyncio.Event | None = None) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.capture_fails = capture_fails
        self.hold_authorize = hold_authorize
        self.in_authorize = asyncio.Event()

    async def authorize(self, token, amount, idempotency_key, metadata):
        self.calls.append("authorize")
        self.in_authorize.set()
        if self.hold_authorize is not None:
            await self.hold_authorize.wait()
        return await super().authorize(token, amount, idempotency_key, metadata)

    async def capture(self, authorization_id, amount, idempotency_key):
        self.calls.append("capture")
        if self.capture_fails:
            raise ProcessorUnavailable("connection reset after the authorization")
        return await super().capture(authorization_id, amount, idempotency_key)


def practice() -> tuple[str, str]:
    return f"pi-{uuid.uuid4().hex[:8]}", f"pat-{uuid.uuid4().hex[:6]}"


async def balance(engine, tenant: str, patient: str) -> Decimal | None:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(patient_accounts.c.balance).where(
            patient_accounts.c.tenant_id == tenant, patient_accounts.c.patient_id == patient))).scalar()


async def intent_of(engine, tenant: str):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(payment_intents).where(payment_intents.c.tenant_id == tenant))).one()


async def reconcile(app_engine, tenant: str, processor) -> dict:
    async with app_engine.begin() as conn:
        await bind_practice(conn, tenant)
        return await reconcile_intents(conn, tenant, processor,
                                       older_than=datetime.now(timezone.utc) + timedelta(seconds=1))


async def open_account(app_engine, tenant: str, patient: str) -> None:
    with acting_for(tenant):
        async with app_engine.begin() as conn:
            await record_payment(conn, tenant, patient, PaymentRequest(Decimal("1.00"), "cash", None, None, None),
                                 actor="test")


async def test_the_account_is_not_locked_while_the_processor_authorizes(engine, app_engine):
    tenant, patient = practice()
    await open_account(app_engine, tenant, patient)
    release = asyncio.Event()
    processor = CountingProcessor(hold_authorize=release)
    with acting_for(tenant):
        paying = asyncio.create_task(authorize_payment(app_engine, tenant, patient, CARD, actor="test",
                                                       processor=processor, processor_key=f"{tenant}:k1"))
        await asyncio.wait_for(processor.in_authorize.wait(), 10)
        async with app_engine.begin() as conn:  # another posting on the account gets its lock at once
            await bind_practice(conn, tenant)
            await conn.execute(sa.text("SET LOCAL lock_timeout = '1s'"))
            await conn.execute(sa.select(patient_accounts.c.balance).where(
                patient_accounts.c.tenant_id == tenant, patient_accounts.c.patient_id == patient).with_for_update())
        release.set()
        intent_id = await paying
        async with app_engine.begin() as conn:
            payment = await record_intent(conn, tenant, intent_id)
    assert payment["processor_capture_id"].startswith("cap_")
    assert await balance(engine, tenant, patient) == Decimal("-26.00")


async def test_a_crash_after_the_capture_is_recorded_once_by_reconciliation_and_by_a_retry(engine, app_engine):
    tenant, patient = practice()
    processor = CountingProcessor()
    with acting_for(tenant):
        intent_id = await authorize_payment(app_engine, tenant, patient, CARD, actor="test", processor=processor,
                                            processor_key=f"{tenant}:k2")
    # The process dies here: the processor captured 25.00, the account knows nothing of it.
    assert (await intent_of(engine, tenant)).status == "captured"
    assert await balance(engine, tenant, patient) is None

    assert await reconcile(app_engine, tenant, processor) == {"recorded": 1, "voided": 0, "abandoned": 0}
    intent = await intent_of(engine, tenant)
    assert intent.status == "recorded"
    assert await balance(engine, tenant, patient) == Decimal("-25.00")

    # The client retries with the same Idempotency-Key: no second charge, the same payment.
    with acting_for(tenant):
        again = await authorize_payment(app_engine, tenant, patient, CARD, actor="test", processor=processor,
                                        processor_key=f"{tenant}:k2")
        async with app_engine.begin() as conn:
            payment = await record_intent(conn, tenant, again)
    assert again == intent_id and payment["id"] == intent.payment_id
    assert processor.calls == ["authorize", "capture"]
    assert await balance(engine, tenant, patient) == Decimal("-25.00")
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(patient_payments).where(
            patient_payments.c.tenant_id == tenant))).scalar_one() == 1
    assert await reconcile(app_engine, tenant, processor) == {"recorded": 0, "voided": 0, "abandoned": 0}


async def test_an_authorization_never_captured_is_voided_and_nothing_is_recorded(engine, app_engine):
    tenant, patient = practice()
    processor = CountingProcessor(capture_fails=True)
    with acting_for(tenant), pytest.raises(Problem) as unavailable:
        await authorize_payment(app_engine, tenant, patient, CARD, actor="test", processor=processor,
                                processor_key=f"{tenant}:k3")
    assert unavailable.value.status == 503
    assert (await intent_of(engine, tenant)).status == "pending"

    assert await reconcile(app_engine, tenant, processor) == {"recorded": 0, "voided": 1, "abandoned": 0}
    intent = await intent_of(engine, tenant)
    assert intent.status == "voided" and intent.processor_authorization_id in processor.voided
    assert await balance(engine, tenant, patient) is None
    with acting_for(tenant), pytest.raises(Problem) as closed:  # the same key again: told to start afresh
        await authorize_payment(app_engine, tenant, patient, CARD, actor="test", processor=processor,
                                processor_key=f"{tenant}:k3")
    assert closed.value.status == 409


async def test_a_call_the_processor_never_took_is_abandoned(engine, app_engine):
    tenant, patient = practice()
    processor = CountingProcessor()
    unreachable = PaymentRequest(Decimal("25.00"), "card", None, "tok_network_error_1", None)
    with acting_for(tenant), pytest.raises(Problem):
        await authorize_payment(app_engine, tenant, patient, unreachable, actor="test", processor=processor,
                                processor_key=f"{tenant}:k4")
    assert await reconcile(app_engine, tenant, processor) == {"recorded": 0, "voided": 0, "abandoned": 1}
    assert (await intent_of(engine, tenant)).status == "abandoned"
    assert await balance(engine, tenant, patient) is None


async def test_the_same_key_with_another_amount_is_refused_before_the_processor_is_called(app_engine):
    tenant, patient = practice()
    processor = CountingProcessor()
    with acting_for(tenant):
        await authorize_payment(app_engine, tenant, patient, CARD, actor="test", processor=processor,
                                processor_key=f"{tenant}:k5")
        with pytest.raises(Problem) as reused:
            await authorize_payment(app_engine, tenant, patient,
                                    PaymentRequest(Decimal("99.00"), "card", None, "tok_visa_test", None),
                                    actor="test", processor=processor, processor_key=f"{tenant}:k5")
    assert reused.value.status == 422 and processor.calls == ["authorize", "capture"]
