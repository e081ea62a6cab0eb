"""The simulated payer: claims its 277CA accepted are adjudicated by rules and paid in 835s, delivered
by signed webhook to the remittance receiver after the batch's 277CA. Every 835 is checked with
pyx12 and balanced at line, claim and transaction level. Synthetic claims only."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from openrcm_shared.http.webhooks import verify
from openrcm_shared.x12.balancing import balance_remittance
from openrcm_shared.x12.claim_837 import (
    ClaimBatch, InstitutionalClaim, InstitutionalServiceLine, Patient, Payer,
    ProfessionalClaim, ProfessionalServiceLine, Provider, Subscriber, build_837, envelope_counts,
)
from openrcm_shared.x12.claim_ack_277ca import parse_277ca
from openrcm_shared.x12.remittance_835 import ClaimPayment, Remittance835, parse_835
from openrcm_clearinghouse_sim.main import create_app
from openrcm_clearinghouse_sim.settings import DeliveryPolicy, Settings
from simulators.clearinghouse.tests.synthetic_parties import ACME, BLUE, CLINIC, HOME, HOSPITAL, RECEIVER, SUBMITTER
from tests.x12_validation import pyx12_errors

D = Decimal
X12 = "application/edi-x12"
SECRET = "whsec_YWRqdWRpY2F0aW9uLXRlc3Qtc2VjcmV0LWtleS0wMQ=="
SERVICE_DAY = date(2026, 2, 20)


def office_visit(pcn: str, *lines: tuple[str, str], member_id: str = "W123456789", payer: Payer = ACME,
                 dependent: bool = False) -> ProfessionalClaim:
    """An 837P claim; each line (procedure, charge) gets REF*6R = CLM01 + a 3-digit line number."""
    service_lines = tuple(ProfessionalServiceLine(procedure_code=code, charge=D(charge), service_date=SERVICE_DAY,
                                                  line_control_number=f"{pcn}{number:03d}")
                          for number, (code, charge) in enumerate(lines or (("99213", "125.00"),), start=1))
    patient = Patient(last_name="DOE", first_name="JIMMY", birth_date=date(2015, 6, 1), gender="M", address=HOME,
                      relationship_to_subscriber="19") if dependent else None
    return ProfessionalClaim(
        billing_provider=CLINIC, payer=payer, patient_control_number=pcn,
        total_charge=sum((line.charge for line in service_lines), D(0)),
        subscriber=Subscriber(member_id=member_id, last_name="DOE", first_name="JANE", birth_date=date(1980, 5, 17),
                              gender="F", address=HOME),
        place_of_service="11", diagnosis_codes=("E11.9",), lines=service_lines, patient=patient)


def emergency_visit(pcn: str) -> InstitutionalClaim:
    return InstitutionalClaim(
        billing_provider=HOSPITAL, payer=ACME, patient_control_number=pcn, total_charge=D("892.75"),
        subscriber=Subscriber(member_id="H987654321", last_name="ROE", first_name="RICHARD",
                              birth_date=date(1975, 1, 2), gender="M", address=HOME),
        type_of_bill="0131", statement_from=date(2026, 2, 20), statement_to=date(2026, 2, 21),
        principal_diagnosis="R07.9", patient_status_code="01", admission_type_code="1", admission_source_code="7",
        reason_for_visit=("R07.9",),
        attending_provider=Provider(npi="1333333338", last_name="HOUSE", first_name="GREGORY"),
        lines=(InstitutionalServiceLine(revenue_code="0450", procedure_code="99284", charge=D("850"),
                                        service_date=date(2026, 2, 20), line_control_number=f"{pcn}001"),
               InstitutionalServiceLine(revenue_code="0300", charge=D("42.75"), service_date=date(2026, 2, 21),
                                        line_control_number=f"{pcn}002")))


def file_837(*claims, icn: int = 1) -> str:
    batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=tuple(claims))
    groups, sets = envelope_counts(batch)
    return build_837(batch, interchange_control_number=icn, group_control_numbers=list(range(101, 101 + groups)),
                     transaction_set_control_numbers=list(range(1, 1 + sets)), created_at=datetime(2026, 3, 2, 9, 30),
                     usage_indicator="T")


@pytest.fixture
def settings(receiver, remittance_receiver, request) -> Settings:
    attempts = getattr(request, "param", 5)
    return Settings(webhook_url=receiver.url, webhook_secrets=(SECRET,),
                    remittance_webhook_url=remittance_receiver.url, adjudication_delay_seconds=0.05,
                    delivery=DeliveryPolicy(max_attempts=attempts, base_delay_seconds=0.02, max_delay_seconds=0.1,
                                            max_elapsed_seconds=10, request_timeout_seconds=5))


async def submit(client: httpx.AsyncClient, x12: str, key: str) -> str:
    response = await client.post("/v1/batches", content=x12.encode(), headers={"Content-Type": X12,
                                                                               "Idempotency-Key": key})
    assert response.status_code == 202, response.text
    return response.json()["batch_id"]


async def adjudicate(client: httpx.AsyncClient, rules: list[dict]) -> None:
    response = await client.put("/v1/adjudication-rules", json=rules)
    assert response.status_code == 200, response.text


async def remittances_of(client: httpx.AsyncClient, batch_id: str, count: int) -> list[dict]:
    """The batch's 835s once `count` exist and every delivery is final (bounded wait)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        records = (await client.get("/v1/remittances", params={"batch_id": batch_id})).json()
        if len(records) >= count and all(r["delivery"]["status"] in ("delivered", "failed", "held") for r in records):
            assert len(records) == count, [r["webhook_id"] for r in records]
            return records
        assert asyncio.get_running_loop().time() < deadline, f"835s of {batch_id} did not settle: {records}"
        await asyncio.sleep(0.05)


