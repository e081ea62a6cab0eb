"""Claims moved along their lifecycle in bulk (an acknowledgement moves every claim of a file),
on a real PostgreSQL: one set-based UPDATE that ends each claim where applying the moves in order
would, and status updates that leave the stored encounter document where it is."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from openrcm_claims.adapters import claim_writes
from openrcm_claims.adapters.tables import claim_history, claims
from openrcm_claims.domain.lifecycle import ClaimStatus
from openrcm_claims.service_layer.submission import submit_encounter
from openrcm_claims.service_layer.transitions import ClaimMove, move_claims
from services.claims.tests.integration.practice import an_encounter, register_payer
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_claims_moves", migrations_of="claims", pool_size=2)


async def new_claims(engine, count: int) -> tuple[str, list[uuid.UUID]]:
    tenant = f"moves-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    ids = []
    for _ in range(count):
        async with engine.begin() as conn:
            ids.append((await submit_encounter(conn, tenant, an_encounter())).id)
    return tenant, ids


async def columns_of(engine, ids, *names) -> list[tuple]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(claims.c.id, *(claims.c[n] for n in names))
                                   .where(claims.c.id.in_(ids)))).all()
    by_id = {row[0]: tuple(row[1:]) for row in rows}
    return [by_id[i] for i in ids]


async def test_one_update_sets_each_claim_and_a_claim_named_twice_ends_with_its_last_row(engine):
    _, (first, second, untouched) = await new_claims(engine, 3)
    now = datetime.now(timezone.utc)
    later = now + timedelta(seconds=1)
    async with engine.begin() as conn:
        await claim_writes.update_claims(conn, [
            {"claim_id": first, "status": ClaimStatus.SUBMITTED, "paid_amount": Decimal("0.00"),
             "payer_claim_control_number": None, "updated_at": now},
            {"claim_id": second, "status": ClaimStatus.SUBMITTED, "paid_amount": Decimal("12.50"),
             "payer_claim_control_number": "PCCN-2", "updated_at": now},
            {"claim_id": first, "status": ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, "paid_amount": Decimal("80.00"),
             "payer_claim_control_number": "PCCN-1", "updated_at": later},
        ])
    assert await columns_of(engine, [first, second], "status", "paid_amount", "payer_claim_control_number",
                            "updated_at") == [
        ("accepted_by_clearinghouse", Decimal("80.00"), "PCCN-1", later),
        ("submitted", Decimal("12.50"), "PCCN-2", now)]
    assert await columns_of(engine, [untouched], "status", "paid_amount") == [("ready", Decimal("0.00"))]


async def test_moves_applied_in_order_leave_the_last_status_and_every_step_on_the_timeline(engine):
    tenant, (claim_id,) = await new_claims(engine, 1)
    steps = [(ClaimStatus.READY, ClaimStatus.SUBMITTED, {}),
             (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, {}),
             (ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER,
              {"payer_claim_control_number": "PCCN-9"}),
             (ClaimStatus.ACCEPTED_BY_PAYER, ClaimStatus.SUBMITTED, {})]  # illegal: refused, kept on the timeline
    moves = [ClaimMove(claim_id, tenant, source, target, f"step-{n}", {}, None, values)
             for n, (source, target, values) in enumerate(steps)]
    async with engine.begin() as conn:
        applied = await move_claims(conn, moves)
    assert [m.kind for m in applied] == ["step-0", "step-1", "step-2"]
    assert await columns_of(engine, [claim_id], "status", "payer_claim_control_number") == [
        ("accepted_by_payer", "PCCN-9")]
    async with engine.connect() as conn:
        kinds = (await conn.execute(sa.select(claim_history.c.kind).where(claim_history.c.claim_id == claim_id)
                                    .order_by(claim_history.c.id))).scalars().all()
    assert sorted(kinds[-4:]) == ["step-0", "step-1", "step-2", "transition_refused"]


async def test_status_updates_do_not_copy_the_encounter_document(engine):
    """The document is stored out of line (claims migration 0010): a new row version made by a
    status update points at the same stored value instead of writing it again."""
    _, ids = await new_claims(engine, 5)

    async def stored_document_chunks() -> int:
        async with engine.connect() as conn:
            toast = (await conn.execute(sa.text(
                "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'claims'::regclass"))).scalar()
            return (await conn.execute(sa.text(f"SELECT count(*) FROM {toast}"))).scalar()

    before = await stored_document_chunks()
    assert before >= len(ids)  # every document went out of line
    for status in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED_BY_CLEARINGHOUSE, ClaimStatus.ACCEPTED_BY_PAYER):
        async with engine.begin() as conn:
            await claim_writes.update_claims(conn, [{"claim_id": i, "status": status,
                                                     "updated_at": datetime.now(timezone.utc)} for i in ids])
    assert await stored_document_chunks() == before
    async with engine.connect() as conn:
        documents = (await conn.execute(sa.select(claims.c.encounter_document).where(claims.c.id.in_(ids)))).scalars()
        assert all(d["lines"] for d in documents)

