"""The clearinghouse simulator end to end in process: 837 in, signed 999 and 277CA webhooks out.
Synthetic claims only (built with the project's own 837 generator)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from openrcm_shared.http.webhooks import WebhookVerificationError, verify
from openrcm_shared.x12.ack_999 import AcknowledgmentCode, parse_999
from openrcm_shared.x12.claim_837 import (
    ClaimBatch, InstitutionalClaim, InstitutionalServiceLine, Payer, ProfessionalClaim,
    ProfessionalServiceLine, Provider, Subscriber, build_837, envelope_counts,
)
from openrcm_shared.x12.claim_ack_277ca import ClaimStatus, parse_277ca
from openrcm_clearinghouse_sim.settings import DeliveryPolicy, Settings
from simulators.clearinghouse.tests.synthetic_parties import ACME, BLUE, CLINIC, HOME, HOSPITAL, RECEIVER, SUBMITTER
from tests.x12_validation import pyx12_errors

X12 = "application/edi-x12"
REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "deploy" / "topics.toml").exists())
SAMPLES = REPO_ROOT.parent / "shared" / "x12-samples" / "imsweb"
WEBHOOK_SECRET = "whsec_c2ltdWxhdG9yLXRlc3Qtc2VjcmV0LWtleS0wMQ=="
ROTATED_SECRET = "whsec_bmV4dC1zZWNyZXQtZHVyaW5nLXJvdGF0aW9uLTAy"
REJECT_ACME_REJ_MEMBERS = {"payer_id": "60054", "member_id_pattern": "^REJ", "category": "A7", "status": "562",
                           "entity": "85"}


def professional(pcn: str, member_id: str = "W123456789", payer: Payer = ACME, charge: str = "125.00") -> ProfessionalClaim:
    return ProfessionalClaim(
        billing_provider=CLINIC, payer=payer, patient_control_number=pcn, total_charge=Decimal(charge),
        subscriber=Subscriber(member_id=member_id, last_name="DOE", first_name="JANE", birth_date=date(1980, 5, 17),
                              gender="F", address=HOME),
        place_of_service="11", diagnosis_codes=("E11.9",),
        lines=(ProfessionalServiceLine(procedure_code="99213", charge=Decimal(charge), service_date=date(2026, 2, 20),
                                       line_control_number=f"{pcn}-1"),))


def institutional(pcn: str) -> InstitutionalClaim:
    return InstitutionalClaim(
        billing_provider=HOSPITAL, payer=ACME, patient_control_number=pcn, total_charge=Decimal("892.75"),
        subscriber=Subscriber(member_id="H987654321", last_name="ROE", first_name="RICHARD",
                              birth_date=date(1975, 1, 2), gender="M", address=HOME),
        type_of_bill="0131", statement_from=date(2026, 2, 20), statement_to=date(2026, 2, 21),
        principal_diagnosis="R07.9", patient_status_code="01", admission_type_code="1", admission_source_code="7",
        reason_for_visit=("R07.9",),
        attending_provider=Provider(npi="1333333338", last_name="HOUSE", first_name="GREGORY"),
        lines=(InstitutionalServiceLine(revenue_code="0450", procedure_code="99284", charge=Decimal("850"),
                                        service_date=date(2026, 2, 20)),
               InstitutionalServiceLine(revenue_code="0300", procedure_code="85025", charge=Decimal("42.75"),
                                        service_date=date(2026, 2, 21))))


def file_837(*claims, icn: int = 1, claims_per_transaction: int = 5000) -> str:
    batch = ClaimBatch(submitter=SUBMITTER, receiver=RECEIVER, claims=tuple(claims))
    groups, sets = envelope_counts(batch, max_claims_per_transaction=claims_per_transaction)
    return build_837(batch, interchange_control_number=icn, group_control_numbers=list(range(101, 101 + groups)),
                     transaction_set_control_numbers=list(range(1, 1 + sets)), created_at=datetime(2026, 3, 2, 9, 30),
                     usage_indicator="T", max_claims_per_transaction=claims_per_transaction)


async def submit(client: httpx.AsyncClient, x12: str, key: str) -> httpx.Response:
    return await client.post("/v1/batches", content=x12.encode(), headers={"Content-Type": X12, "Idempotency-Key": key})


async def settled_batch(client: httpx.AsyncClient, batch_id: str) -> dict:
    """The batch once acknowledged and every document's delivery is final."""
    view: dict = {}

    async def refresh() -> None:
        nonlocal view
        view = (await client.get(f"/v1/batches/{batch_id}")).json()

    async def settled() -> bool:
        await refresh()
        return view["status"] in ("acknowledged", "failed") and all(
            d["status"] in ("delivered", "failed", "held") for d in view["deliveries"])

    deadline = asyncio.get_running_loop().time() + 30
    while not await settled():
        assert asyncio.get_running_loop().time() < deadline, f"batch {batch_id} did not settle: {view}"
        await asyncio.sleep(0.05)
    return view