def checked(x12: str) -> Remittance835:
    """The one 835 of an ERA file, after pyx12 found nothing and it balanced at all three levels."""
    assert pyx12_errors(x12) == []
    [remittance] = parse_835(x12)
    assert balance_remittance(remittance) == []
    return remittance


def claims_by_pcn(remittances: list[Remittance835]) -> dict[str, list[ClaimPayment]]:
    found: dict[str, list[ClaimPayment]] = {}
    for remittance in remittances:
        for claim in remittance.claims:
            found.setdefault(claim.patient_control_number, []).append(claim)
    return found


def line_money(claim: ClaimPayment) -> list[tuple]:
    """(procedure, charge, paid, allowed, [(group, CARC, amount)], REF*6R) of each line."""
    return [(line.procedure.code, line.charge, line.paid, line.allowed_amount,
             [(a.group_code, a.reason_code, a.amount) for a in line.adjustments], line.line_control_number)
            for line in claim.service_lines]


# --------------------------------------------------------------------------------------------------


async def test_fee_schedule_payment_grouped_per_payer_with_interest(clearinghouse, receiver, remittance_receiver):
    await adjudicate(clearinghouse, [
        {"payer_id": "60054", "action": "pay", "interest": "1.25",
         "fee_schedule": {"allowed": {"99213": "92.00"}, "percent_of_charge": "80", "copay": "10",
                          "deductible": "20", "coinsurance_percent": "20"}},
        {"action": "pay"},  # everyone else: the full charge
    ])
    batch_id = await submit(clearinghouse, file_837(
        office_visit("PCN1001", ("99213", "125.00"), ("36415", "15.50")), office_visit("PCN1002", ("99214", "180.00")),
        office_visit("PCN1003", payer=BLUE)), "adjudication-pay-1")
    records = await remittances_of(clearinghouse, batch_id, 2)

    assert [r["webhook_id"] for r in records] == [f"{batch_id}.835.1", f"{batch_id}.835.2"]
    assert all(r["delivery"]["status"] == "delivered" for r in records)
    acme, blue = (checked(r["x12"]) for r in records)
    claims = claims_by_pcn([acme, blue])
    [first], [second], [third] = claims["PCN1001"], claims["PCN1002"], claims["PCN1003"]
    # 99213: allowed 92 (fee schedule), CO-45 33; PR-3 10, PR-1 20, PR-2 20 % of 62 = 12.40; paid 49.60.
    # 36415: allowed 80 % of 15.50 = 12.40, CO-45 3.10; PR-2 2.48; paid 9.92.
    assert line_money(first) == [
        ("99213", D("125"), D("49.6"), D("92"), [("CO", "45", D("33")), ("PR", "3", D("10")), ("PR", "1", D("20")),
                                                ("PR", "2", D("12.4"))], "PCN1001001"),
        ("36415", D("15.5"), D("9.92"), D("12.4"), [("CO", "45", D("3.1")), ("PR", "2", D("2.48"))], "PCN1001002")]
    assert (first.status_code, first.charge, first.paid, first.patient_responsibility) == ("1", D("140.5"), D("59.52"),
                                                                                          D("44.88"))
    # 99214: allowed 144, CO-45 36; PR-3 10, PR-1 20, PR-2 22.80; paid 91.20 (copay and deductible are per claim).
    assert (second.paid, second.patient_responsibility) == (D("91.2"), D("52.8"))
    assert (third.paid, third.patient_responsibility, line_money(third)[0][4]) == (D("125"), None, [])
    # ACME's ERA: 59.52 + 91.20 plus 1.25 interest on each claim (PLB L6, negative) = 153.22.
    assert (acme.payment.transaction_handling_code, acme.payment.amount) == ("I", D("153.22"))
    assert [(a.reason_code, a.amount, a.reference) for a in acme.provider_adjustments] == [
        ("L6", D("-1.25"), "PCN1001"), ("L6", D("-1.25"), "PCN1002")]
    assert (blue.payment.amount, blue.provider_adjustments) == (D("125"), [])
    assert (acme.payer.name, acme.payee.identifier, blue.payer.name) == ("ACME HEALTH PLAN", "1234567893",
                                                                         "BLUE SAMPLE INSURANCE")

    # CLP07 is the payer claim control number the 277CA gave; SVC and dates echo the 837.
    [report] = parse_277ca(receiver.accepted[1].body.decode())
    given = {c.patient_control_number: c.payer_claim_control_number for c in report.claims}
    assert {pcn: payments[0].payer_claim_control_number for pcn, payments in claims.items()} == given
    assert first.service_lines[0].service_date == SERVICE_DAY and first.service_lines[0].units == 1
    assert (first.claim_filing_indicator, first.facility_type_code, first.frequency_code) == ("12", "11", "1")
    assert (first.patient.last_name, first.patient.identifier) == ("DOE", "W123456789")

    # TRN: unique traces; TRN03 = BPR10 = "1" + a 9-digit payer TIN.
    assert acme.trace.trace_number != blue.trace.trace_number
    for era in (acme, blue):
        assert era.trace.payer_identifier == era.payment.payer_identifier
        assert len(era.trace.payer_identifier) == 10 and era.trace.payer_identifier.startswith("1")
    assert [r["trace_number"] for r in records] == [acme.trace.trace_number, blue.trace.trace_number]
    assert [(r["payer_id"], r["payment_amount"], r["transaction_handling_code"]) for r in records] == [
        ("60054", "153.22", "I"), ("BSI01", "125.00", "I")]
    assert records[0]["claims"][0] == {"patient_control_number": "PCN1001", "status_code": "1", "charge": "140.50",
                                       "paid": "59.52", "patient_responsibility": "44.88",
                                       "payer_claim_control_number": first.payer_claim_control_number}

    # Signed like the acknowledgements, and only after the batch's 277CA was delivered.
    assert [d.transaction_set_id for d in receiver.accepted] == ["999", "277"]
    for delivery, record in zip(remittance_receiver.accepted, records, strict=True):
        assert delivery.headers["content-type"] == X12
        assert verify([SECRET], delivery.headers, delivery.body).webhook_id == record["webhook_id"]
        assert delivery.body.decode() == record["x12"]
        assert delivery.received_at > receiver.accepted[1].received_at
    view = (await clearinghouse.get(f"/v1/batches/{batch_id}")).json()
    assert [r["status"] for r in view["remittances"]] == ["delivered", "delivered"]


