"""Contracted fee schedules, payment variances and EFT reassociation, on real PostgreSQL and the whole stack.

The first tests call the service layer directly against the migrated remittance database (what posting
will call inside its transaction); the others go through the running services' HTTP APIs. All data is
synthetic; every amount is worked out by hand in the comments.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from openrcm_remittance.adapters.tables import deposits, payment_variances
from openrcm_remittance.domain.fee_schedules import parse_fee_schedule_csv
from openrcm_remittance.domain.reassociation import DepositFacts
from openrcm_remittance.service_layer.deposits import reassociate_remittance, record_deposit
from openrcm_remittance.service_layer.fee_schedules import (
    LineKey, PostedLineFacts, contracted_amounts, load_contracted_rates, record_variances, replace_fee_schedule,
)
from openrcm_shared.contracts.remittance import RemittanceReassociated
from openrcm_shared.db import create_engine
from openrcm_shared.http.problems import Problem
from openrcm_shared.messaging.tables import outbox
from tests.support import encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack

PAYER = "60054"
HEADER = "procedure_code,modifier,allowed_amount,effective_from,effective_to\n"
SCHEDULE_V1 = HEADER + "99213,,90.00,2026-01-01,\n"
SCHEDULE_V2 = HEADER + ("99213,,92.50,2026-01-01,2026-06-30\n"
                        "99213,,95.00,2026-07-01,\n"
                        "93000,,17.50,2026-01-01,\n"
                        "93000,26,8.75,2026-01-01,\n"
                        "J1100,,0.125,2026-01-01,\n")


@pytest.fixture(scope="module")
def remittance_scratch_url(infra):
    # A database of its own, migrated as the service's is: the running service's outbox relay
    # publishes and deletes outbox rows within half a second, so a test reading the rows it
    # staged in the service's own database raced it (and lost on a busy machine).
    return infra.scratch_database(f"openrcm_deposits_{uuid.uuid4().hex[:8]}", migrations_of="remittance")


@pytest.fixture
async def remittance_db(remittance_scratch_url):
    engine = create_engine(remittance_scratch_url, pool_size=3)
    yield engine
    await engine.dispose()


async def insert_era(conn, tenant: str, *, trace: str, amount: str, paid_on: date, payer: str = PAYER) -> uuid.UUID:
    """An ERA header as posting writes it (only the columns reassociation reads, plus the required ones)."""
    remittance_id = uuid.uuid4()
    await conn.execute(sa.text(
        "INSERT INTO remittances (id, tenant_id, payer_id, trace_number, payment_amount, payment_date, source, "
        "received_at, document) VALUES (:id, :tenant, :payer, :trace, :amount, :paid_on, 'json', now(), '{}')"),
        dict(id=remittance_id, tenant=tenant, payer=payer, trace=trace, amount=D(amount), paid_on=paid_on))
    return remittance_id


def count_statements(engine) -> list[str]:
    statements: list[str] = []
    sa.event.listen(engine.sync_engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement.split()[0].upper()))
    return statements


# -- the posting interface, directly against PostgreSQL ------------------------------------------------


async def test_contracted_amounts_and_variances_against_postgres(remittance_db, tenant):
    async with remittance_db.begin() as conn:
        await replace_fee_schedule(conn, tenant, PAYER, parse_fee_schedule_csv(SCHEDULE_V1), content=b"v1")
        v2 = await replace_fee_schedule(conn, tenant, PAYER, parse_fee_schedule_csv(SCHEDULE_V2), content=b"v2",
                                        variance_tolerance=D("1.00"))
        remittance_id = await insert_era(conn, tenant, trace=f"EFT{uuid.uuid4().hex[:10]}", amount="500.00",
                                         paid_on=date(2026, 8, 3))
    assert v2.version == 2

    statements = count_statements(remittance_db)
    async with remittance_db.begin() as conn:
        # One SELECT for a batch of 600 lines (200 claims x 3 lines).
        batch = [LineKey("99213", ("25",), date(2026, 5, 1), D("1")),  # 25 has no row: plain rate (v2) 92.50
                 LineKey("93000", ("26",), date(2026, 8, 1), D("2")),  # 8.75 x 2 = 17.50
                 LineKey("J1100", (), date(2026, 8, 1), D("3"))] * 200  # 0.125 x 3 = 0.375 -> 0.38
        statements.clear()
        amounts = await contracted_amounts(conn, tenant, PAYER, batch)
        assert statements == ["SELECT"]
        assert amounts[:3] == [D("92.50"), D("17.50"), D("0.38")] and len(amounts) == 600
        # No schedule for the payer, or no row on that date: None.
        assert await contracted_amounts(conn, tenant, "87726", batch[:1]) == [None]
        assert await contracted_amounts(conn, tenant, PAYER, [LineKey("99213", (), date(2025, 12, 31),
                                                                      D("1"))]) == [None]

        claim_id = uuid.uuid4()
        posted = [
            # 99213 on 2026-07-15: contracted 95.00, allowed 88.00 -> 7.00 short, beyond the 1.00 tolerance
            PostedLineFacts(1, "99213", (), date(2026, 7, 15), D("1"), D("88.00"), D("70.40")),
            # 93000-26 x 2: contracted 17.50, allowed 16.75 -> 0.75 short, within tolerance: row, no event
            PostedLineFacts(2, "93000", ("26",), date(2026, 7, 15), D("2"), D("16.75"), D("13.40")),
            # J1100 x 10: contracted 1.25, allowed 1.40 -> overpaid 0.15: row with -0.15, no event
            PostedLineFacts(3, "J1100", (), date(2026, 7, 15), D("10"), D("1.40"), D("1.12")),
            # on contract, denied, and not on the schedule: nothing stored
            PostedLineFacts(4, "93000", (), date(2026, 7, 15), D("1"), D("17.50"), D("14.00")),
            PostedLineFacts(5, "99213", (), date(2026, 7, 15), D("1"), D("0.00"), D("0.00")),
            PostedLineFacts(6, "36415", (), date(2026, 7, 15), D("1"), D("3.00"), D("3.00")),
        ]
        statements.clear()
        events = await record_variances(conn, tenant, remittance_id, PAYER, claim_id, posted)
        assert statements == ["SELECT", "INSERT"]
        # With the rates loaded once for the whole ERA, a claim costs no SELECT.
        rates = await load_contracted_rates(conn, tenant, PAYER, posted)
        statements.clear()
        assert await record_variances(conn, tenant, remittance_id, PAYER, uuid.uuid4(), posted[3:], rates=rates) == []
        assert statements == []

    [event] = events
    assert (event.claim_id, event.remittance_id, event.line_number, event.procedure_code) == (
        claim_id, remittance_id, 1, "99213")
    assert (event.contracted_amount, event.allowed_amount, event.variance_amount, event.paid_amount) == (
        D("95.00"), D("88.00"), D("7.00"), D("70.40"))
    assert event.key() == str(claim_id)

    async with remittance_db.connect() as conn:
        rows = (await conn.execute(sa.select(payment_variances).where(payment_variances.c.claim_id == claim_id)
                                   .order_by(payment_variances.c.line_number))).all()
    assert [(r.line_number, r.contracted_amount, r.allowed_amount, r.variance_amount, r.kind, r.beyond_tolerance,
             r.modifiers, r.fee_schedule_version_id) for r in rows] == [
        (1, D("95.00"), D("88.00"), D("7.00"), "underpayment", True, [], v2.id),
        (2, D("17.50"), D("16.75"), D("0.75"), "underpayment", False, ["26"], v2.id),
        (3, D("1.25"), D("1.40"), D("-0.15"), "overpayment", False, [], v2.id),
    ]


async def outbox_events(engine, tenant: str) -> list[tuple[str, dict]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.event_type, outbox.c.payload)
                                   .where(outbox.c.tenant_id == tenant).order_by(outbox.c.id))).all()
    return [(r.event_type.split(".")[3], json.loads(r.payload)) for r in rows]


def deposit_facts(trace: str, amount: str, on: date, **payer) -> DepositFacts:
    return DepositFacts(uuid.uuid4(), trace, D(amount), on, payer.get("payer_id"), payer.get("payer_tin"))


async def test_reassociation_deposit_first_era_first_and_a_wrong_amount_against_postgres(remittance_db, tenant):
    monday = date(2026, 11, 23)
    # ERA first, deposit second (one business day later): matched when the deposit is recorded.
    async with remittance_db.begin() as conn:
        era_first = await insert_era(conn, tenant, trace="EFT-A-1", amount="1240.17", paid_on=monday)
    async with remittance_db.begin() as conn:
        row, discrepancies = await record_deposit(conn, tenant, deposit_facts("EFT-A-1", "1240.17",
                                                                              monday + timedelta(days=1)),
                                                  bank_reference="BANK-1")
    assert (row["status"], row["remittance_id"], discrepancies) == ("matched", era_first, ())

    # The same EFT again is a 409, nothing stored twice.
    with pytest.raises(Problem) as duplicate:
        async with remittance_db.begin() as conn:
            await record_deposit(conn, tenant, deposit_facts("EFT-A-1", "1240.17", monday), bank_reference=None)
    assert duplicate.value.status == 409

    # Deposit first, ERA second: the ERA's posting ties them, with TRN03 checked against the TIN.
    async with remittance_db.begin() as conn:
        early, _ = await record_deposit(conn, tenant, deposit_facts("EFT-B-2", "310.00", monday,
                                                                    payer_tin="123456789"), bank_reference=None)
    assert early["status"] == "unmatched"
    async with remittance_db.begin() as conn:
        era_second = await insert_era(conn, tenant, trace="EFT-B-2", amount="310.00", paid_on=monday)
        [reassociated] = await reassociate_remittance(conn, tenant, era_second,
                                                      originating_company_id="1123456789")
        assert await reassociate_remittance(conn, tenant, era_second) == []  # again: nothing more
    assert isinstance(reassociated, RemittanceReassociated)
    assert (reassociated.deposit_id, reassociated.amount, reassociated.key()) == (early["id"], D("310.00"),
                                                                                  str(era_second))

    # Same trace, another amount: never matched, listed with the difference 499.00 - 500.00 = -1.00.
    async with remittance_db.begin() as conn:
        era_short = await insert_era(conn, tenant, trace="EFT-C-3", amount="500.00", paid_on=monday)
    async with remittance_db.begin() as conn:
        short, [exception] = await record_deposit(conn, tenant, deposit_facts("EFT-C-3", "499.00", monday),
                                                  bank_reference=None)
        assert await reassociate_remittance(conn, tenant, era_short) == []
    assert short["status"] == "unmatched"
    assert (exception.remittance_id, exception.reason, exception.amount_difference) == (era_short, "amount_mismatch",
                                                                                       D("-1.00"))

    async with remittance_db.connect() as conn:
        statuses = dict((await conn.execute(sa.select(deposits.c.trace_number, deposits.c.status)
                                            .where(deposits.c.tenant_id == tenant))).all())
    assert statuses == {"EFT-A-1": "matched", "EFT-B-2": "matched", "EFT-C-3": "unmatched"}
    # Every state change is in the outbox: three deposits recorded, and the deposit-first case's
    # RemittanceReassociated is the caller's to stage (posting stages it with its own events).
    staged = await outbox_events(remittance_db, tenant)
    assert [(kind, body.get("status")) for kind, body in staged] == [
        ("deposit_recorded", "matched"), ("remittance_reassociated", None), ("deposit_recorded", "unmatched"),
        ("deposit_recorded", "unmatched")]
    assert staged[1][1]["remittance_id"] == str(era_first) and staged[1][1]["amount"] == "1240.17"


async def test_a_deposit_and_its_era_arriving_at_the_same_time_still_meet(remittance_db, tenant):
    today = date.today()
    async with remittance_db.connect() as posting:
        await posting.begin()
        era = await insert_era(posting, tenant, trace="EFT-RACE", amount="75.00", paid_on=today)
        assert await reassociate_remittance(posting, tenant, era) == []  # no deposit yet; holds the trace lock

        async def deposit_meanwhile():
            async with remittance_db.begin() as conn:
                return await record_deposit(conn, tenant, deposit_facts("EFT-RACE", "75.00", today),
                                            bank_reference=None)

        recording = asyncio.create_task(deposit_meanwhile())
        await asyncio.sleep(0.5)
        assert not recording.done()  # waits for the ERA's transaction instead of missing it
        await posting.commit()
    row, _ = await recording
    assert (row["status"], row["remittance_id"]) == ("matched", era)


# -- through the services' HTTP APIs --------------------------------------------------------------------


async def test_fee_schedule_upload_versions_amounts_and_a_bad_csv(api):
    remittance = api["remittance"]
    csv_headers = {"Content-Type": "text/csv"}
    first = await remittance.put(f"/v1/fee-schedules/{PAYER}", content=SCHEDULE_V1, headers=csv_headers)
    assert first.status_code == 200, first.text
    second = await remittance.put(f"/v1/fee-schedules/{PAYER}", content=SCHEDULE_V2.encode("utf-8-sig"),
                                  headers=csv_headers, params={"variance_tolerance": "1.00"})
    assert second.status_code == 200, second.text
    assert (second.json()["version"], second.json()["row_count"], second.json()["variance_tolerance"]) == (2, 5, "1.00")

    schedule = (await remittance.get(f"/v1/fee-schedules/{PAYER}")).json()
    assert (schedule["version"], schedule["versions"]) == (2, [2, 1])
    assert [(r["procedure_code"], r["modifier"], r["allowed_amount"], r["effective_from"], r["effective_to"])
            for r in schedule["rows"]] == [
        ("93000", None, "17.50", "2026-01-01", None), ("93000", "26", "8.75", "2026-01-01", None),
        ("99213", None, "92.50", "2026-01-01", "2026-06-30"), ("99213", None, "95.00", "2026-07-01", None),
        ("J1100", None, "0.125", "2026-01-01", None)]
    earlier = (await remittance.get(f"/v1/fee-schedules/{PAYER}", params={"version": 1})).json()
    assert [(r["procedure_code"], r["allowed_amount"]) for r in earlier["rows"]] == [("99213", "90.00")]

    async def amount(**params):
        return await remittance.get(f"/v1/fee-schedules/{PAYER}/amount", params=params)

    # 93000-26 x 2 on 2026-09-01: 8.75 x 2 = 17.50
    priced = (await amount(procedure_code="93000", modifier="26", service_date="2026-09-01", units="2")).json()
    assert (priced["matched_modifier"], priced["allowed_amount"], priced["contracted_amount"]) == ("26", "8.75",
                                                                                                 "17.50")
    # 99213-25: no row for 25, the plain rate for the date (first half of 2026) applies
    plain = (await amount(procedure_code="99213", modifier="25", service_date="2026-03-01")).json()
    assert (plain["matched_modifier"], plain["contracted_amount"], plain["version"]) == (None, "92.50", 2)
    assert (await amount(procedure_code="99215", service_date="2026-03-01")).status_code == 404
    bad_code = await amount(procedure_code="9921", service_date="2026-03-01")
    assert bad_code.status_code == 422 and bad_code.json()["errors"][0]["pointer"] == "/query/procedure_code"

    # A bad CSV: 422 naming the row and column, with the CSV line; nothing stored.
    broken = HEADER + "99213,,92.50,2026-01-01,\n99214,,12O.00,2026-01-01,\n"
    refused = await remittance.put(f"/v1/fee-schedules/{PAYER}", content=broken, headers=csv_headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert (error["pointer"], error["line"], error["column"]) == ("/rows/1/allowed_amount", 3, "allowed_amount")
    assert (await remittance.get(f"/v1/fee-schedules/{PAYER}")).json()["version"] == 2

    not_csv = await remittance.put(f"/v1/fee-schedules/{PAYER}", json={"rows": []})
    assert not_csv.status_code == 415
    assert (await remittance.get("/v1/fee-schedules/87726")).status_code == 404


async def post_era(api, *, trace_number: str) -> tuple[dict, dict]:
    """A claim submitted through claims, then its remittance posted (payment 80.00, dated today)."""
    created = await api["claims"].post("/v1/encounters", json=encounter())
    assert created.status_code == 201, created.text
    claim = created.json()
    posted = await post_when_known(api["remittance"], "/v1/remittances",
                                   remittance_for(claim, trace_number=trace_number))
    assert posted.status_code == 201, posted.text
    return claim, posted.json()


async def test_deposits_matched_unmatched_and_the_exceptions_listed(api):
    remittance = api["remittance"]
    today = date.today().isoformat()
    matched_trace, short_trace, stray_trace = (f"EFT{uuid.uuid4().hex[:12].upper()}" for _ in range(3))
    _, era = await post_era(api, trace_number=matched_trace)
    _, short_era = await post_era(api, trace_number=short_trace)

    # The ERA first, then its deposit: matched at once. The Idempotency-Key replays the same answer.
    body = {"trace_number": matched_trace, "amount": "80.00", "deposit_date": today, "payer_id": PAYER,
            "bank_reference": "BAI2-0001"}
    recorded = await remittance.post("/v1/deposits", json=body, headers={"Idempotency-Key": "bank-line-1"})
    assert recorded.status_code == 201, recorded.text
    deposit = recorded.json()
    assert (deposit["status"], deposit["remittance_id"], deposit["amount"]) == ("matched", era["id"], "80.00")
    assert recorded.headers["location"] == f"/v1/deposits/{deposit['id']}"
    replay = await remittance.post("/v1/deposits", json=body, headers={"Idempotency-Key": "bank-line-1"})
    assert (replay.status_code, replay.content, replay.headers["idempotent-replayed"]) == (201, recorded.content,
                                                                                         "true")
    duplicate = await remittance.post("/v1/deposits", json=body)
    assert duplicate.status_code == 409

    # Same trace, 79.00 instead of 80.00: unmatched, listed with the difference 79.00 - 80.00 = -1.00.
    short = (await remittance.post("/v1/deposits", json={"trace_number": short_trace, "amount": "79.00",
                                                         "deposit_date": today})).json()
    assert short["status"] == "unmatched"
    assert [(e["remittance_id"], e["reason"], e["amount_difference"]) for e in short["exceptions"]] == [
        (short_era["id"], "amount_mismatch", "-1.00")]
    # A deposit no ERA explains (yet).
    stray = (await remittance.post("/v1/deposits", json={"trace_number": stray_trace, "amount": "12.34",
                                                         "deposit_date": today, "payer_tin": "1-123456789"})).json()
    assert (stray["status"], stray["payer_tin"], stray["exceptions"]) == ("unmatched", "123456789", [])

    unmatched = (await remittance.get("/v1/deposits", params={"status": "unmatched"})).json()
    assert [d["trace_number"] for d in unmatched["items"]] == [stray_trace, short_trace]  # newest first
    assert unmatched["items"][1]["exceptions"][0]["amount_difference"] == "-1.00"
    matched = (await remittance.get("/v1/deposits", params={"status": "matched", "limit": 1})).json()
    assert [d["id"] for d in matched["items"]] == [deposit["id"]] and matched["next_cursor"] is None
    assert (await remittance.get(f"/v1/deposits/{short['id']}")).json()["exceptions"] == short["exceptions"]
    assert (await remittance.get(f"/v1/deposits/{uuid.uuid4()}")).status_code == 404

    # The ERA with the short deposit is still waiting for its money, with the deposit that did not fit.
    waiting = (await remittance.get("/v1/remittances/unreassociated")).json()["items"]
    assert [(r["id"], r["payment_amount"]) for r in waiting] == [(short_era["id"], "80.00")]
    assert [(e["deposit_id"], e["amount_difference"]) for e in waiting[0]["exceptions"]] == [(short["id"], "-1.00")]

    bad = await remittance.post("/v1/deposits", json={"trace_number": "X", "amount": 80.5, "deposit_date": today,
                                                      "payer_tin": "12345"})
    assert bad.status_code == 422
    assert {e["pointer"] for e in bad.json()["errors"]} == {"/amount", "/payer_tin"}


async def test_a_deposit_recorded_before_its_era_is_tied_when_the_era_is_posted(api):
    remittance = api["remittance"]
    trace = f"EFT{uuid.uuid4().hex[:12].upper()}"
    early = await remittance.post("/v1/deposits", json={"trace_number": trace, "amount": "80.00",
                                                        "deposit_date": date.today().isoformat()})
    assert early.status_code == 201 and early.json()["status"] == "unmatched"
    _, era = await post_era(api, trace_number=trace)

    async def tied():
        deposit = (await remittance.get(f"/v1/deposits/{early.json()['id']}")).json()
        assert (deposit["status"], deposit["remittance_id"]) == ("matched", era["id"]), deposit
        return deposit
    await eventually(tied, timeout=10)
    assert (await remittance.get("/v1/remittances/unreassociated")).json()["items"] == []


async def test_variances_recorded_in_posting_are_listed_largest_underpayment_first(api, stack, tenant):
    remittance = api["remittance"]
    put = await remittance.put(f"/v1/fee-schedules/{PAYER}", content=SCHEDULE_V2, headers={"Content-Type": "text/csv"})
    assert put.status_code == 200, put.text
    claim, era = await post_era(api, trace_number=f"EFT{uuid.uuid4().hex[:12].upper()}")
    # What posting will do inside its transaction, run here directly on the service's database.
    engine = create_engine(stack.database_url("remittance"), pool_size=1)
    try:
        async with engine.begin() as conn:
            events = await record_variances(conn, tenant, uuid.UUID(era["id"]), PAYER, uuid.UUID(claim["id"]), [
                # 95.00 - 88.00 = 7.00 short; 17.50 - 15.00 = 2.50 short; 17.50 - 18.00 = 0.50 over
                PostedLineFacts(1, "99213", (), date(2026, 7, 15), D("1"), D("88.00"), D("70.40")),
                PostedLineFacts(2, "93000", (), date(2026, 2, 2), D("1"), D("15.00"), D("12.00")),
                PostedLineFacts(3, "93000", (), date(2026, 7, 15), D("1"), D("18.00"), D("14.40")),
            ])
    finally:
        await engine.dispose()
    assert [e.variance_amount for e in events] == [D("7.00"), D("2.50")]

    largest = (await remittance.get("/v1/remittances/variances",
                                    params={"sort": "largest_underpayment", "limit": 2})).json()
    assert [v["variance_amount"] for v in largest["items"]] == ["7.00", "2.50"]
    rest = (await remittance.get("/v1/remittances/variances", params={"sort": "largest_underpayment", "limit": 2,
                                                                      "cursor": largest["next_cursor"]})).json()
    # ... then the overpayments: the posting itself recorded line 1 of the ERA (allowed 100.00 against
    # 95.00 contracted for 99213 from July: 5.00 over, no event).
    assert ([v["variance_amount"] for v in rest["items"]], rest["next_cursor"]) == (["-0.50", "-5.00"], None)
    mixed = await remittance.get("/v1/remittances/variances", params={"cursor": largest["next_cursor"]})
    assert mixed.status_code == 400  # a cursor of one sort is refused by the other

    filtered = (await remittance.get("/v1/remittances/variances", params={
        "claim_id": claim["id"], "payer_id": PAYER, "kind": "underpayment", "from": "2026-07-01",
        "to": "2026-07-31"})).json()["items"]
    assert [(v["line_number"], v["contracted_amount"], v["allowed_amount"], v["beyond_tolerance"])
            for v in filtered] == [(1, "95.00", "88.00", True)]
    backwards = await remittance.get("/v1/remittances/variances", params={"from": "2026-07-31", "to": "2026-07-01"})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["pointer"] == "/query/to"
