"""Eligibility end to end: coverages registered with claims reach the eligibility service by event;
270s go to the clearinghouse simulator, whose payers answer by member-id rules (see
simulators/clearinghouse/.../eligibility.py); 271s are normalized, cached, retried, uploaded and
batched, on the real stack."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import pytest

from tests.support import BILLING_NPI, eventually

pytestmark = pytest.mark.stack
X12 = {"content-type": "application/edi-x12"}
SERVICE_DATE = (date.today() + timedelta(days=1)).isoformat()


async def registered_coverage(api, member_prefix: str = "M", *, dependent: bool = False) -> tuple[str, str, str]:
    """(patient id, coverage id, member id), once the eligibility service knows the coverage."""
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    member_id = f"{member_prefix}{uuid.uuid4().hex[:8].upper()}"
    response = await api["claims"].put(f"/v1/patients/{patient_id}", json={
        "first_name": "Testy", "last_name": "Synthetic", "birth_date": "2015-04-12", "gender": "F"})
    assert response.status_code == 200, response.text
    coverage = {"payer_id": "60054", "member_id": member_id, "effective_from": "2020-01-01"}
    if dependent:
        coverage |= {"relationship_to_subscriber": "19", "subscriber": {
            "first_name": "Parent", "last_name": "Synthetic", "birth_date": "1980-01-02", "gender": "M"}}
    coverage_id = f"COV-{uuid.uuid4().hex[:8]}"
    response = await api["claims"].put(f"/v1/patients/{patient_id}/coverages/{coverage_id}", json=coverage)
    assert response.status_code == 200, response.text

    async def known():
        history = await api["eligibility"].get(f"/v1/coverages/{coverage_id}/eligibility")
        assert history.status_code == 200, history.text
        return True
    await eventually(known)
    return patient_id, coverage_id, member_id


def without_trace_numbers(x12: str) -> str:
    """The 271 with its TRN segments taken out (SE01 counted again)."""
    segments = [s for s in x12.split("~") if s.strip()]
    kept = [s for s in segments if not s.startswith("TRN*")]
    removed = len(segments) - len(kept)

    def recount(segment: str) -> str:
        if not segment.startswith("SE*"):
            return segment
        _, count, control = segment.split("*")
        return f"SE*{int(count) - removed}*{control}"
    return "~".join(recount(s) for s in kept) + "~"


def check_body(coverage_id: str, **changes) -> dict:
    return {"coverage_id": coverage_id, "service_date": SERVICE_DATE, "service_types": ["30", "98"],
            "provider_npi": BILLING_NPI, "provider_name": "Synthetic Family Clinic", **changes}


async def check_answered(api, body: dict) -> dict:
    """A check's answer, in the response or (on a machine too busy for the real-time timeout) later."""
    response = await api["eligibility"].post("/v1/eligibility-checks", json=body)
    assert response.status_code in (200, 202), response.text
    return response.json() if response.status_code == 200 else await answered(api, response.json()["id"])


async def answered(api, check_id: str, timeout: float = 60.0) -> dict:
    async def done():
        body = (await api["eligibility"].get(f"/v1/eligibility-checks/{check_id}")).json()
        assert body["status"] != "pending", body
        return body
    return await eventually(done, timeout=timeout)


async def test_real_time_check_answers_with_the_normalized_benefits_and_is_cached(api):
    patient_id, coverage_id, member_id = await registered_coverage(api)
    response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))
    assert response.status_code == 200, response.text
    check = response.json()
    assert (check["status"], check["cached"], check["patient_id"], check["member_id"]) == \
        ("active", False, patient_id, member_id)
    office = check["result"]["summary"]["98"]
    assert (office["copay"]["in"], office["coinsurance_percent"]["in"], office["deductible_remaining"]["in"]) == \
        ("25.00", "20", "400.00")
    assert check["copay_amount"] == "25.00" and check["deductible_remaining"] == "400.00"
    assert check["result"]["plan"]["name"] == "SIMULATED PPO"

    raw = (await api["eligibility"].get(f"/v1/eligibility-checks/{check['id']}", params={"include_x12": "true"})).json()
    assert "ST*270*" in raw["request_x12"] and f"MI*{member_id}" in raw["request_x12"]
    assert "ST*271*" in raw["response_x12"] and f"TRN*2*{check['id'].replace('-', '')}" in raw["response_x12"]

    again = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))
    assert again.status_code == 200 and again.json()["id"] == check["id"] and again.json()["cached"] is True
    fresh = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id, use_cache=False))
    assert fresh.status_code == 200 and fresh.json()["id"] != check["id"]

    history = (await api["eligibility"].get(f"/v1/coverages/{coverage_id}/eligibility")).json()
    assert history["latest"]["id"] == fresh.json()["id"] and len(history["history"]) == 2


