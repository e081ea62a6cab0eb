"""The intake's one-round-trip path (submission.take_simple_encounter) on a real PostgreSQL: it
writes what the general path writes, or nothing, and never uses a payer another process changed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from openrcm_claims.adapters import claim_writes
from openrcm_claims.adapters.claim_writes import new_claims_alone
from openrcm_shared.driver_sql import fetch_many_alone
from openrcm_claims.adapters.tables import claim_history, claim_lines, claims, payers, scrub_results
from openrcm_claims.service_layer.reference_data import KNOWN_PAYERS, replace_payer_identifiers
from openrcm_claims.service_layer.submission import (
    IdempotentIntake, prepare_claim, submit_encounter, take_simple_encounter,
)
from openrcm_shared.audit.tables import audit_log
from openrcm_shared.messaging.tables import idempotency_keys
from services.claims.tests.integration.practice import an_encounter, register_payer
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

NAIC = "urn:oid:2.16.840.1.113883.6.300"

database_url, engine = scratch_database_fixtures("openrcm_claims_simple_intake", migrations_of="claims", pool_size=2)


async def written(engine, tenant_id: str) -> dict:
    """What the claims tables hold for this practice, without ids, times and control numbers."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(claims).where(claims.c.tenant_id == tenant_id)
                                   .order_by(claims.c.created_at))).mappings().all()
        result = {}
        for row in rows:
            lines = (await conn.execute(sa.select(claim_lines).where(claim_lines.c.claim_id == row["id"])
                                        .order_by(claim_lines.c.line_number))).mappings().all()
            scrub = (await conn.execute(sa.select(scrub_results.c.blocked, scrub_results.c.hits,
                                                  scrub_results.c.rule_set_version)
                                        .where(scrub_results.c.claim_id == row["id"]))).all()
            history = (await conn.execute(sa.select(claim_history.c.kind, claim_history.c.detail)
                                          .where(claim_history.c.claim_id == row["id"])
                                          .order_by(claim_history.c.id))).all()
            result[row["encounter_id"]] = {
                "claim": {k: v for k, v in row.items() if k not in (
                    "id", "encounter_id", "patient_control_number", "created_at", "updated_at", "patient_id",
                    "member_id", "encounter_document")},
                "lines": [{k: v for k, v in line.items() if k not in ("claim_id", "id")} for line in lines],
                "scrub": [tuple(s) for s in scrub],
                "history": [tuple(h) for h in history],
            }
        return result


async def test_a_clean_encounter_is_written_as_the_general_path_writes_it(engine):
    tenant = f"simple-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    simple, general = an_encounter(), an_encounter()

    claim = await take_simple_encounter(engine, tenant, simple)
    assert claim is not None and claim.status == "ready"
    async with engine.begin() as conn:
        await submit_encounter(conn, tenant, general)

    stored = await written(engine, tenant)
    assert set(stored) == {simple.encounter_id, general.encounter_id}
    assert stored[simple.encounter_id] == stored[general.encounter_id]
    assert [kind for kind, _ in stored[simple.encounter_id]["history"]] == ["received", "scrubbed"]
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(claims).where(claims.c.id == claim.id))).mappings().one()
    assert (row["patient_control_number"], row["total_charge"], row["encounter_document"]["encounter_id"]) == (
        claim.patient_control_number, claim.total_charge, simple.encounter_id)


async def test_a_payer_changed_by_another_process_is_not_used_from_the_cache(engine):
    tenant = f"simple-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant, timely_filing_days=365)
    first = await take_simple_encounter(engine, tenant, an_encounter())  # caches the payer
    assert first is not None
    service_day = first.service_date_from
    assert first.filing_deadline == service_day + timedelta(days=365)

    await register_payer(engine, tenant, timely_filing_days=90)  # another process's PUT: this cache is stale
    stale = an_encounter()
    assert await take_simple_encounter(engine, tenant, stale) is None  # refused, nothing written
    assert stale.encounter_id not in await written(engine, tenant)
    async with engine.begin() as conn:  # what the API does next: the general path reads the payer afresh
        general = await submit_encounter(conn, tenant, stale)
    assert general.filing_deadline == service_day + timedelta(days=90)

    again = await take_simple_encounter(engine, tenant, an_encounter())  # the cache was refreshed
    assert again is not None and again.filing_deadline == service_day + timedelta(days=90)


