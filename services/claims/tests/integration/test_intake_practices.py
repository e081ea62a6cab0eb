"""The claims intake as the app role, under row-level security (openrcm_shared.row_security).

The grouped intake writes (claim_writes.NewClaimsAlone) run outside a transaction block, in one
pipeline that may carry several practices' claims, so no BEGIN binds a practice for them: each
statement binds its claim's practice itself. The other paths begin a transaction, which binds
the practice of the task (the request's).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from openrcm_claims.adapters.claim_writes import new_claims_alone
from openrcm_claims.adapters.tables import claim_history, claim_lines, claims, scrub_results
from openrcm_claims.service_layer.reference_data import KNOWN_PAYERS, find_payer
from openrcm_claims.service_layer.submission import prepare_claim, submit_encounter, take_simple_encounter
from openrcm_shared.security.context import acting_for
from services.claims.tests.integration.practice import an_encounter, register_payer
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_claims_practices", migrations_of="claims", pool_size=2)
app_engine, system_engine = role_engine_fixtures("claims", pool_size=2)


def practice() -> str:
    return f"practice-{uuid.uuid4().hex[:10]}"


async def practices_of_rows(engine, claim_ids: set) -> dict[str, set[str]]:
    """Table -> the practices of the rows these claims have in it (as the owner sees them)."""
    found = {}
    async with engine.connect() as conn:
        for table, key in ((claims, claims.c.id), (claim_lines, claim_lines.c.claim_id),
                           (scrub_results, scrub_results.c.claim_id), (claim_history, claim_history.c.claim_id)):
            found[table.name] = set((await conn.execute(sa.select(table.c.tenant_id).where(
                key.in_(claim_ids)))).scalars())
    return found


async def test_one_group_of_intake_writes_carries_several_practices_each_as_its_own(engine, app_engine):
    first, second = practice(), practice()
    prepared = {}
    for tenant in (first, second):
        await register_payer(engine, tenant)
        payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
        prepared[tenant] = (payer, [await prepare_claim(None, tenant, an_encounter(), payer) for _ in range(4)])
    writes = new_claims_alone(app_engine)
    groups_before = writes.groups_written

    async def write_as(tenant: str, new) -> bool:  # each request binds its own practice
        with acting_for(tenant):
            return await writes.write(new.claim_row, new.lines, new.scrub_row, new.history,
                                      payer_updated_at=prepared[tenant][0].updated_at)  # checked under RLS

    interleaved = [(tenant, new) for pair in zip(prepared[first][1], prepared[second][1])
                   for tenant, new in zip((first, second), pair)]
    outcomes = await asyncio.gather(*(write_as(tenant, new) for tenant, new in interleaved))

    assert outcomes == [True] * 8
    assert writes.groups_written - groups_before in (1, 2)  # the practices shared a round trip
    for tenant in (first, second):
        ids = {new.claim_row["id"] for new in prepared[tenant][1]}
        assert await practices_of_rows(engine, ids) == {name: {tenant} for name in (
            "claims", "claim_lines", "scrub_results", "claim_history")}


async def test_both_intake_paths_work_as_the_app_role_for_the_bound_practice(engine, app_engine):
    tenant = practice()
    await register_payer(engine, tenant)
    with acting_for(tenant):
        simple = await take_simple_encounter(app_engine, tenant, an_encounter())
        async with app_engine.begin() as conn:
            general = await submit_encounter(conn, tenant, an_encounter())
    assert simple is not None and simple.status == general.status == "ready"
    assert await practices_of_rows(engine, {simple.id, general.id}) == {name: {tenant} for name in (
        "claims", "claim_lines", "scrub_results", "claim_history")}


async def test_a_driver_statement_first_in_a_transaction_acts_for_the_bound_practice(engine, app_engine):
    mine, theirs = practice(), practice()
    for tenant in (mine, theirs):
        await register_payer(engine, tenant)
    with acting_for(mine):
        async with app_engine.begin() as conn:  # the payer lookup is a driver statement: it sends the BEGIN
            assert await find_payer(conn, theirs, "60054") is None  # asked for by id: still not visible
            assert (await find_payer(conn, mine, "60054")).payer_id == "60054"