async def test_dependent_inactive_and_registration_errors(api):
    _, coverage_id, _ = await registered_coverage(api, dependent=True)
    dependent = await check_answered(api, check_body(coverage_id))
    assert dependent["result"]["member"]["is_dependent"] is True
    assert dependent["result"]["member"]["first_name"] == "Testy"

    _, coverage_id, _ = await registered_coverage(api, "INA")
    inactive = await check_answered(api, check_body(coverage_id))
    assert inactive["status"] == "inactive" and inactive["coverage_active"] is False

    _, coverage_id, _ = await registered_coverage(api, "BAD")
    bad = await check_answered(api, check_body(coverage_id))
    [error] = bad["result"]["errors"]
    # Final at once: an invalid member id is not asked again.
    assert (bad["status"], bad["last_error"], error["code"], error["retryable"]) == ("error", None, "72", False)
    assert "member id" in error["human_action"]


@pytest.mark.parametrize("member_prefix", ["BSY", "DWN", "SLW"])
async def test_payer_that_does_not_answer_in_time_gets_a_202_then_the_result(api, member_prefix):
    _, coverage_id, _ = await registered_coverage(api, member_prefix)
    response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/eligibility-checks/{response.json()['id']}"
    final = await answered(api, response.json()["id"])
    assert final["status"] == "active", final
    assert final["attempts"] == (3 if member_prefix in ("BSY", "DWN") else 2)


async def test_unknown_coverage_is_a_404_naming_the_field(api):
    response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body("NO-SUCH-COVERAGE"))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "/coverage_id"
    assert (await api["eligibility"].get("/v1/coverages/NO-SUCH-COVERAGE/eligibility")).status_code == 404


async def test_uploaded_271s_match_by_trace_or_member_and_unmatched_are_kept(api):
    _, coverage_id, member_id = await registered_coverage(api)
    check = await check_answered(api, check_body(coverage_id))
    raw = (await api["eligibility"].get(f"/v1/eligibility-checks/{check['id']}",
                                        params={"include_x12": "true"})).json()["response_x12"]
    by_trace = await api["eligibility"].post("/v1/eligibility-responses", content=raw, headers=X12)
    assert by_trace.status_code == 200, by_trace.text
    [result] = by_trace.json()["results"]
    assert (result["matched_by"], result["coverage_id"], result["status"]) == ("trace_number", coverage_id, "active")

    no_trace = without_trace_numbers(raw)
    by_member = (await api["eligibility"].post("/v1/eligibility-responses", content=no_trace, headers=X12)).json()
    assert by_member["results"][0]["matched_by"] == "member_and_payer"

    stranger = raw.replace(member_id, "ZZSTRANGER1").replace(check["id"].replace("-", ""), "NOT-OURS")
    unmatched = (await api["eligibility"].post("/v1/eligibility-responses", content=stranger, headers=X12)).json()
    [kept] = unmatched["results"]
    assert (kept["matched_by"], kept["coverage_id"], kept["status"]) == ("none", None, "active")
    stored = (await api["eligibility"].get(f"/v1/eligibility-checks/{kept['check_id']}")).json()
    assert stored["origin"] == "upload" and stored["result"]["summary"]["98"]["copay"]["in"] == "25.00"

    broken = raw.replace("EB*C*IND*30***23*1500", "EB*C*IND*30***23*15X0")
    refused = await api["eligibility"].post("/v1/eligibility-responses", content=broken, headers=X12)
    assert refused.status_code == 422 and "(EB), element EB07" in refused.json()["detail"]