async def test_denied_and_partly_denied_claims_and_a_claim_no_rule_catches(clearinghouse, remittance_receiver):
    await adjudicate(clearinghouse, [
        {"member_id_pattern": "^DENY", "action": "deny", "denial": {"carc": "50", "rarcs": ["N115"]}},
        {"procedure_code": "97110", "action": "deny", "fee_schedule": {"percent_of_charge": "80"},
         "denial": {"carc": "96", "rarcs": ["N130"], "group": "PR", "procedure_codes": ["97110"]}},
    ])
    batch_id = await submit(clearinghouse, file_837(
        office_visit("PCN2001", member_id="DENY0001", payer=BLUE),
        office_visit("PCN2002", ("99213", "100.00"), ("97110", "60.00")),
        office_visit("PCN2003", ("99212", "75.00"))), "adjudication-deny-1")
    records = await remittances_of(clearinghouse, batch_id, 2)
    await asyncio.sleep(0.2)  # the unmatched claim gets nothing, however long one waits

    claims = claims_by_pcn([checked(r["x12"]) for r in records])
    assert set(claims) == {"PCN2001", "PCN2002"}
    [denied], [partly] = claims["PCN2001"], claims["PCN2002"]
    assert (denied.status_code, denied.charge, denied.paid, denied.patient_responsibility) == ("4", D(125), D(0), None)
    assert line_money(denied) == [("99213", D(125), D(0), D(0), [("CO", "50", D(125))], "PCN2001001")]
    assert [(r.qualifier, r.code) for r in denied.service_lines[0].remark_codes] == [("HE", "N115")]
    assert (partly.status_code, partly.paid, partly.patient_responsibility) == ("1", D(80), D(60))
    assert line_money(partly) == [("99213", D(100), D(80), D(80), [("CO", "45", D(20))], "PCN2002001"),
                                  ("97110", D(60), D(0), D(0), [("PR", "96", D(60))], "PCN2002002")]
    assert [r.code for r in partly.service_lines[1].remark_codes] == ["N130"]
    # BLUE pays nothing this time: a notification-only ERA.
    blue = next(checked(r["x12"]) for r in records if r["claims"][0]["patient_control_number"] == "PCN2001")
    assert (blue.payment.transaction_handling_code, blue.payment.amount, blue.payment.payment_method) == (
        "H", D(0), "NON")
    assert len(remittance_receiver.accepted) == 2