async def test_encounters_the_simple_path_does_not_take_are_left_untouched_for_the_general_path(engine):
    tenant = f"simple-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    duplicate = an_encounter()
    assert await take_simple_encounter(engine, tenant, duplicate) is not None
    too_late = (date.today() - timedelta(days=500)).isoformat()  # past the payer's 365-day filing limit
    not_taken = {
        "the encounter already has its claim": duplicate,
        "scrubs to a hold": an_encounter(lines=[{"procedure_code": "99213", "units": 1, "charge_amount": "125.00",
                                                 "service_date": too_late, "diagnosis_pointers": [1]}]),
        "names its patient by id": an_encounter(patient=None, patient_id="PAT-REGISTERED"),
        "more lines than one 837P claim": an_encounter(lines=[
            {"procedure_code": "99213", "units": 1, "charge_amount": "1.00",
             "service_date": (date.today() - timedelta(days=3)).isoformat(), "diagnosis_pointers": [1]}] * 51),
        "unknown payer": an_encounter(coverage={"payer_id": "99999", "member_id": "XJ1"}),
    }
    before = await written(engine, tenant)
    for case, encounter in not_taken.items():
        assert await take_simple_encounter(engine, tenant, encounter) is None, case
    assert await written(engine, tenant) == before
    async with engine.begin() as conn:  # the general path takes it, as held
        held = await submit_encounter(conn, tenant, not_taken["scrubs to a hold"])
    assert held.status == "held"

    enrolling = f"simple-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, enrolling, enrollment_required=True)  # scrubbing reads enrollments
    assert await take_simple_encounter(engine, enrolling, an_encounter()) is None
    assert await written(engine, enrolling) == {}


async def test_a_payer_changed_through_this_process_is_forgotten_at_once(engine):
    tenant = f"simple-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant, timely_filing_days=365)
    assert await take_simple_encounter(engine, tenant, an_encounter()) is not None
    await register_payer(engine, tenant, timely_filing_days=120)
    KNOWN_PAYERS.forget(tenant, "60054")  # what PUT /v1/payers does after its commit
    claim = await take_simple_encounter(engine, tenant, an_encounter())
    assert claim is not None and claim.filing_deadline == claim.service_date_from + timedelta(days=120)


async def test_a_patient_control_number_is_unique_across_practices(engine):
    # A 277CA names claims by CLM01 alone (acknowledgements.py finds them without a tenant), so two
    # practices must never hold the same number.
    first_practice, second_practice = (f"pcn-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for tenant in (first_practice, second_practice):
        await register_payer(engine, tenant)
    first = await take_simple_encounter(engine, first_practice, an_encounter())
    second = await take_simple_encounter(engine, second_practice, an_encounter())
    assert first is not None and second is not None
    with pytest.raises(sa.exc.IntegrityError, match="uq_claims_pcn"):
        async with engine.begin() as conn:
            await conn.execute(claims.update().where(claims.c.id == second.id)
                               .values(patient_control_number=first.patient_control_number))


async def new_claims(engine, tenant: str, count: int) -> list:
    """`count` clean claims for the practice, prepared as the intake prepares them (not written)."""
    payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
    return [await prepare_claim(None, tenant, an_encounter(), payer) for _ in range(count)]


async def write_together(engine, tenant: str, prepared: list, *, return_exceptions: bool = False) -> list:
    """Write the prepared claims concurrently, as that many intake requests would; their outcomes."""
    payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
    writes = new_claims_alone(engine)
    return await asyncio.gather(*(
        writes.write(n.claim_row, n.lines, n.scrub_row, n.history, payer_updated_at=payer.updated_at)
        for n in prepared), return_exceptions=return_exceptions)


async def claim_ids(engine, tenant: str) -> set:
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(claims.c.id).where(claims.c.tenant_id == tenant))).scalars())


async def test_concurrent_intake_writes_are_grouped(engine):
    tenant = f"group-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    prepared = await new_claims(engine, tenant, 12)
    duplicate = (await new_claims(engine, tenant, 1))[0]
    duplicate.claim_row["encounter_id"] = prepared[0].claim_row["encounter_id"]  # the same encounter again
    writes = new_claims_alone(engine)
    groups_before = writes.groups_written
    claims_counted_before = REGISTRY.get_sample_value("openrcm_claims_intake_group_size_sum") or 0

    outcomes = await write_together(engine, tenant, [*prepared, duplicate])

    assert outcomes == [True] * 12 + [False]  # the encounter already had its claim: nothing written for it
    assert await claim_ids(engine, tenant) == {n.claim_row["id"] for n in prepared}
    # Thirteen writes arriving together: one commit (two if the writer had started before the last came).
    assert writes.groups_written - groups_before in (1, 2)
    # /metrics shows the group sizes (the duplicate went in a group too, writing nothing).
    assert REGISTRY.get_sample_value("openrcm_claims_intake_group_size_sum") - claims_counted_before == 13