async def test_batch_reports_progress_and_finishes(api, stack):
    registered = [await registered_coverage(api, prefix) for prefix in ("M", "M", "INA", "BAD", "BSY")]
    registered.append(await registered_coverage(api, "M", dependent=True))
    coverages = [coverage_id for _, coverage_id, _ in registered]
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        exchanges_before = (await clearinghouse.get("/v1/eligibility/stats")).json().get("60054", {})
        created = await api["eligibility"].post("/v1/eligibility-batches", json={
            "provider_npi": BILLING_NPI, "provider_name": "Synthetic Family Clinic",
            "items": [{"coverage_id": c, "service_date": SERVICE_DATE} for c in coverages]})
        assert created.status_code == 201, created.text
        batch_id = created.json()["id"]

        async def finished():
            body = (await api["eligibility"].get(f"/v1/eligibility-batches/{batch_id}")).json()
            assert body["finished_at"] is not None, body
            return body
        body = await eventually(finished, timeout=60)
        stats = (await clearinghouse.get("/v1/eligibility/stats")).json()["60054"]
    assert (body["done"], body["failed"], body["pending"]) == (5, 1, 0)
    assert body["counts"] == {"active": 4, "inactive": 1, "error": 1}
    # Queued together, the six went out in fewer exchanges than checks: a batch 270 and its 271.
    assert stats["answered"] - exchanges_before.get("answered", 0) >= 6 + 2  # BSY asked three times
    assert stats["exchanges"] - exchanges_before.get("exchanges", 0) < 6 + 2
    listed = (await api["eligibility"].get(f"/v1/eligibility-batches/{batch_id}?include_checks=true")).json()
    checks = {}
    for check_id in listed["check_ids"]:
        check = (await api["eligibility"].get(f"/v1/eligibility-checks/{check_id}?include_x12=true")).json()
        checks[check["coverage_id"]] = check
    for (_, coverage_id, member_id), other in zip(registered, [*registered[1:], registered[0]]):
        check = checks[coverage_id]
        # Each check keeps its own 270 and its own part of the batch 271, never another patient's.
        assert check["request_x12"].count("TRN*1*") == 1 and member_id in check["request_x12"]
        assert member_id in check["response_x12"] and other[2] not in check["response_x12"]
    busy = checks[registered[4][1]]
    assert busy["status"] == "active" and busy["attempts"] == 3
    assert checks[registered[5][1]]["result"]["member"]["is_dependent"] is True
    assert checks[registered[3][1]]["result"]["errors"][0]["code"] == "72"
    unknown = await api["eligibility"].post("/v1/eligibility-batches", json={
        "provider_npi": BILLING_NPI, "provider_name": "X", "items": [{"coverage_id": "NOPE", "service_date": SERVICE_DATE}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/items/0/coverage_id"


# --------------------------------------------------------------------------- claims acting on coverage


async def _patient_with_coverages(api, *members: tuple[str, str]) -> str:
    """A patient registered with one coverage per (payer id, member id), in that order of benefits."""
    from tests.e2e.claims_parties import ADDRESS, register_practice

    await register_practice(api["claims"], *{payer for payer, _ in members if payer != "60054"})
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    # With an address, a claim the eligibility rules release can go out: without one the 837
    # generator holds it ("address: missing") right after the release, which a test can catch.
    (await api["claims"].put(f"/v1/patients/{patient_id}", json={
        "first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12", "gender": "F",
        "address": ADDRESS})).raise_for_status()
    for order, (payer_id, member_id) in enumerate(members, start=1):
        (await api["claims"].put(f"/v1/patients/{patient_id}/coverages/C{order}", json={
            "payer_id": payer_id, "member_id": member_id, "order_of_benefits": order,
            "effective_from": (date.today() - timedelta(days=365)).isoformat()})).raise_for_status()
    return patient_id


async def _checked(api, patient_id: str, coverage_id: str, served: str) -> dict:
    async def known():
        response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(
            coverage_id, patient_id=patient_id, service_date=served, service_types=["30", "62"]))
        assert response.status_code in (200, 202), response.text  # 404 until the coverage has arrived
        return response.json()
    check = await eventually(known)
    return check if check["status"] != "pending" else await answered(api, check["id"])


async def test_claims_hold_a_claim_whose_coverage_was_inactive_and_one_needing_authorization(api):
    from tests.e2e.claims_parties import encounter_by_reference

    served = (date.today() - timedelta(days=5)).isoformat()
    inactive_patient = await _patient_with_coverages(api, ("60054", f"INA{uuid.uuid4().hex[:6].upper()}"))
    check = await _checked(api, inactive_patient, "C1", served)
    assert check["status"] == "inactive"

    async def held_for_inactive_coverage():
        claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(inactive_patient))).json()
        hits = [h for h in claim["scrub_hits"] if h["rule_id"] == "ELIG.COVERAGE_INACTIVE"]
        assert claim["status"] == "held" and hits, claim
        return hits
    hits = await eventually(held_for_inactive_coverage)
    assert check["id"] in hits[0]["message"]

    authorization_patient = await _patient_with_coverages(api, ("60054", f"AUT{uuid.uuid4().hex[:6].upper()}"))
    await _checked(api, authorization_patient, "C1", served)
    mri = [{"procedure_code": "70551", "charge_amount": "900.00", "service_date": served, "diagnosis_pointers": [1]}]

    async def held_for_authorization():
        claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(
            authorization_patient, lines=mri))).json()
        assert any(h["rule_id"] == "ELIG.PRIOR_AUTHORIZATION" for h in claim["scrub_hits"]), claim
        return claim
    await eventually(held_for_authorization)
    authorized = encounter_by_reference(authorization_patient, lines=mri) | {"prior_authorization": "AUTH-1"}
    claim = (await api["claims"].post("/v1/encounters", json=authorized)).json()
    assert not any(h["rule_id"].startswith("ELIG.") for h in claim["scrub_hits"]), claim