async def test_reversal_and_correction_then_the_balance_carried_forward_is_recovered(clearinghouse,
                                                                                     remittance_receiver):
    await adjudicate(clearinghouse, [
        {"patient_control_number_pattern": "^RC", "action": "reverse_and_correct",
         "fee_schedule": {"percent_of_charge": "80"}, "corrected_fee_schedule": {"percent_of_charge": "60"},
         "correction_delay_seconds": 0.2},
        {"action": "pay"},
    ])
    batch_id = await submit(clearinghouse, file_837(office_visit("RC3001")), "adjudication-reverse-1")
    original_record, correction_record = await remittances_of(clearinghouse, batch_id, 2)
    original, correction = checked(original_record["x12"]), checked(correction_record["x12"])

    [paid] = original.claims
    assert (paid.status_code, paid.paid, original.payment.amount) == ("1", D(100), D(100))
    reversal, corrected = correction.claims
    assert (reversal.status_code, reversal.charge, reversal.paid) == ("22", D(-125), D(-100))
    assert line_money(reversal) == [("99213", D(-125), D(-100), D(-100), [("CO", "45", D(-25))], "RC3001001")]
    assert (corrected.status_code, corrected.charge, corrected.paid) == ("1", D(125), D(75))
    assert reversal.payer_claim_control_number == corrected.payer_claim_control_number == paid.payer_claim_control_number
    # -100 + 75 = -25: an 835 is never negative, so the 25 is carried forward (PLB FB, negative).
    assert (correction.payment.transaction_handling_code, correction.payment.amount) == ("H", D(0))
    assert [(a.reason_code, a.amount, a.reference) for a in correction.provider_adjustments] == [
        ("FB", D(-25), correction.trace.trace_number)]
    assert [d.headers["webhook-id"] for d in remittance_receiver.accepted] == [f"{batch_id}.835.1",
                                                                               f"{batch_id}.835.2"]

    # The next ERA to the same payee recovers it.
    later_batch = await submit(clearinghouse, file_837(office_visit("PAY3002"), icn=2), "adjudication-reverse-2")
    [recovering] = await remittances_of(clearinghouse, later_batch, 1)
    era = checked(recovering["x12"])
    assert [(a.reason_code, a.amount, a.reference) for a in era.provider_adjustments] == [
        ("FB", D(25), correction.trace.trace_number)]
    assert era.payment.amount == D(100)  # 125 paid - 25 recovered


