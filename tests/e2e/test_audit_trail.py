"""The audit trail on the whole stack: PHI reads and money movements recorded with who, what and
for which patient; changes recorded in their own transaction; the chainer sealing them; `audit
verify` passing, then naming an entry edited behind the application's back; GET /v1/audit-events
filtering, paginating and showing each practice only its own trail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from conftest import auth_headers
import sqlalchemy as sa

from openrcm_devstack import cli
from openrcm_shared.db import create_engine
from tests.support import encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack


async def trail(client, **filters) -> list[dict]:
    response = await client.get("/v1/audit-events", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def sealed(client, **filters) -> list[dict]:
    """The matching entries once the chainer has sealed them all (bounded wait)."""
    async def all_sealed():
        items = await trail(client, **filters)
        assert items and all(item["chain_seq"] is not None and item["hash"] for item in items), items
        return items
    return await eventually(all_sealed, timeout=15)


async def verify(*database_urls: str) -> int:
    """`openrcm-stack audit verify --database-url ...` (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(cli.main, ["audit", "verify", *(a for url in database_urls
                                                                    for a in ("--database-url", url))])


@pytest.fixture
async def database(stack):
    engines = {}

    def engine_of(service: str):
        if service not in engines:
            engines[service] = create_engine(stack.database_url(service), pool_size=1)
        return engines[service]

    yield engine_of
    for engine in engines.values():
        await engine.dispose()


async def test_reading_a_claim_is_recorded_with_the_actor_and_the_patient(api, stack, tenant):
    body = encounter()
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    read = await api["claims"].get(f"/v1/claims/{claim['id']}", headers={"X-Purpose-Of-Use": "TREAT"})
    assert read.status_code == 200

    entries = await trail(api["claims"], resource_type="claim", resource_id=claim["id"])
    assert [(e["action"], e["outcome"], e["route"]) for e in entries] == [
        ("read", "200", "GET /v1/claims/{claim_id}"), ("create", "ok", "POST /v1/encounters")]
    read_entry = entries[0]
    assert (read_entry["actor"], read_entry["client_id"], read_entry["patient_id"], read_entry["purpose"]) == (
        "test-user", "test-client", body["patient"]["id"], "TREAT")  # the token's sub and client_id
    assert entries[1]["patient_id"] == body["patient"]["id"]

    # Another practice asking for this claim is refused, and its attempt is in its own trail only.
    other = f"practice-{uuid.uuid4().hex[:12]}"
    refused = await api["claims"].get(f"/v1/claims/{claim['id']}", headers=auth_headers(stack, other))
    assert refused.status_code == 404
    assert [e["outcome"] for e in await trail(api["claims"], resource_id=claim["id"])] == ["200", "ok"]

    async def recorded_in_their_trail():  # a refusal is answered first, its entry written meanwhile
        theirs = await api["claims"].get("/v1/audit-events", params={"resource_id": claim["id"]},
                                         headers=auth_headers(stack, other))
        assert [(e["outcome"], e["patient_id"]) for e in theirs.json()["items"]] == [("404", None)]
        return True
    await eventually(recorded_in_their_trail, timeout=5)

    bad_purpose = await api["claims"].get(f"/v1/claims/{claim['id']}", headers={"X-Purpose-Of-Use": "NOSY"})
    assert bad_purpose.status_code == 400
    assert bad_purpose.json()["errors"][0]["pointer"] == "/header/X-Purpose-Of-Use"


async def test_money_movements_are_recorded_and_chained(api, stack, tenant):
    deposit = await api["remittance"].post("/v1/deposits", json={
        "trace_number": f"EFT{uuid.uuid4().hex[:10].upper()}", "amount": "412.50",
        "deposit_date": date.today().isoformat()}, headers={"X-Purpose-Of-Use": "HPAYMT"})
    assert deposit.status_code == 201, deposit.text
    deposit_id = deposit.json()["id"]

    [entry] = await sealed(api["remittance"], resource_type="deposit")
    assert (entry["action"], entry["resource_id"], entry["outcome"], entry["purpose"]) == (
        "create", deposit_id, "ok", "HPAYMT")
    # (That the entry is written by the deposit's own transaction is shown where no chainer rewrites
    # the row meanwhile: tests/integration/test_audit_in_transaction.py.)

    # A manual posting moves money: one entry, the posting's, naming the remittance it created.
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance_for(claim))
    assert posted.status_code == 201, posted.text
    # (Attempts made before the remittance service knew the claim were refused, and are recorded too.)
    [posting] = [e for e in await sealed(api["remittance"], resource_type="remittance") if e["action"] == "post"]
    assert (posting["action"], posting["resource_id"], posting["route"]) == (
        "post", posted.json()["id"], "POST /v1/remittances")