async def test_a_271_naming_another_payer_primary_reorders_the_patients_payers(api):
    served = (date.today() - timedelta(days=5)).isoformat()
    patient_id = await _patient_with_coverages(api, ("60054", f"OTH87726-{uuid.uuid4().hex[:4].upper()}"),
                                               ("87726", f"M{uuid.uuid4().hex[:6].upper()}"))
    check = await _checked(api, patient_id, "C1", served)
    assert check["result"]["other_payers"][0]["identifier"] == "87726"

    async def reordered():
        listed = (await api["claims"].get(f"/v1/patients/{patient_id}/coverages")).json()
        assert [(c["coverage_id"], c["payer_id"], c["order_of_benefits"]) for c in listed] == \
            [("C2", "87726", 1), ("C1", "60054", 2)], listed
        return listed
    await eventually(reordered)


SENT = ("submitted", "accepted_by_clearinghouse", "accepted_by_payer")


async def _raw_271(api, check_id: str) -> str:
    return (await api["eligibility"].get(f"/v1/eligibility-checks/{check_id}",
                                         params={"include_x12": "true"})).json()["response_x12"]


async def _uploaded(api, x12: str) -> dict:
    """The one result of uploading a 271 of one answer."""
    response = await api["eligibility"].post("/v1/eligibility-responses", content=x12, headers=X12)
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    return result


async def _answered_again(api, check_id: str, before: str, after: str) -> dict:
    """The payer's answer to a check, uploaded again with its plan-level EB changed (a late 271)."""
    raw = await _raw_271(api, check_id)
    assert before in raw, raw
    return await _uploaded(api, raw.replace(before, after))