async def test_crossover_to_the_secondary_payer_with_other_provider_adjustments(clearinghouse):
    await adjudicate(clearinghouse, [{
        "action": "crossover", "crossover": {"name": "MEDIGAP SUPPLEMENT PLAN", "payer_id": "MG001"},
        "fee_schedule": {"percent_of_charge": "80", "coinsurance_percent": "20"},
        "provider_adjustments": [{"reason": "WO", "amount": "15.00"}, {"reason": "CS", "amount": "-2",
                                                                       "reference": "ADJ-7"}]}])
    batch_id = await submit(clearinghouse, file_837(office_visit("PCN4001")), "adjudication-crossover-1")
    [record] = await remittances_of(clearinghouse, batch_id, 1)
    era = checked(record["x12"])

    [crossed] = era.claims
    assert (crossed.status_code, crossed.paid, crossed.patient_responsibility) == ("19", D(80), D(20))
    assert (crossed.crossover_carrier.last_name, crossed.crossover_carrier.identifier) == (
        "MEDIGAP SUPPLEMENT PLAN", "MG001")
    assert crossed.outpatient.remark_codes == ("MA18",)
    assert "NM1*TT*2*MEDIGAP SUPPLEMENT PLAN*****PI*MG001~" in record["x12"]
    # WO refers to the payer's claim control number unless told otherwise: 80 - (15 - 2) = 67.
    assert [(a.reason_code, a.amount, a.reference) for a in era.provider_adjustments] == [
        ("WO", D(15), crossed.payer_claim_control_number), ("CS", D(-2), "ADJ-7")]
    assert era.payment.amount == D(67)
    assert record["provider_adjustments"] == [
        {"reason_code": "WO", "amount": "15.00", "reference": crossed.payer_claim_control_number},
        {"reason_code": "CS", "amount": "-2.00", "reference": "ADJ-7"}]


async def test_institutional_claim_and_dependent_patient(clearinghouse):
    await adjudicate(clearinghouse, [{"action": "pay", "fee_schedule": {"percent_of_charge": "90"}}])
    batch_id = await submit(clearinghouse, file_837(emergency_visit("INST5001"),
                                                    office_visit("PCN5002", dependent=True)), "adjudication-inst-1")
    records = await remittances_of(clearinghouse, batch_id, 2)  # two payees: the hospital and the clinic
    claims = claims_by_pcn([checked(r["x12"]) for r in records])

    [hospital] = claims["INST5001"]
    assert (hospital.facility_type_code, hospital.frequency_code) == ("13", "1")
    assert (hospital.statement_from, hospital.statement_to) == (date(2026, 2, 20), date(2026, 2, 21))
    # 850 at 90 % = 765; 42.75 at 90 % = 38.475 -> 38.48 (half up).
    assert [(line.procedure.qualifier, line.procedure.code, line.revenue_code, line.paid, line.line_control_number)
            for line in hospital.service_lines] == [("HC", "99284", "0450", D(765), "INST5001001"),
                                                    ("NU", "0300", None, D("38.48"), "INST5001002")]
    assert hospital.paid == D("803.48")
    [child] = claims["PCN5002"]
    assert (child.patient.first_name, child.patient.identifier) == ("JIMMY", "")
    assert (child.insured.first_name, child.insured.identifier) == ("JANE", "W123456789")


@pytest.mark.parametrize("settings", [2], indirect=True)
async def test_835_is_held_until_the_277ca_is_delivered(clearinghouse, receiver, remittance_receiver):
    await adjudicate(clearinghouse, [{"action": "pay"}])
    receiver.failures_left = 2  # the 999 exhausts its attempts: the 277CA is held, so is the 835
    batch_id = await submit(clearinghouse, file_837(office_visit("PCN6001")), "adjudication-held-1")
    [record] = await remittances_of(clearinghouse, batch_id, 1)
    assert record["delivery"]["status"] == "held" and remittance_receiver.requests == []

    requeued = (await clearinghouse.post(f"/v1/batches/{batch_id}/redeliver")).json()["requeued"]
    assert requeued == [f"{batch_id}.999.1", f"{batch_id}.277ca", f"{batch_id}.835.1"]
    deadline = asyncio.get_running_loop().time() + 30
    while len(remittance_receiver.accepted) < 1:
        assert asyncio.get_running_loop().time() < deadline, "the 835 was not redelivered"
        await asyncio.sleep(0.05)
    assert remittance_receiver.accepted[0].received_at > receiver.accepted[-1].received_at
    assert [d.transaction_set_id for d in receiver.accepted] == ["999", "277"]
    checked(remittance_receiver.accepted[0].body.decode())


