"""The collections scheduler's work per practice on a real PostgreSQL, as its roles do it: the
statement cycle runs without a POST for every registered practice, once per day however many
processes try, and claims past their payer's follow-up age are asked about (ClaimFollowUpRequested)
once a week at most. Accounts and claims come from events applied as the consumer applies them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from openrcm_collections.adapters.payment_processor import SimulatedProcessor
from openrcm_collections.adapters.tables import collections_practices, statement_runs, statements
from openrcm_collections.receivables.follow_up import set_follow_up_age
from openrcm_collections.service_layer.practice_cycle import request_status_inquiries, run_practice_statements
from openrcm_collections.service_layer.scheduler import run_scheduler
from openrcm_collections.settings import CollectionsSettings
from openrcm_shared.db import create_engine, role_url
from openrcm_shared.messaging.tables import outbox
from openrcm_shared.row_security import app_role, system_role
from openrcm_shared.security.context import acting_for
from services.collections.tests.integration.receivable_events import apply, posted, submitted
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_collections_cycle", migrations_of="collections")
app_engine, system_engine = role_engine_fixtures("collections")
TODAY = datetime.now(timezone.utc).date()


async def practice_owing(app_engine, *shares: str) -> tuple[str, list[str]]:
    """A practice whose patients each owe one share (a paid claim, PR-2 coinsurance, insurance resolved)."""
    tenant, patients = f"cycle-{uuid.uuid4().hex[:8]}", []
    for share in shares:
        claim, patient = uuid.uuid4(), f"pat-{uuid.uuid4().hex[:6]}"
        charge = f"{100 + float(share):.2f}"
        await apply(app_engine, submitted(tenant, claim, payer="P1", patient=patient, charge=charge,
                                          service=TODAY - timedelta(days=20), billed=TODAY - timedelta(days=19)),
                    TODAY - timedelta(days=19))
        await apply(app_engine, posted(tenant, claim, payer="P1", patient=patient, charge=charge, paid="100.00",
                                       adjustments=[("PR", "2", share)]), TODAY - timedelta(days=5))
        patients.append(patient)
    return tenant, patients


async def statements_of(engine, tenant: str) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(statements.c.patient_id, statements.c.amount_due, statements.c.statement_on)
                                   .where(statements.c.tenant_id == tenant))).all()


async def test_two_scheduler_processes_issue_each_practices_statements_once_without_a_post(
        database_url, engine, app_engine, system_engine):
    first, first_patients = await practice_owing(app_engine, "20.00", "35.50")
    second, second_patients = await practice_owing(app_engine, "12.25")
    settings = CollectionsSettings(statement_run_time=time(0, 0), scheduler_interval_seconds=0.05)
    # A second process of the service: its own pools, the same database.
    other_app = create_engine(role_url(database_url, app_role("collections"), _password()), pool_size=2)
    other_system = create_engine(role_url(database_url, system_role("collections"), _password()), pool_size=2)
    processes = [asyncio.create_task(run_scheduler(SimpleNamespace(engine=a, system_engine=s, events_staged=lambda: None),
                                                   SimulatedProcessor(), settings))
                 for a, s in ((app_engine, system_engine), (other_app, other_system))]
    try:
        async def both_issued() -> bool:
            return len(await statements_of(engine, first)) == 2 and len(await statements_of(engine, second)) == 1
        deadline = asyncio.get_running_loop().time() + 30
        while not await both_issued():
            assert asyncio.get_running_loop().time() < deadline, "the scheduler issued no statements in 30 s"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # many more rounds of both processes
    finally:
        for process in processes:
            process.cancel()
        await asyncio.gather(*processes, return_exceptions=True)
        await other_app.dispose()
        await other_system.dispose()
    assert sorted((s.patient_id, str(s.amount_due), s.statement_on) for s in await statements_of(engine, first)) == \
        sorted([(first_patients[0], "20.00", TODAY), (first_patients[1], "35.50", TODAY)])
    assert [(s.patient_id, str(s.amount_due)) for s in await statements_of(engine, second)] == \
        [(second_patients[0], "12.25")]
    async with engine.connect() as conn:
        runs = (await conn.execute(sa.select(statement_runs.c.tenant_id, sa.func.count()).where(
            statement_runs.c.tenant_id.in_((first, second))).group_by(statement_runs.c.tenant_id))).all()
        issued_events = (await conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
            outbox.c.tenant_id.in_((first, second)), outbox.c.event_type.like("%statement_issued%")))).scalar_one()
    assert dict(runs) == {first: 1, second: 1}
    assert issued_events == 3


async def test_a_practices_statement_day_is_claimed_once_when_two_runs_race(engine, app_engine):
    tenant, patients = await practice_owing(app_engine, "40.00")
    settings = CollectionsSettings()
    results = await asyncio.gather(*(run_practice_statements(app_engine, tenant, TODAY, settings) for _ in range(2)))
    assert sorted(result is None for result in results) == [False, True]
    assert [s.patient_id for s in await statements_of(engine, tenant)] == patients
    assert await run_practice_statements(app_engine, tenant, TODAY, settings) is None
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(collections_practices.c.statements_run_on).where(
            collections_practices.c.tenant_id == tenant))).scalar_one() == TODAY


async def test_the_scheduler_runs_no_statements_before_the_run_time(engine, app_engine, system_engine):
    from openrcm_collections.service_layer.scheduler import run_practices

    tenant, _ = await practice_owing(app_engine, "10.00")
    runtime = SimpleNamespace(engine=app_engine, system_engine=system_engine, events_staged=lambda: None)
    early = datetime.combine(TODAY, time(5, 59), tzinfo=timezone.utc)
    await run_practices(runtime, SimulatedProcessor(), CollectionsSettings(statement_run_time=time(6, 0)), early)
    await run_practices(runtime, SimulatedProcessor(), CollectionsSettings(statement_run_time=None), early)
    assert await statements_of(engine, tenant) == []


async def test_claims_past_their_payers_follow_up_age_are_asked_about_once_a_week(engine, app_engine):
    tenant = f"fu-{uuid.uuid4().hex[:8]}"
    old_default, old_slow_payer, recent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for claim, payer, billed_days_ago in ((old_default, "P1", 50), (old_slow_payer, "P2", 50), (recent, "P1", 10)):
        billed = TODAY - timedelta(days=billed_days_ago)
        await apply(app_engine, submitted(tenant, claim, payer=payer, patient="pat-1", charge="300.00",
                                          service=billed - timedelta(days=1), billed=billed), billed)
    with acting_for(tenant):
        async with app_engine.begin() as conn:
            await set_follow_up_age(conn, tenant, "P2", 60)  # P2 is chased after 60 days; P1 after the default 45

    assert await request_status_inquiries(app_engine, tenant, TODAY) == 1
    assert await request_status_inquiries(app_engine, tenant, TODAY) is None  # the day's pass ran
    assert await request_status_inquiries(app_engine, tenant, TODAY + timedelta(days=3)) == 0  # asked this week
    assert await request_status_inquiries(app_engine, tenant, TODAY + timedelta(days=8)) == 1  # a week on: again
    async with engine.connect() as conn:
        requested = (await conn.execute(sa.select(outbox.c.aggregate_id, outbox.c.payload).where(
            outbox.c.tenant_id == tenant, outbox.c.event_type.like("%claim_follow_up_requested%")))).all()
    assert [row.aggregate_id for row in requested] == [str(old_default)] * 2
    assert all(b'"ask_payer"' in bytes(row.payload) for row in requested)


def _password():
    from openrcm_devstack.postgres import role_password
    return role_password()