# --------------------------------------------------------------------------------------------------


async def test_accepted_batch_gets_an_accepting_999_then_a_277ca_accepting_every_claim(clearinghouse, receiver):
    x12 = file_837(professional("PCN0001"), professional("PCN0002", payer=BLUE, charge="80.10"), institutional("INST0001"))
    response = await submit(clearinghouse, x12, "submission-accepted-1")
    assert response.status_code == 202
    batch_id = response.json()["batch_id"]
    assert response.headers["location"] == f"/v1/batches/{batch_id}"

    view = await settled_batch(clearinghouse, batch_id)
    assert [d["status"] for d in view["deliveries"]] == ["delivered", "delivered"]
    assert [d.transaction_set_id for d in receiver.accepted] == ["999", "277"]  # the 999 first

    [ack] = parse_999(receiver.accepted[0].body.decode())
    assert [g.status for g in ack.groups] == [AcknowledgmentCode.ACCEPTED, AcknowledgmentCode.ACCEPTED]  # 837P, 837I
    assert {n: ts.status for n, ts in ack.by_control_number().items()} == {
        "0001": AcknowledgmentCode.ACCEPTED, "0002": AcknowledgmentCode.ACCEPTED}
    assert all(ts.segment_errors == () for ts in ack.transaction_sets)
    assert "IK5*A~" in receiver.accepted[0].body.decode() and "AK9*A*1*1*1~" in receiver.accepted[0].body.decode()

    reports = parse_277ca(receiver.accepted[1].body.decode())
    claims = {c.patient_control_number: c for r in reports for c in r.claims}
    assert set(claims) == {"PCN0001", "PCN0002", "INST0001"}
    assert all(c.accepted and c.statuses[0].status == ClaimStatus("A2", "20") for c in claims.values())
    assert all(c.payer_claim_control_number for c in claims.values())
    assert len({c.payer_claim_control_number for c in claims.values()}) == 3
    assert claims["PCN0002"].total_charge == Decimal("80.10")
    assert (claims["INST0001"].bill_type, claims["INST0001"].service_date_from, claims["INST0001"].service_date_to) == (
        "131", date(2026, 2, 20), date(2026, 2, 21))
    assert {r.batch_trace_number for r in reports} == {"0000000010001", "0000000010002"}  # the 837s' BHT03
    assert view["claim_acknowledgement_277ca"] == receiver.accepted[1].body.decode()
    for delivery in receiver.accepted:  # what the simulator writes is itself IG-clean
        assert pyx12_errors(delivery.body.decode()) == []
    assert {c["patient_control_number"]: c["status"] for c in view["claims"]} == {
        "PCN0001": "accepted", "PCN0002": "accepted", "INST0001": "accepted"}


async def test_file_pyx12_rejects_gets_a_rejecting_999_with_errors_and_no_277ca(clearinghouse, receiver):
    # NM108 of the payer (2010BB) set to a code the TR3 does not allow.
    x12 = file_837(professional("PCN0100")).replace("NM1*PR*2*ACME HEALTH PLAN*****PI*60054~",
                                                    "NM1*PR*2*ACME HEALTH PLAN*****ZZ*60054~")
    response = await submit(clearinghouse, x12, "submission-broken-1")
    view = await settled_batch(clearinghouse, response.json()["batch_id"])

    assert [d["kind"] for d in view["deliveries"]] == ["999"]
    assert view["claim_acknowledgement_277ca"] is None
    assert [d.transaction_set_id for d in receiver.accepted] == ["999"]
    body = receiver.accepted[0].body.decode()
    [ack] = parse_999(body)
    rejected = ack.by_control_number()["0001"]
    assert rejected.status is AcknowledgmentCode.REJECTED
    assert "5" in rejected.error_codes
    payer_position = x12.split("~").index("NM1*PR*2*ACME HEALTH PLAN*****ZZ*60054") - 2 + 1  # ISA, GS before ST=1
    [segment_error] = rejected.segment_errors
    assert (segment_error.segment_id, segment_error.position, segment_error.loop_id, segment_error.error_code) == (
        "NM1", payer_position, "2010", "8")
    assert [(e.position, e.error_code, e.bad_value) for e in segment_error.element_errors] == [(8, "7", "ZZ")]
    assert "IK5*R*5~" in body and "AK9*R*1*1*0~" in body
    assert pyx12_errors(body) == []
    assert view["claims"] == [{"patient_control_number": "PCN0100", "transaction_set_control_number": "0001",
                               "status": "not_acknowledged", "claim_status": None,
                               "payer_claim_control_number": None, "clearinghouse_trace_number": None}]


