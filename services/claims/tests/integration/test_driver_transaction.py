"""Driver statements (adapters.driver_sql) in SQLAlchemy's transaction, on a real PostgreSQL.

The intake's transaction now starts with a driver statement (the payer lookup), so `driver`
sends BEGIN through SQLAlchemy's adapter: the statements must still commit and roll back with
the SQLAlchemy transaction, and never run on their own outside one.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from openrcm_shared.driver_sql import DriverStatement, driver, fetch
from openrcm_claims.adapters.tables import payers
from openrcm_claims.service_layer.reference_data import require_payer
from openrcm_shared.http.problems import Problem
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

_INSERT_PAYER = DriverStatement(
    sa.insert(payers).values({c.name: sa.bindparam(c.name, type_=c.type) for c in payers.columns}).returning(
        payers.c.payer_id))


database_url, engine = scratch_database_fixtures("openrcm_claims_driver", migrations_of="claims", pool_size=2)


def payer_row(tenant_id: str, payer_id: str) -> dict:
    from datetime import datetime, timezone

    return {"tenant_id": tenant_id, "payer_id": payer_id, "name": "Synthetic Health Plan",
            "claim_types": ["professional"], "timely_filing_days": 90, "enrollment_required": False,
            "replacement_claims_accepted": True, "acknowledgement_follow_up_days": 30,
            "updated_at": datetime.now(timezone.utc)}


async def count_payers(engine, tenant_id: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(payers)
                                   .where(payers.c.tenant_id == tenant_id))).scalar()


async def test_a_driver_statement_first_commits_with_the_sqlalchemy_transaction(engine):
    async with engine.begin() as conn:
        await fetch(conn, _INSERT_PAYER, payer_row("driver-commit", "60054"))
        await conn.execute(sa.insert(payers).values(payer_row("driver-commit", "60055")))  # same transaction
    assert await count_payers(engine, "driver-commit") == 2
    async with engine.begin() as conn:
        payer = await require_payer(conn, "driver-commit", "60054", "/coverage/payer_id")
    assert (payer.payer_id, payer.timely_filing_days, payer.claim_types) == ("60054", 90, ["professional"])


async def test_a_driver_statement_first_rolls_back_with_the_sqlalchemy_transaction(engine):
    with pytest.raises(Problem):
        async with engine.begin() as conn:
            await fetch(conn, _INSERT_PAYER, payer_row("driver-rollback", "60054"))
            await require_payer(conn, "driver-rollback", "99999", "/coverage/payer_id")  # 422: unknown payer
    assert await count_payers(engine, "driver-rollback") == 0


async def test_a_driver_statement_outside_a_transaction_is_refused(engine):
    async with engine.connect() as conn:
        with pytest.raises(RuntimeError):
            await driver(conn)
