"""The end-to-end checker under faults (issue 14): encounters sent through the whole running system
while every service process is killed (SIGKILL) in turn, the Kafka broker is restarted and
PostgreSQL is restarted; then every encounter is accounted for.

What it checks, after the faults (docs/fault-checker.md has the schedule and the reasoning):
1. exactly one claim per encounter (the EHR retried through every failure with its Idempotency-Key);
2. each claim went out in exactly one 837 that was sent (a resend carries the same idempotency key);
3. each claim was paid by exactly one standing payment, posted once (one ERA payment per claim,
   no reversal), whose journal sums to zero;
4. the money agrees to the cent across services: the claims service's paid amounts, the remittance
   ledger's payer payments, the payer's 80 % of the charges; the patients' balances in collections,
   the ledger's patient responsibility, 20 % of the charges.

Bounded: OPENRCM_FAULT_ENCOUNTERS encounters (default 2000) at OPENRCM_FAULT_RATE per second, one
fault every few seconds while they are sent, then at most DRAIN_SECONDS for the pipeline to settle.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from conftest import TEST_PAYER, auth_headers
from openrcm_shared.db import create_engine
from tests.support import encounter

pytestmark = [pytest.mark.stack, pytest.mark.disruptive]

ENCOUNTERS = int(os.environ.get("OPENRCM_FAULT_ENCOUNTERS", "2000"))
RATE = float(os.environ.get("OPENRCM_FAULT_RATE", "40"))
SEND_CONCURRENCY = 16
DRAIN_SECONDS = 420.0
# What the simulated payer decides for this test's members: 80 % of the charge, 20 % coinsurance.
RULES = [{"member_id_pattern": "^FC", "action": "pay",
          "fee_schedule": {"percent_of_charge": "80", "coinsurance_percent": "20"}}]
# Per claim (tests.support.encounter: 99213 125.00 and 36415 15.50), line by line: allowed 100.00 and
# 12.40, coinsurance 20.00 and 2.48, paid 80.00 and 9.92.
CHARGE, PAID, PATIENT_SHARE = Decimal("140.50"), Decimal("89.92"), Decimal("22.48")


@dataclass
class Ledger:
    """What the checker saw while sending."""

    accepted: dict[str, str] = field(default_factory=dict)  # encounter id -> claim id
    attempts: Counter = field(default_factory=Counter)  # outcome -> count (201, 503, connection error, ...)
    faults: list[str] = field(default_factory=list)


async def send_all(base_url: str, headers: dict, ledger: Ledger, deadline: float) -> None:
    """Every encounter until it is taken: an EHR retrying through failures with its Idempotency-Key."""
    queue: asyncio.Queue = asyncio.Queue()
    for _ in range(ENCOUNTERS):
        body = encounter()
        body["coverage"]["member_id"] = "FC" + uuid.uuid4().hex[:8].upper()
        queue.put_nowait(body)
    interval = 1.0 / RATE
    started = time.monotonic()
    sent = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while not queue.empty():
            body = queue.get_nowait()
            due = started + sent * interval
            sent += 1
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            while time.monotonic() < deadline:
                try:
                    response = await client.post("/v1/encounters", json=body,
                                                 headers={"Idempotency-Key": body["encounter_id"]})
                except httpx.HTTPError as error:
                    ledger.attempts[type(error).__name__] += 1
                    await asyncio.sleep(0.5)
                    continue
                ledger.attempts[response.status_code] += 1
                if response.status_code == 201:
                    ledger.accepted[body["encounter_id"]] = response.json()["id"]
                    break
                await asyncio.sleep(0.5)  # 503 (a dependency restarting), 409 (in flight): again, same key

    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=15) as client:
        await asyncio.gather(*(worker(client) for _ in range(SEND_CONCURRENCY)))


async def inflict_faults(stack, ledger: Ledger) -> None:
    """One fault at a time, a few seconds apart, while the encounters are sent and, once they are,
    while the pipeline still carries them (every fault is inflicted whatever the timing)."""
    processes = ["claims", "claims-worker", "claims-relay", "remittance", "collections", "denials", "eligibility"]
    schedule = [(f"SIGKILL {name}", lambda name=name: stack.kill_and_restart(name)) for name in processes]
    schedule.append(("restart Kafka", lambda: (stack.stop_kafka(), stack.kafka.start())))
    if stack.postgres is not None:
        schedule.append(("restart PostgreSQL", lambda: (stack.stop_postgres(), stack.postgres.start())))
    pause = max(2.0, ENCOUNTERS / RATE / (len(schedule) + 1))
    for name, fault in schedule:
        await asyncio.sleep(pause)
        started = time.monotonic()
        await asyncio.to_thread(fault)
        ledger.faults.append(f"{name} (at {len(ledger.accepted)} accepted, back in {time.monotonic() - started:.1f} s)")


async def rows(url: str, query: str, **params) -> list:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(query), params)).all()
    finally:
        await engine.dispose()


async def settled(stack, tenant: str, expected: int) -> bool:
    """Every claim paid and its patient share on the patient's account."""
    paid = await rows(stack.database_url("claims"),
                      "SELECT count(*) FROM claims WHERE tenant_id = :t AND status = 'paid'", t=tenant)
    accounts = await rows(stack.database_url("collections"),
                          "SELECT count(*) FROM patient_accounts WHERE tenant_id = :t AND balance > 0", t=tenant)
    return paid[0][0] == expected and accounts[0][0] == expected