async def test_sample_with_a_wrong_se_count_and_missing_segments_still_gets_its_999(clearinghouse, receiver):
    # imsweb x12_segment_errors.txt: SE01 says 25 (there are 23), billing provider N3 missing, a second
    # 2010AA REF, the claim's HI missing. The project's reader refuses the envelope; the simulator
    # re-reads it tolerantly and answers what pyx12 found, addressed back to the sender.
    x12 = (SAMPLES / "837_5010" / "x12_segment_errors.txt").read_text(encoding="ascii")
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, x12, "sample-segment-errors")).json()["batch_id"])

    assert view["claim_acknowledgement_277ca"] is None
    [body] = view["acknowledgements_999"]
    assert body.startswith("ISA*00*          *00*          *ZZ*RECEIVERS.ID   *ZZ*SUBMITTERS.ID  *")
    [ack] = parse_999(body)
    [group] = ack.groups
    assert (group.group_control_number, group.version, group.status) == ("1", "005010X222A1",
                                                                          AcknowledgmentCode.REJECTED)
    rejected = ack.by_control_number()["987654"]
    assert (rejected.status, rejected.error_codes) == (AcknowledgmentCode.REJECTED, ("4", "5"))
    assert [(e.segment_id, e.position, e.loop_id, e.error_code) for e in rejected.segment_errors] == [
        ("N3", 8, None, "3"), ("REF", 10, "2010", "5"), ("HI", 20, None, "3")]
    assert pyx12_errors(body) == []
    assert [d.transaction_set_id for d in receiver.accepted] == ["999"]


async def test_277ca_reports_only_the_claims_of_accepted_transaction_sets(clearinghouse, receiver):
    x12 = file_837(professional("PCN0201"), professional("PCN0202", payer=BLUE), claims_per_transaction=1)
    x12 = x12.replace("NM1*PR*2*BLUE SAMPLE INSURANCE*****PI*BSI01~", "NM1*PR*2*BLUE SAMPLE INSURANCE*****ZZ*BSI01~")
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, x12, "submission-mixed-1")).json()["batch_id"])

    [ack] = parse_999(view["acknowledgements_999"][0])
    assert ack.groups[0].status is AcknowledgmentCode.PARTIALLY_ACCEPTED
    assert {n: ts.status for n, ts in ack.by_control_number().items()} == {
        "0001": AcknowledgmentCode.ACCEPTED, "0002": AcknowledgmentCode.REJECTED}
    [report] = parse_277ca(view["claim_acknowledgement_277ca"])
    assert [c.patient_control_number for c in report.claims] == ["PCN0201"]
    assert [d.transaction_set_id for d in receiver.accepted] == ["999", "277"]


async def test_rejection_rule_rejects_only_the_matching_claim(clearinghouse, receiver):
    assert (await clearinghouse.put("/v1/rules", json=[REJECT_ACME_REJ_MEMBERS])).status_code == 200
    x12 = file_837(professional("PCN0301"), professional("PCN0302", member_id="REJ0001"),
                   professional("PCN0303", member_id="REJ0002", payer=BLUE))  # other payer: not caught
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, x12, "submission-rules-1")).json()["batch_id"])

    [report] = parse_277ca(receiver.accepted[1].body.decode())
    claims = report.by_patient_control_number()
    assert str(claims["PCN0302"].statuses[0].status) == "A7:562:85"
    assert claims["PCN0302"].statuses[0].action_code.value == "U"
    assert not claims["PCN0302"].accepted and claims["PCN0302"].payer_claim_control_number is None
    for pcn in ("PCN0301", "PCN0303"):
        assert str(claims[pcn].statuses[0].status) == "A2:20" and claims[pcn].payer_claim_control_number
    assert "STC*A7:562:85*" in view["claim_acknowledgement_277ca"]
    assert view["claim_acknowledgement_277ca"].count("STC*A7:562:85*") == 1
    assert pyx12_errors(view["claim_acknowledgement_277ca"]) == []
    [ack] = parse_999(receiver.accepted[0].body.decode())  # the rule is a 277CA matter: the 999 accepts
    assert ack.groups[0].status is AcknowledgmentCode.ACCEPTED