async def _claim(api, claim_id: str) -> dict:
    response = await api["claims"].get(f"/v1/claims/{claim_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_later_active_answer_releases_a_claim_held_for_inactive_coverage(api):
    from tests.e2e.claims_parties import encounter_by_reference

    served = (date.today() - timedelta(days=5)).isoformat()
    patient_id = await _patient_with_coverages(api, ("60054", f"INA{uuid.uuid4().hex[:6].upper()}"))
    check = await _checked(api, patient_id, "C1", served)
    assert check["status"] == "inactive"

    async def held():
        claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id))).json()
        assert claim["status"] == "held" and [h for h in claim["scrub_hits"]
                                              if h["rule_id"] == "ELIG.COVERAGE_INACTIVE"], claim
        return claim
    claim = await eventually(held)

    active = await _answered_again(api, check["id"], "EB*6**30", "EB*1**30")
    assert (active["status"], active["coverage_id"], active["matched_by"]) == ("active", "C1", "trace_number")

    async def released():
        body = await _claim(api, claim["id"])
        assert body["status"] != "held", body["status"]
        return body
    body = await eventually(released)
    rescrubbed = [h for h in body["history"] if h["kind"] == "scrubbed" and (h["from_status"], h["to_status"]) ==
                  ("held", "ready")]
    assert rescrubbed and rescrubbed[-1]["detail"]["version"] == 1, body["history"]
    assert "ELIG.COVERAGE_INACTIVE" not in rescrubbed[-1]["detail"]["rule_ids"]
    assert not [h for h in body["scrub_hits"] if h["severity"] == "block"], body["scrub_hits"]


async def test_a_late_inactive_answer_holds_a_claim_waiting_to_go_out(api):
    from tests.e2e.claims_parties import encounter_by_reference

    served = (date.today() - timedelta(days=5)).isoformat()
    patient_id = await _patient_with_coverages(api, ("60054", f"AUT{uuid.uuid4().hex[:6].upper()}"))
    check = await _checked(api, patient_id, "C1", served)
    mri = [{"procedure_code": "70551", "charge_amount": "900.00", "service_date": served, "diagnosis_pointers": [1]}]

    async def held_for_authorization():
        claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id,
                                                                                       lines=mri))).json()
        assert claim["status"] == "held" and any(h["rule_id"] == "ELIG.PRIOR_AUTHORIZATION"
                                                 for h in claim["scrub_hits"]), claim
        return claim
    claim = await eventually(held_for_authorization)

    inactive = await _answered_again(api, check["id"], "EB*1*IND*30*", "EB*6*IND*30*")
    assert inactive["status"] == "inactive"

    async def held_for_inactive_coverage():
        body = await _claim(api, claim["id"])
        hits = [h for h in body["scrub_hits"] if h["rule_id"] == "ELIG.COVERAGE_INACTIVE"]
        assert body["status"] == "held" and hits, body
        return body, hits
    body, hits = await eventually(held_for_inactive_coverage)
    assert inactive["check_id"] in hits[0]["message"]
    held = [h for h in body["history"] if h["kind"] == "scrubbed" and "ELIG.COVERAGE_INACTIVE" in h["detail"]["rule_ids"]]
    assert held and held[-1]["event_id"], body["history"]  # announced by ClaimHeld


async def test_a_late_inactive_answer_flags_a_claim_already_sent_as_likely_denied(api):
    from tests.e2e.claims_parties import encounter_by_reference, register_patient, register_practice

    served = (date.today() - timedelta(days=5)).isoformat()
    await register_practice(api["claims"])
    patient_id = await register_patient(api["claims"], "60054")  # with an address: the 837 can be written
    check = await _checked(api, patient_id, "C1", served)
    assert check["status"] == "active"
    claim = (await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id))).json()

    async def sent():
        body = await _claim(api, claim["id"])
        assert body["status"] in SENT, (body["status"], body["scrub_hits"], body["history"])
        return True
    await eventually(sent, timeout=60)

    inactive = await _answered_again(api, check["id"], "EB*1*IND*30*", "EB*6*IND*30*")

    async def denial_expected():
        body = await _claim(api, claim["id"])
        entries = [h for h in body["history"] if h["kind"] == "denial_expected"]
        assert entries, body["history"]
        return body, entries[-1]
    body, entry = await eventually(denial_expected)
    assert entry["detail"] == {"reason": "coverage_inactive", "eligibility_check_id": inactive["check_id"],
                               "service_date": served}
    assert entry["event_id"] and body["status"] in SENT  # announced, not recalled