async def test_audit_verify_passes_then_names_an_entry_edited_behind_the_applications_back(
        api, stack, tenant, database, capsys):
    claim = (await api["claims"].post("/v1/encounters", json=encounter())).json()
    assert (await api["claims"].get(f"/v1/claims/{claim['id']}")).status_code == 200
    read = next(e for e in await sealed(api["claims"], resource_id=claim["id"]) if e["action"] == "read")
    claims_db = f"claims={stack.database_url('claims')}"

    assert await verify(claims_db) == 0
    assert "every audit chain verified" in capsys.readouterr().out

    engine = database("claims")
    try:
        async with engine.begin() as conn:  # an administrator switches the trigger off and edits the entry
            await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            await conn.execute(sa.text("UPDATE audit_log SET patient_id = 'SOMEONE-ELSE' WHERE id = :id"),
                               {"id": read["id"]})
        assert await verify(claims_db) == 1
        out = capsys.readouterr().out
        assert f"practice {tenant}: entry {read['id']} (position {read['chain_seq']})" in out
        assert f"found {read['hash']}" in out
    finally:
        async with engine.begin() as conn:  # put back exactly as it was, for the other tests
            await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            await conn.execute(sa.text("UPDATE audit_log SET patient_id = :patient WHERE id = :id"),
                               {"id": read["id"], "patient": read["patient_id"]})
    assert await verify(claims_db) == 0


async def test_audit_events_filter_paginate_and_show_only_the_callers_practice(api, stack, tenant):
    claims = [(await api["claims"].post("/v1/encounters", json=encounter(patient_id=patient))).json()
              for patient in ("P-AUD-1", "P-AUD-1", "P-AUD-2")]
    started = datetime.now(timezone.utc)
    await asyncio.sleep(0.01)
    for claim in claims:
        assert (await api["claims"].get(f"/v1/claims/{claim['id']}")).status_code == 200

    since_start = await trail(api["claims"], resource_type="claim", since=started.isoformat())
    assert [(e["action"], e["resource_id"]) for e in since_start] == [
        ("read", c["id"]) for c in reversed(claims)]  # newest first
    assert [e["resource_id"] for e in await trail(api["claims"], patient_id="P-AUD-2")] == [claims[2]["id"]] * 2
    assert len(await trail(api["claims"], patient_id="P-AUD-1")) == 4  # two creates, two reads
    assert await trail(api["claims"], actor="someone-else") == []
    # Compared by id: the audit chainer may seal an entry (chain_seq, hash) between two reads.
    assert [e["id"] for e in await trail(api["claims"], resource_type="claim", until=started.isoformat(),
                                         patient_id="P-AUD-2")] == [
        next(e["id"] for e in await trail(api["claims"], patient_id="P-AUD-2") if e["action"] == "create")]

    pages, cursor = [], None
    while True:
        params = {"resource_type": "claim", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api["claims"].get("/v1/audit-events", params=params)).json()
        pages.append([e["id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = [e["id"] for e in await trail(api["claims"], resource_type="claim", limit=100)]
    assert [len(p) for p in pages] == [2, 2, 2] and sum(pages, []) == everything

    stranger = await api["claims"].get("/v1/audit-events", headers=auth_headers(stack, f"practice-{uuid.uuid4().hex}"))
    assert stranger.status_code == 200 and [e["route"] for e in stranger.json()["items"]] == []

    reversed_window = await api["claims"].get("/v1/audit-events", params={
        "since": started.isoformat(), "until": (started - timedelta(hours=1)).isoformat()})
    assert reversed_window.status_code == 422
    assert reversed_window.json()["errors"][0]["pointer"] == "/query/until"
    forged = await api["claims"].get("/v1/audit-events", params={"cursor": "WyJub3QtYS10aW1lIiwgIngiXQ"})
    assert forged.status_code == 400 and forged.json()["errors"][0]["pointer"] == "/query/cursor"