async def test_invalid_rules_are_refused(clearinghouse):
    response = await clearinghouse.put("/v1/rules", json=[{"payer_id": "60054", "category": "A2", "status": "20"}])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await clearinghouse.get("/v1/rules")).json() == []


async def test_resubmitting_with_the_same_key_returns_the_same_batch_and_sends_nothing_again(clearinghouse, receiver):
    x12 = file_837(professional("PCN0401"))
    first = await submit(clearinghouse, x12, "claims-batch-7f3a")
    await settled_batch(clearinghouse, first.json()["batch_id"])
    delivered = len(receiver.requests)

    again = await submit(clearinghouse, x12, "claims-batch-7f3a")
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    await asyncio.sleep(0.5)  # time enough for a (wrong) second processing to start delivering
    assert len(receiver.requests) == delivered == 2

    other_file = await submit(clearinghouse, file_837(professional("PCN0402")), "claims-batch-7f3a")
    assert other_file.status_code == 422


async def test_webhooks_are_signed_with_every_secret_and_carry_stable_ids(clearinghouse, receiver):
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, file_837(professional("PCN0501")),
                                                            "submission-signed-1")).json()["batch_id"])
    for delivery, expected in zip(receiver.accepted, view["deliveries"], strict=True):
        assert delivery.headers["content-type"] == X12
        assert verify([WEBHOOK_SECRET], delivery.headers, delivery.body).webhook_id == expected["webhook_id"]
        assert verify([ROTATED_SECRET], delivery.headers, delivery.body).webhook_id == expected["webhook_id"]
        assert len(delivery.headers["webhook-signature"].split()) == 2
        with pytest.raises(WebhookVerificationError):
            verify(["whsec_" + "d3Jvbmctc2VjcmV0LWtleS1mb3ItdGVzdHM="], delivery.headers, delivery.body)
        with pytest.raises(WebhookVerificationError):
            verify([WEBHOOK_SECRET], delivery.headers, delivery.body + b" ")
    assert [d["webhook_id"] for d in view["deliveries"]] == [f"{view['batch_id']}.999.1", f"{view['batch_id']}.277ca"]


async def test_receiver_failing_twice_gets_the_999_on_the_third_attempt_then_the_277ca(clearinghouse, receiver):
    receiver.failures_left = 2
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, file_837(professional("PCN0601")),
                                                            "submission-retry-1")).json()["batch_id"])
    assert [(d["kind"], d["status"], d["attempts"]) for d in view["deliveries"]] == [
        ("999", "delivered", 3), ("277CA", "delivered", 1)]
    assert [(r.transaction_set_id, r.answered) for r in receiver.requests] == [
        ("999", 503), ("999", 503), ("999", 200), ("277", 200)]
    assert len({r.headers["webhook-id"] for r in receiver.requests[:3]}) == 1  # same id on every attempt


@pytest.fixture
def settings(receiver, request) -> Settings:
    """Webhooks to the test receiver, signed with two secrets (rotation), fast bounded retries;
    a test can narrow the attempt budget with indirect parametrization."""
    attempts = getattr(request, "param", 5)
    return Settings(webhook_url=receiver.url, webhook_secrets=(WEBHOOK_SECRET, ROTATED_SECRET),
                    delivery=DeliveryPolicy(max_attempts=attempts, base_delay_seconds=0.02, max_delay_seconds=0.1,
                                            max_elapsed_seconds=10, request_timeout_seconds=5))


@pytest.mark.parametrize("settings", [2], indirect=True)
async def test_undelivered_999_holds_its_277ca_until_redelivered(clearinghouse, receiver):
    receiver.failures_left = 2  # exactly the retry budget
    view = await settled_batch(clearinghouse, (await submit(clearinghouse, file_837(professional("PCN0701")),
                                                            "submission-held-1")).json()["batch_id"])
    assert [(d["kind"], d["status"]) for d in view["deliveries"]] == [("999", "failed"), ("277CA", "held")]
    assert [r.transaction_set_id for r in receiver.requests] == ["999", "999"]  # the 277CA never went out

    requeued = (await clearinghouse.post(f"/v1/batches/{view['batch_id']}/redeliver")).json()["requeued"]
    assert requeued == [f"{view['batch_id']}.999.1", f"{view['batch_id']}.277ca"]
    view = await settled_batch(clearinghouse, view["batch_id"])
    assert [d["status"] for d in view["deliveries"]] == ["delivered", "delivered"]
    assert [d.transaction_set_id for d in receiver.accepted] == ["999", "277"]