async def test_a_failing_write_costs_no_other_write_in_its_group_its_claim(engine):
    tenant = f"isolate-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    prepared = await new_claims(engine, tenant, 4)
    colliding = (await new_claims(engine, tenant, 1))[0]
    colliding.claim_row["patient_control_number"] = prepared[2].claim_row["patient_control_number"]

    outcomes = await write_together(engine, tenant, [*prepared, colliding], return_exceptions=True)

    assert outcomes[:4] == [True] * 4
    assert isinstance(outcomes[4], Exception) and "uq_claims_pcn" in str(outcomes[4])  # its own error only
    assert await claim_ids(engine, tenant) == {n.claim_row["id"] for n in prepared}


async def test_a_group_is_committed_whole_or_not_at_all(engine):
    tenant = f"atomic-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
    first, second = await new_claims(engine, tenant, 2)
    second.claim_row["patient_control_number"] = first.claim_row["patient_control_number"]
    params = [claim_writes._new_claim_params(n.claim_row, n.lines, n.scrub_row, n.history, payer.updated_at)
              for n in (first, second)]
    with pytest.raises(Exception, match="uq_claims_pcn"):
        async with engine.connect() as conn:
            await fetch_many_alone(conn, claim_writes._INSERT_NEW_CLAIM, params)
    assert await claim_ids(engine, tenant) == set()  # the first claim went with the second


async def test_the_intake_statement_writes_its_audit_entry_with_the_claim_and_only_then(engine):
    tenant = f"audited-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
    new, again = await new_claims(engine, tenant, 2)
    again.claim_row["encounter_id"] = new.claim_row["encounter_id"]  # the same encounter: no claim written

    def audit_entry(claim_row) -> dict:
        return dict(tenant_id=tenant, occurred_at=claim_row["created_at"], actor="ehr-1", client_id="ehr",
                    action="create", route="POST /v1/encounters", resource_type="claim",
                    resource_id=str(claim_row["id"]), patient_id=claim_row["patient_id"], outcome="ok",
                    purpose="HPAYMT")

    writes = new_claims_alone(engine)
    assert await writes.write(new.claim_row, new.lines, new.scrub_row, new.history, payer_updated_at=payer.updated_at,
                              audit_entry=audit_entry(new.claim_row))
    assert not await writes.write(again.claim_row, again.lines, again.scrub_row, again.history,
                                  payer_updated_at=payer.updated_at, audit_entry=audit_entry(again.claim_row))
    async with engine.connect() as conn:
        entries = (await conn.execute(
            sa.select(audit_log.c.resource_id, audit_log.c.patient_id, audit_log.c.actor,
                      sa.literal_column("audit_log.xmin").label("xmin"))
            .where(audit_log.c.tenant_id == tenant))).all()
        claim_xmin = (await conn.execute(sa.select(sa.literal_column("claims.xmin")).select_from(claims)
                                         .where(claims.c.id == new.claim_row["id"]))).scalar()
    assert [(e.resource_id, e.patient_id, e.actor) for e in entries] == [
        (str(new.claim_row["id"]), new.claim_row["patient_id"], "ehr-1")]
    assert entries[0].xmin == claim_xmin  # written by the transaction that wrote the claim


# --- keyed requests (Idempotency-Key) on the same one-statement path ---------------------------

def keyed_as(key: str, fingerprint: str) -> IdempotentIntake:
    return IdempotentIntake(key, fingerprint, lambda claim: claim.model_dump_json().encode())


async def stored_key(engine, tenant: str, key: str):
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(idempotency_keys).where(
            idempotency_keys.c.tenant_id == tenant, idempotency_keys.c.idempotency_key == key))).mappings().first()


async def test_a_keyed_encounter_is_written_with_its_key_and_answer_in_one_statement(engine):
    tenant = f"keyed-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)

    claim = await take_simple_encounter(engine, tenant, an_encounter(), keyed=keyed_as("k-1", "print-1"))

    assert claim is not None
    key = await stored_key(engine, tenant, "k-1")
    # Complete at once: what a replay returns (no in-flight row with status 0 to update later).
    assert (key["request_fingerprint"], key["response_status"]) == ("print-1", 201)
    assert json.loads(key["response_body"])["id"] == str(claim.id)


async def test_a_used_key_writes_nothing_and_leaves_the_answer_to_the_general_path(engine):
    tenant = f"reused-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    first = await take_simple_encounter(engine, tenant, an_encounter(), keyed=keyed_as("k-2", "print-1"))

    # Another encounter under the same key (reused with another body): nothing written here.
    assert await take_simple_encounter(engine, tenant, an_encounter(), keyed=keyed_as("k-2", "print-2")) is None

    assert await claim_ids(engine, tenant) == {first.id}
    assert (await stored_key(engine, tenant, "k-2"))["request_fingerprint"] == "print-1"
    # The key is the practice's own: another practice may use the same one.
    other = f"reused-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, other)
    assert await take_simple_encounter(engine, other, an_encounter(), keyed=keyed_as("k-2", "print-2")) is not None