async def test_without_adjudication_rules_no_835_is_produced(clearinghouse, receiver, remittance_receiver):
    batch_id = await submit(clearinghouse, file_837(office_visit("PCN7001")), "adjudication-none-1")
    deadline = asyncio.get_running_loop().time() + 30
    while len(receiver.accepted) < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # several adjudication delays
    assert (await clearinghouse.get("/v1/remittances")).json() == []
    assert (await clearinghouse.get(f"/v1/batches/{batch_id}")).json()["remittances"] == []
    assert remittance_receiver.requests == []


async def test_invalid_adjudication_rules_are_refused_with_pointers(clearinghouse):
    response = await clearinghouse.put("/v1/adjudication-rules", json=[
        {"action": "deny"}, {"action": "pay", "fee_schedule": {"percent_of_charge": "120"}},
        {"action": "pay", "provider_adjustments": [{"reason": "ZZ", "amount": "1"}]}])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert "/0" in pointers and "/1/fee_schedule/percent_of_charge" in pointers
    assert "/2/provider_adjustments/0/reason" in pointers
    assert (await clearinghouse.get("/v1/adjudication-rules")).json() == []


async def test_adjudication_settings_and_rules_come_from_the_environment(tmp_path, receiver):
    rules_file = tmp_path / "adjudication-rules.json"
    rules = [{"member_id_pattern": "^DENY", "action": "deny", "denial": {"carc": "50", "rarcs": ["N115"]}},
             {"action": "pay", "fee_schedule": {"percent_of_charge": "80", "coinsurance_percent": "20"}}]
    rules_file.write_text(json.dumps(rules), encoding="utf-8")
    settings = Settings.from_env({"CLEARINGHOUSE_ADJUDICATION_RULES_FILE": str(rules_file),
                                  "CLEARINGHOUSE_ADJUDICATION_DELAY_SECONDS": "0.25",
                                  "CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL": "http://127.0.0.1:9/v1/webhooks/clearinghouse"})
    assert (settings.adjudication_delay_seconds, settings.remittance_webhook_url) == (
        0.25, "http://127.0.0.1:9/v1/webhooks/clearinghouse")
    assert Settings.from_env({}).adjudication_delay_seconds == 0.5
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
            loaded = (await client.get("/v1/adjudication-rules")).json()
    assert [(rule["action"], rule.get("member_id_pattern")) for rule in loaded] == [("deny", "^DENY"), ("pay", None)]
    assert loaded[1]["fee_schedule"]["coinsurance_percent"] == "20"


async def test_the_rules_shipped_for_openrcm_run(remittance_receiver):
    # deploy/clearinghouse/adjudication-rules.json: DENY members denied CO-50/N115, the rest paid at
    # 80 % of the charge with 20 % coinsurance.
    repo_root = next(p for p in Path(__file__).resolve().parents if (p / "deploy" / "topics.toml").exists())
    settings = Settings(adjudication_rules_file=repo_root / "deploy" / "clearinghouse" / "adjudication-rules.json",
                        adjudication_delay_seconds=0.05)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
            batch_id = await submit(client, file_837(office_visit("PCN8001"), office_visit("PCN8002",
                                                                                            member_id="DENY8002")),
                                    "adjudication-default-rules-1")
            [record] = await remittances_of(client, batch_id, 1)  # no webhook URLs here: nothing delivered
    claims = claims_by_pcn([checked(record["x12"])])
    [paid], [denied] = claims["PCN8001"], claims["PCN8002"]
    assert line_money(paid) == [("99213", D(125), D(80), D(100), [("CO", "45", D(25)), ("PR", "2", D(20))],
                                 "PCN8001001")]
    assert (denied.status_code, line_money(denied)[0][4]) == ("4", [("CO", "50", D(125))])
    assert [r.code for r in denied.service_lines[0].remark_codes] == ["N115"]
    assert record["delivery"]["status"] == "held"  # its 277CA could not be delivered either