async def test_every_encounter_is_accounted_for_to_the_cent_after_every_kind_of_failure(stack, tenant):
    headers = auth_headers(stack, tenant)
    claims_url = stack.services["claims"].url
    async with httpx.AsyncClient(base_url=claims_url, headers=headers, timeout=30) as client:
        assert (await client.put("/v1/payers/60054", json=TEST_PAYER)).status_code == 200
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        assert (await clearinghouse.put("/v1/adjudication-rules", json=RULES)).status_code in (200, 204)
    ledger = Ledger()
    report: list[str] = []
    try:
        deadline = time.monotonic() + ENCOUNTERS / RATE + 300
        sending = asyncio.create_task(send_all(claims_url, headers, ledger, deadline))
        await inflict_faults(stack, ledger)
        await sending
        assert len(ledger.accepted) == ENCOUNTERS, f"only {len(ledger.accepted)} of {ENCOUNTERS} taken: {ledger.attempts}"

        drain_deadline = time.monotonic() + DRAIN_SECONDS
        while not await settled(stack, tenant, ENCOUNTERS) and time.monotonic() < drain_deadline:
            await asyncio.sleep(2)
        report += check_invariants(await gather_facts(stack, tenant), ledger)
    finally:
        async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
            await clearinghouse.put("/v1/adjudication-rules", json=[])
        summary = "\n".join([f"fault checker: {ENCOUNTERS} encounters at {RATE:g}/s",
                             "faults: " + "; ".join(ledger.faults), f"attempts: {dict(ledger.attempts)}", *report])
        print(summary)
        (Path(stack.state_dir) / "fault-checker.txt").write_text(summary + "\n")


async def gather_facts(stack, tenant: str) -> dict:
    claims_db, remittance_db = stack.database_url("claims"), stack.database_url("remittance")
    return {
        "claims": await rows(claims_db, "SELECT encounter_id, id, status, total_charge, paid_amount FROM claims "
                                        "WHERE tenant_id = :t", t=tenant),
        "submissions": await rows(claims_db, "SELECT cs.claim_id, s.status FROM claim_submissions cs JOIN submissions s "
                                             "ON s.id = cs.submission_id WHERE s.tenant_id = :t", t=tenant),
        "payments": await rows(remittance_db, "SELECT claim_id, paid_amount, patient_responsibility_amount, "
                                              "reversal_of, reversed_by FROM claim_payments WHERE tenant_id = :t", t=tenant),
        "journals": await rows(remittance_db, "SELECT journal_id, sum(amount) FROM journal_entries WHERE tenant_id = :t "
                                              "GROUP BY journal_id", t=tenant),
        "balances": await rows(remittance_db, "SELECT account, sum(amount) FROM journal_entries WHERE tenant_id = :t "
                                              "GROUP BY account", t=tenant),
        "accounts": await rows(stack.database_url("collections"),
                               "SELECT patient_id, balance FROM patient_accounts WHERE tenant_id = :t", t=tenant),
        # Stored 835s whose posting never finished (webhook files name no practice until posted).
        "unfinished_files": await rows(remittance_db, "SELECT status, count(*) FROM remittance_files "
                                                      "WHERE status IN ('received', 'processing') GROUP BY status"),
        "held": await rows(remittance_db, "SELECT count(*) FROM remittances WHERE tenant_id = :t AND status = 'held'",
                           t=tenant),
    }


def check_invariants(facts: dict, ledger: Ledger) -> list[str]:
    checked = []
    claims = facts["claims"]
    by_encounter = Counter(row.encounter_id for row in claims)
    assert set(by_encounter) == set(ledger.accepted) and set(by_encounter.values()) == {1}, \
        f"claims per encounter: {Counter(by_encounter.values())}"
    checked.append(f"1. one claim per encounter: {len(claims)} claims for {len(ledger.accepted)} encounters")

    sent = Counter(row.claim_id for row in facts["submissions"] if row.status in ("sent", "acknowledged"))
    assert all(sent[row.id] == 1 for row in claims), f"claims not sent exactly once: {Counter(sent.values())}"
    checked.append(f"2. each claim in exactly one sent 837: {len(sent)} claims")

    payments = facts["payments"]
    per_claim = Counter(row.claim_id for row in payments)
    assert all(per_claim[row.id] == 1 for row in claims), \
        f"payments per claim: {Counter(per_claim.values())}; 835 files not posted: {dict(facts['unfinished_files'])}"
    assert not any(row.reversal_of or row.reversed_by for row in payments), "a reversal appeared"
    assert all(total == 0 for _, total in facts["journals"]), "a journal does not sum to zero"
    assert facts["held"][0][0] == 0, f"{facts['held'][0][0]} ERA payments held"
    checked.append(f"3. each claim paid by one payment posted once: {len(payments)} payments, every journal balanced")

    statuses = Counter(row.status for row in claims)
    assert statuses == {"paid": len(claims)}, f"claim statuses: {statuses}"
    charges = sum((row.total_charge for row in claims), Decimal(0))
    assert charges == CHARGE * len(claims)
    claims_paid = sum((row.paid_amount for row in claims), Decimal(0))
    ledger_paid = sum((row.paid_amount for row in payments), Decimal(0))
    balances = dict(facts["balances"])
    expected_paid = PAID * len(claims)
    assert claims_paid == ledger_paid == balances["payer_payment"] == expected_paid, \
        (claims_paid, ledger_paid, balances, expected_paid)
    patient_share = sum((row.patient_responsibility_amount for row in payments), Decimal(0))
    on_accounts = sum((row.balance for row in facts["accounts"]), Decimal(0))
    expected_share = PATIENT_SHARE * len(claims)
    assert patient_share == on_accounts == balances["patient_responsibility"] == expected_share, \
        (patient_share, on_accounts, balances, expected_share)
    checked.append(f"4. money agrees on {charges} charged: paid {claims_paid} in claims = {ledger_paid} in the "
                   f"ledger = the payer's decision; patient balances {on_accounts} = the ledger's patient "
                   f"responsibility = the payer's coinsurance")
    return checked