async def test_concurrent_requests_with_one_key_write_one_claim(engine):
    tenant = f"racing-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    await take_simple_encounter(engine, tenant, an_encounter())  # the payer cached: both race to the write

    # Concurrent: they go in one group (the second sees the first's key) or in two, the second
    # waiting on the key's primary key for the first to commit (KeyTaken): either way one claim.
    outcomes = await asyncio.gather(*(take_simple_encounter(engine, tenant, an_encounter(),
                                                            keyed=keyed_as("k-3", f"print-{n}"))
                                      for n in range(2)))

    assert sum(outcome is not None for outcome in outcomes) == 1
    taken = next(outcome for outcome in outcomes if outcome is not None)
    assert json.loads((await stored_key(engine, tenant, "k-3"))["response_body"])["id"] == str(taken.id)
    async with engine.connect() as conn:
        keyed_claims = (await conn.execute(sa.select(sa.func.count()).select_from(claims).where(
            claims.c.tenant_id == tenant))).scalar()
    assert keyed_claims == 2  # the one unkeyed, and one of the two keyed


async def test_a_key_committed_by_another_connection_mid_write_is_key_taken(engine):
    tenant = f"taken-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    payer = await KNOWN_PAYERS.get(engine, tenant, "60054")
    new = await prepare_claim(None, tenant, an_encounter(), payer)
    answer = claim_writes.KeyedAnswer("k-4", "print-1", 201, b"{}")
    async with engine.connect() as holder:  # another request's transaction holds the key, uncommitted
        await holder.execute(sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        await holder.execute(idempotency_keys.insert().values(
            tenant_id=tenant, idempotency_key="k-4", request_fingerprint="other", response_status=0,
            response_body=b""))
        write = asyncio.ensure_future(new_claims_alone(engine).write(
            new.claim_row, new.lines, new.scrub_row, new.history, payer_updated_at=payer.updated_at, keyed=answer))
        await asyncio.sleep(0.5)
        assert not write.done()  # waiting on the key for the other transaction
        await holder.commit()
    with pytest.raises(claim_writes.KeyTaken):
        await write
    assert await claim_ids(engine, tenant) == set()


# --- payers named by identifier (FHIR intake), cached with their rows -------------------------

async def set_identifiers(engine, tenant: str, payer_id: str, values: list[str]) -> None:
    """PUT /v1/payers/{id} with these NAIC codes, from any process: a new updated_at too."""
    async with engine.begin() as conn:
        await replace_payer_identifiers(conn, tenant, payer_id, [(NAIC, value) for value in values])
        await conn.execute(payers.update().where(payers.c.tenant_id == tenant, payers.c.payer_id == payer_id)
                           .values(updated_at=sa.func.clock_timestamp()))


async def test_a_claim_read_by_a_stale_payer_identifier_is_not_written(engine):
    tenant = f"naic-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    await set_identifiers(engine, tenant, "60054", ["98765"])
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "98765")]) == {(NAIC, "98765"): "60054"}

    await set_identifiers(engine, tenant, "60054", [])  # another process: 98765 names no payer any more
    # Read again through the cache, as the FHIR fast path would: still 60054 (stale) ...
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "98765")]) == {(NAIC, "98765"): "60054"}
    # ... so the claim it leads to must not be written: the payer row cached with it is stale.
    assert await take_simple_encounter(engine, tenant, an_encounter()) is None
    # Forgetting the payer forgot the identifiers read with it: the next read is the database's.
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "98765")]) == {}


async def test_a_payer_read_anew_takes_its_older_identifiers_with_it(engine):
    tenant = f"naic-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    await set_identifiers(engine, tenant, "60054", ["11111", "22222"])
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "11111")]) == {(NAIC, "11111"): "60054"}
    await set_identifiers(engine, tenant, "60054", ["22222"])  # 11111 dropped elsewhere

    # 22222 is read (not cached yet) with the payer's newer row: the older 11111 goes with the old row.
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "22222")]) == {(NAIC, "22222"): "60054"}
    assert await KNOWN_PAYERS.by_identifiers(engine, tenant, [(NAIC, "11111")]) == {}


async def test_claim_ids_are_time_ordered_so_claim_keyed_indexes_grow_at_their_end(engine):
    """Claims taken one after another get ids in the order they were taken (UUID version 7), by
    either path, so every index keyed by the claim appends instead of touching a random page."""
    tenant = f"ordered-{uuid.uuid4().hex[:8]}"
    await register_payer(engine, tenant)
    taken = []
    for _ in range(3):
        taken.append((await take_simple_encounter(engine, tenant, an_encounter())).id)
        async with engine.begin() as conn:
            taken.append((await submit_encounter(conn, tenant, an_encounter())).id)
        await asyncio.sleep(0.002)  # a new millisecond: v7 orders by time, not within one
    assert {claim_id.version for claim_id in taken} == {7}
    assert taken == sorted(taken)