async def test_a_body_that_is_not_x12_or_lacks_a_key_is_refused(clearinghouse):
    not_x12 = await clearinghouse.post("/v1/batches", content=b"hello", headers={"Content-Type": X12,
                                                                                "Idempotency-Key": "k-1"})
    assert not_x12.status_code == 400
    no_key = await clearinghouse.post("/v1/batches", content=file_837(professional("P1")).encode(),
                                      headers={"Content-Type": X12})
    assert no_key.status_code == 400
    json_body = await clearinghouse.post("/v1/batches", json={"x": 1}, headers={"Idempotency-Key": "k-2"})
    assert json_body.status_code == 415
    assert (await clearinghouse.get("/v1/batches/unknown")).status_code == 404


async def test_health_endpoints(clearinghouse):
    assert (await clearinghouse.get("/livez")).json() == {"status": "ok"}
    ready = await clearinghouse.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"task:validation": "ok", "task:delivery": "ok"}


async def test_rules_come_from_the_rules_file_named_in_the_environment(tmp_path, receiver):
    from openrcm_clearinghouse_sim.main import create_app

    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps([REJECT_ACME_REJ_MEMBERS]), encoding="utf-8")
    settings = Settings.from_env({"CLEARINGHOUSE_RULES_FILE": str(rules_file), "CLEARINGHOUSE_WEBHOOK_URL": receiver.url,
                                  "CLEARINGHOUSE_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET}, {ROTATED_SECRET}"})
    assert settings.webhook_secrets == (WEBHOOK_SECRET, ROTATED_SECRET)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
            assert (await client.get("/v1/rules")).json() == [REJECT_ACME_REJ_MEMBERS]


# --- the benchmark-only "envelope" front end (CLEARINGHOUSE_FRONT_END_VALIDATOR) -------------------

def test_the_front_end_validator_is_pyx12_unless_the_environment_says_otherwise():
    assert Settings.from_env({}).front_end_validator == "pyx12"
    assert Settings.from_env({"CLEARINGHOUSE_FRONT_END_VALIDATOR": "envelope"}).front_end_validator == "envelope"
    with pytest.raises(ValueError):
        Settings.from_env({"CLEARINGHOUSE_FRONT_END_VALIDATOR": "none"})


async def envelope_clearinghouse(receiver):
    from openrcm_clearinghouse_sim.main import create_app

    settings = Settings(webhook_url=receiver.url, webhook_secrets=(WEBHOOK_SECRET,), front_end_validator="envelope",
                        delivery=DeliveryPolicy(max_attempts=3, base_delay_seconds=0.02, max_delay_seconds=0.1,
                                                max_elapsed_seconds=10, request_timeout_seconds=5))
    return create_app(settings)


async def test_envelope_front_end_accepts_a_clean_file_without_running_pyx12(receiver, monkeypatch):
    from openrcm_clearinghouse_sim import batches

    def no_pyx12(text):  # noqa: ANN001
        raise AssertionError("pyx12 ran on a file the strict reader had read")

    monkeypatch.setattr(batches, "validate_interchange", no_pyx12)
    app = await envelope_clearinghouse(receiver)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
            x12 = file_837(professional("PCN0901"), professional("PCN0902", payer=BLUE), claims_per_transaction=1)
            view = await settled_batch(client, (await submit(client, x12, "envelope-clean")).json()["batch_id"])
    [ack] = parse_999(view["acknowledgements_999"][0])
    assert {n: ts.status for n, ts in ack.by_control_number().items()} == {
        "0001": AcknowledgmentCode.ACCEPTED, "0002": AcknowledgmentCode.ACCEPTED}
    claims = {c.patient_control_number: c for r in parse_277ca(view["claim_acknowledgement_277ca"]) for c in r.claims}
    assert set(claims) == {"PCN0901", "PCN0902"} and all(c.accepted for c in claims.values())
    assert pyx12_errors(view["acknowledgements_999"][0]) == []


async def test_envelope_front_end_still_sends_a_file_the_reader_refuses_to_pyx12(receiver):
    # The same sample as above (wrong SE01, missing segments): the 999 is pyx12's, as by default.
    x12 = (SAMPLES / "837_5010" / "x12_segment_errors.txt").read_text(encoding="ascii")
    app = await envelope_clearinghouse(receiver)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
            view = await settled_batch(client, (await submit(client, x12, "envelope-broken")).json()["batch_id"])
    [ack] = parse_999(view["acknowledgements_999"][0])
    rejected = ack.by_control_number()["987654"]
    assert (rejected.status, rejected.error_codes) == (AcknowledgmentCode.REJECTED, ("4", "5"))
    assert view["claim_acknowledgement_277ca"] is None