async def test_a_large_uploaded_271_keeps_each_checks_own_271(api):
    from openrcm_shared.x12.eligibility_271 import parse_271

    _, coverage_id, member_id = await registered_coverage(api)
    check = await check_answered(api, check_body(coverage_id))
    raw = await _raw_271(api, check["id"])
    trace = check["id"].replace("-", "")
    # Many interchanges in one file, each with its own member, all with the same ST02.
    strangers = [raw.replace(member_id, f"ZZ{n:06d}").replace(trace, f"NOTOURS{n:06d}")
                 for n in range(3 * 64 * 1024 // len(raw) + 1)]
    text = raw + "".join(strangers)
    assert len(text) > 128 * 1024
    response = await api["eligibility"].post("/v1/eligibility-responses", content=text, headers=X12)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1 + len(strangers) and results[0]["matched_by"] == "trace_number"
    for result, member in ((results[0], member_id), (results[1], "ZZ000000"),
                           (results[-1], f"ZZ{len(strangers) - 1:06d}")):
        own = await _raw_271(api, result["check_id"])
        assert [answer.member_id for answer in parse_271(own)] == [member]
        assert len(own) <= len(raw)


# ------------------------------------------------------------------------------------------ estimates


async def test_estimate_from_benefits_and_the_payers_contracted_rates(api):
    schedule = ("procedure_code,modifier,allowed_amount,effective_from,effective_to\n"
                "70551,,600.00,2020-01-01,\n80053,,12.50,2020-01-01,\n")
    uploaded = await api["remittance"].put("/v1/fee-schedules/60054", content=schedule,
                                           headers={"Content-Type": "text/csv"})
    assert uploaded.status_code in (200, 201), uploaded.text
    _, coverage_id, _ = await registered_coverage(api)
    body = {"coverage_id": coverage_id, "service_date": SERVICE_DATE, "provider_npi": BILLING_NPI,
            "provider_name": "Synthetic Family Clinic",
            "services": [{"procedure_code": "70551"}, {"procedure_code": "99213", "charge_amount": "140.00"}]}

    async def priced():
        response = await api["eligibility"].post("/v1/estimates", json=body)
        assert response.status_code == 200, response.text
        estimate = response.json()
        assert estimate["lines"][0]["allowed_source"] == "fee_schedule", estimate  # the rates have arrived
        return estimate
    estimate = await eventually(priced)
    mri, visit = estimate["lines"]
    # The simulator's plan: 400 of the deductible left, then 20 % coinsurance; 25 copay for an office visit.
    assert (mri["allowed_amount"], mri["deductible"], mri["coinsurance"], mri["patient_responsibility"]) == \
        ("600.00", "400.00", "40.00", "440.00")
    assert (visit["allowed_source"], visit["copay"], visit["patient_responsibility"]) == ("charge", "25.00", "25.00")
    assert estimate["total_patient_responsibility"] == "465.00" and estimate["check_id"]

    unpriced = await api["eligibility"].post("/v1/estimates", json=body | {"services": [{"procedure_code": "99999"}]})
    assert unpriced.status_code == 422 and unpriced.json()["errors"][0]["pointer"] == "/services/0/charge_amount"


async def test_a_fee_schedule_of_20000_rows_reaches_estimates(api):
    payer_id = "39026"  # a payer of its own: the schedule replaces no other test's
    rows = "".join(f"{10000 + index},,{index % 500 + 1}.25,2020-01-01,\n" for index in range(20_000))
    uploaded = await api["remittance"].put(
        f"/v1/fee-schedules/{payer_id}", content="procedure_code,modifier,allowed_amount,effective_from,effective_to\n"
        + rows, headers={"Content-Type": "text/csv"})
    assert uploaded.status_code in (200, 201) and uploaded.json()["row_count"] == 20_000, uploaded.text
    patient_id = await _patient_with_coverages(api, (payer_id, f"M{uuid.uuid4().hex[:6].upper()}"))
    body = {"coverage_id": "C1", "patient_id": patient_id, "service_date": SERVICE_DATE,
            "provider_npi": BILLING_NPI, "provider_name": "Synthetic Family Clinic",
            "services": [{"procedure_code": "10007"}, {"procedure_code": "29999"}]}

    async def priced():
        response = await api["eligibility"].post("/v1/estimates", json=body)
        assert response.status_code == 200, response.text  # 404 until the coverage, 422 until the rates arrive
        estimate = response.json()
        assert [line["allowed_source"] for line in estimate["lines"]] == ["fee_schedule"] * 2, estimate
        return estimate
    estimate = await eventually(priced, timeout=120)
    # Row 7 (the first part) and row 19,999 (the last of ten parts).
    assert [line["allowed_amount"] for line in estimate["lines"]] == ["8.25", "500.25"]


async def test_self_pay_good_faith_estimate_pdf(api):
    from openrcm_shared.documents.pdf import pdf_text

    body = {"service_date": SERVICE_DATE, "provider_npi": BILLING_NPI, "provider_name": "Synthetic Family Clinic",
            "services": [{"procedure_code": "73721", "charge_amount": "1200.00", "description": "MRI knee",
                          "diagnosis_codes": ["M25.561"]}],
            "patient": {"first_name": "Testy", "last_name": "Synthetic", "birth_date": "1979-04-12"},
            "primary_service": "Knee MRI", "provider_tax_id": "123456789",
            "provider_address": "100 Main Street, Springfield IL", "provider_state": "IL"}
    as_json = await api["eligibility"].post("/v1/estimates", json=body)
    assert as_json.status_code == 200 and as_json.json()["total_patient_responsibility"] == "1200.00"
    pdf = await api["eligibility"].post("/v1/estimates", json=body, headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Good Faith Estimate" in text and "M25.561" in text and "$1,200.00" in text and "not a contract" in text
    incomplete = await api["eligibility"].post("/v1/estimates", json={k: v for k, v in body.items() if k != "patient"},
                                               headers={"Accept": "application/pdf"})
    assert incomplete.status_code == 422 and incomplete.json()["errors"][0]["pointer"] == "/patient"


async def test_a_claim_denied_for_eligibility_makes_the_next_check_ask_the_payer_again(api, stack, tenant):
    from openrcm_shared.contracts.remittance import ClaimDenied, DeniedItem
    from tests.e2e.claims_parties import publish

    patient_id, coverage_id, _ = await registered_coverage(api)
    first = await check_answered(api, check_body(coverage_id))
    cached = (await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))).json()
    assert cached["id"] == first["id"] and cached["cached"] is True
    # CARC 27: expenses incurred after coverage terminated.
    await publish(stack, ClaimDenied(
        tenant_id=tenant, claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), patient_id=patient_id, payer_id="60054",
        patient_control_number="PCN1", denied_amount="125.00",
        denials=[DeniedItem(group_code="CO", carc="27", amount="125.00")]))

    async def asked_again():
        response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))
        assert response.json()["id"] != first["id"] and response.json()["cached"] is False, response.text
        return True
    await eventually(asked_again)


async def test_a_registration_a_270_cannot_carry_is_a_422_not_a_500(api):
    patient_id, coverage_id, _ = await registered_coverage(api)
    renamed = await api["claims"].put(f"/v1/patients/{patient_id}", json={
        "first_name": "Testy", "last_name": "O*Synthetic", "birth_date": "2015-04-12", "gender": "F"})
    assert renamed.status_code == 200, renamed.text

    async def refused():
        response = await api["eligibility"].post("/v1/eligibility-checks", json=check_body(coverage_id))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/coverage_id" and "Synthetic" not in response.text
        return True
    await eventually(refused)
