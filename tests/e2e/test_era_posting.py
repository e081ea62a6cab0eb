"""835 ERAs posted on the real stack: upload forms, duplicates, holds, the review queue, reversals,
provider adjustments and the ledger. Every amount is checked by hand in the comments."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from openrcm_shared.http.webhooks import signed_headers
from tests.era import Era, Svc
from tests.support import encounter, eventually

pytestmark = pytest.mark.stack

X12 = {"Content-Type": "application/edi-x12"}
# The decision used below (claim: 99213-25 125.00, 36415 15.50):
#   line 1: 125.00 - CO45 25.00 - PR2 20.00 = 80.00 paid, allowed 100.00
#   line 2: 15.50 - CO97 15.50 = 0.00 (denied, M15)
#   claim paid 80.00, patient 20.00, denied 15.50
PARTIAL = [Svc("99213", "125.00", "80.00", [("CO", "45", "25.00"), ("PR", "2", "20.00")], line=1, modifiers=("25",),
               allowed="100.00"),
           Svc("36415", "15.50", "0.00", [("CO", "97", "15.50")], line=2, rarcs=("M15",))]


def trace() -> str:
    return "EFT" + uuid.uuid4().hex[:12].upper()


async def billed_claim(api) -> dict:
    """A claim submitted through the claims service and known to the remittance service."""
    patient_id = f"PAT-{uuid.uuid4().hex[:8]}"
    claim = (await api["claims"].post("/v1/encounters", json=encounter(patient_id=patient_id))).json()
    claim["patient_id"] = patient_id

    async def known():
        return (await api["remittance"].get(f"/v1/billed-claims/{claim['id']}")).status_code == 200
    await eventually(known, timeout=45)
    return claim


async def claim_held_by_the_scrubber(api) -> tuple[dict, dict]:
    """A claim the scrubber holds (no billing address), so the remittance service does not know it
    yet; and the encounter it came from."""
    body = encounter()
    del body["billing_provider"]["address"]
    claim = (await api["claims"].post("/v1/encounters", json=body)).json()
    assert claim["status"] == "held"
    return claim, body


async def correct_and_submit(api, claim: dict, body: dict) -> None:
    corrected = await api["claims"].put(f"/v1/claims/{claim['id']}/encounter", json=encounter() | {
        "encounter_id": body["encounter_id"], "patient": body["patient"], "coverage": body["coverage"]})
    assert corrected.status_code == 200, corrected.text


async def upload(api, era: Era, **kwargs) -> httpx.Response:
    return await api["remittance"].post("/v1/remittances", content=era.x12(**kwargs).encode(), headers=X12)


async def test_an_era_posts_line_by_line_to_the_ledger_and_moves_the_claim(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    text = era.x12().encode()
    response = await api["remittance"].post("/v1/remittances", content=text, headers=X12)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["sha256"]) == 64 and body["status"] == "processed"
    [transaction] = body["transactions"]
    assert (transaction["status"], transaction["payment_amount"], transaction["claim_count"]) == ("posted", "80.00", 1)

    remittance = (await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")).json()
    [posted] = remittance["claims"]
    assert (posted["outcome"], posted["paid_amount"], posted["allowed_amount"], posted["patient_responsibility_amount"],
            posted["denied_amount"], posted["claim_status_code"]) == (
        "partially_paid", "80.00", "100.00", "20.00", "15.50", "1")

    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    assert ledger["balances"] == {"insurance_receivable": "-140.50", "payer_payment": "80.00",
                                  "contractual_adjustment": "40.50", "patient_responsibility": "20.00"}
    assert sum(Decimal(e["amount"]) for e in ledger["entries"]) == 0
    by_line = {(e["line_number"], e["account"]): e["amount"] for e in ledger["entries"]}
    assert by_line[(2, "contractual_adjustment")] == "15.50"

    async def claim_moved():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert body["status"] == "partially_paid", body["status"]
        return body
    await eventually(claim_moved)

    async def denial_case_opened():
        cases = (await api["denials"].get("/v1/denials")).json()["items"]
        assert [c["claim_id"] for c in cases] == [claim["id"]], cases
        return cases
    await eventually(denial_case_opened)

    raw = await api["remittance"].get(f"/v1/remittance-files/{body['id']}/content")
    assert raw.content == text


async def test_the_same_file_or_the_same_payment_again_posts_nothing(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    text = era.x12(control=700000001).encode()
    first = await api["remittance"].post("/v1/remittances", content=text, headers=X12)
    assert first.status_code == 201, first.text
    again = await api["remittance"].post("/v1/remittances", content=text, headers=X12)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["duplicate_of"] == first.json()["id"]

    # The same payment (payer + trace + amount) inside another file, with other envelope numbers.
    other_file = await upload(api, era, control=700000002)
    assert other_file.status_code == 200, other_file.text
    [transaction] = other_file.json()["transactions"]
    assert transaction["status"] == "duplicate"
    assert transaction["duplicate_of"] == first.json()["transactions"][0]["remittance_id"]
    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    assert len(ledger["payments"]) == 1


async def test_an_unbalanced_era_is_held_with_its_differences_and_posts_nothing(api):
    claim = await billed_claim(api)
    era = Era(trace=trace(), payment="79.00")  # the claims pay 80.00
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    response = await upload(api, era)
    assert response.status_code == 202, response.text
    [transaction] = response.json()["transactions"]
    assert transaction["status"] == "held"
    assert transaction["differences"] == [{
        "level": "transaction", "where": "transaction", "expected": "80.00", "actual": "79.00",
        "difference": "-1.00", "patient_control_number": None, "claim_index": None, "line_index": None,
        "segment_number": None}]
    assert (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).status_code == 404
    held = (await api["remittance"].get("/v1/remittances", params={"status": "held"})).json()["items"]
    assert [r["id"] for r in held] == [transaction["remittance_id"]]


async def test_malformed_x12_is_refused_naming_the_segment_and_kept(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    broken = era.x12().replace("CLP*", "CLP*", 1).replace("*80.00*20.00*12*", "*8O.00*20.00*12*", 1)
    response = await api["remittance"].post("/v1/remittances", content=broken.encode(), headers=X12)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == "rejected"
    assert body["error"]["segment_id"] == "CLP" and body["error"]["element_position"] == 4
    kept = await api["remittance"].get(f"/v1/remittance-files/{body['id']}/content")
    assert kept.content == broken.encode()


async def test_unmatched_line_waits_for_a_person_and_the_match_is_audited(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    # The payer dropped REF*6R and changed the 36415 charge: no billed line fits exactly.
    era.claim(claim["patient_control_number"], lines=[
        PARTIAL[0], Svc("36415", "15.00", "0.00", [("CO", "97", "15.00")])])
    response = await upload(api, era)
    assert response.status_code == 202, response.text
    [transaction] = response.json()["transactions"]
    assert transaction["reasons"] == ["1 unmatched line(s)"]
    items = (await api["remittance"].get("/v1/remittances/unmatched",
                                         params={"remittance_id": transaction["remittance_id"]})).json()["items"]
    [item] = items
    assert item["kind"] == "line" and item["line_sequence"] == 1
    assert item["candidates"][0]["line_number"] == 2
    assert item["candidates"][0]["claim_id"] == claim["id"]

    wrong = await api["remittance"].post(f"/v1/remittances/unmatched/{item['id']}/match",
                                         json={"claim_id": claim["id"], "reason": "x"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["pointer"] == "/line_number"
    matched = await api["remittance"].post(f"/v1/remittances/unmatched/{item['id']}/match", json={
        "claim_id": claim["id"], "line_number": 2, "reason": "payer repriced the venipuncture; same date and code"})
    assert matched.status_code == 200, matched.text
    result = matched.json()
    assert result["open_items_left"] == 0 and result["remittance"]["status"] == "posted"
    assert result["item"]["matched_by"] == "test-user" and result["item"]["matched_at"]  # the token's subject
    assert result["item"]["match_reason"].startswith("payer repriced")
    remittance = (await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")).json()
    assert remittance["status"] == "posted" and remittance["claims"][0]["paid_amount"] == "80.00"


async def test_unknown_claim_is_held_with_candidates_and_posts_after_a_manual_match(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    typo = claim["patient_control_number"][:-1] + ("X" if claim["patient_control_number"][-1] != "X" else "Y")
    billed_date = (date.today() - timedelta(days=5)).strftime("%Y%m%d")  # tests.support.encounter's date
    era.claim(typo, lines=[Svc(l.code, l.charge, l.paid, l.adjustments, None, l.modifiers, l.allowed, l.rarcs,
                               service_date=billed_date) for l in PARTIAL])
    response = await upload(api, era)
    assert response.status_code == 202, response.text
    [transaction] = response.json()["transactions"]
    [item] = (await api["remittance"].get("/v1/remittances/unmatched",
                                          params={"remittance_id": transaction["remittance_id"]})).json()["items"]
    assert item["kind"] == "claim" and item["patient_control_number"] == typo
    assert item["candidates"][0]["claim_id"] == claim["id"]
    assert set(item["candidates"][0]["agrees_on"]) >= {"patient_control_number", "charge"}
    matched = await api["remittance"].post(f"/v1/remittances/unmatched/{item['id']}/match", json={
        "claim_id": claim["id"], "reason": "payer keyed the PCN with a typo"})
    assert matched.status_code == 200, matched.text
    assert matched.json()["remittance"]["status"] == "posted"
    again = await api["remittance"].post(f"/v1/remittances/unmatched/{item['id']}/match", json={
        "claim_id": claim["id"], "reason": "again"})
    assert again.status_code == 409


async def test_reversal_and_correction_in_one_era(api):
    claim = await billed_claim(api)
    first = Era(trace=trace())
    first.claim(claim["patient_control_number"], lines=PARTIAL)
    assert (await upload(api, first)).status_code == 201
    # The payer takes its decision back (CLP02 22, every amount negated) and pays line 2 after all:
    #   reversal: -80.00;  correction: line 1 as before 80.00, line 2 15.50 - PR2 3.10 = 12.40 -> 92.40
    #   payment: -80.00 + 92.40 = 12.40
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], status="22", lines=[
        Svc("99213", "-125.00", "-80.00", [("CO", "45", "-25.00"), ("PR", "2", "-20.00")], line=1, modifiers=("25",)),
        Svc("36415", "-15.50", "0.00", [("CO", "97", "-15.50")], line=2)])
    era.claim(claim["patient_control_number"], lines=[
        PARTIAL[0], Svc("36415", "15.50", "12.40", [("PR", "2", "3.10")], line=2)])
    response = await upload(api, era)
    assert response.status_code == 201, response.text
    assert response.json()["transactions"][0]["payment_amount"] == "12.40"

    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    original, reversal, correction = ledger["payments"]
    assert reversal["reversal_of"] is not None and correction["reversal_of"] is None
    assert original["reversed_by"] is not None and reversal["claim_status_code"] == "22"
    # Net: paid 80.00 - 80.00 + 92.40 = 92.40; patient 20.00 - 20.00 + 23.10 = 23.10; CO 40.50 - 40.50 + 25.00
    assert ledger["balances"] == {"insurance_receivable": "-140.50", "payer_payment": "92.40",
                                  "contractual_adjustment": "25.00", "patient_responsibility": "23.10"}

    async def claim_paid():
        body = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
        assert body["status"] == "paid", (body["status"], [h["kind"] for h in body["history"]])
        return body
    await eventually(claim_paid)

    async def denial_case_closed_and_patient_share_corrected():
        cases = (await api["denials"].get("/v1/denials", params={"status": "closed_payer_reversed"})).json()["items"]
        assert [c["claim_id"] for c in cases] == [claim["id"]], cases
        account = (await api["collections"].get(f"/v1/accounts/{claim['patient_id']}")).json()
        assert account["balance"] == "23.10", account  # 20.00 - 20.00 + 23.10
        return True
    await eventually(denial_case_closed_and_patient_share_corrected)


async def test_reversal_of_a_payment_never_posted_is_held(api):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], status="22", lines=[
        Svc("99213", "-125.00", "-80.00", [("CO", "45", "-25.00"), ("PR", "2", "-20.00")], line=1, modifiers=("25",)),
        Svc("36415", "-15.50", "0.00", [("CO", "97", "-15.50")], line=2)])
    era.payment = "0.00"
    era.plb = [("WO", "-80.00", "RECOUP")]  # the payer does not take the money back in this payment
    response = await upload(api, era)
    assert response.status_code == 202, response.text
    assert response.json()["transactions"][0]["reasons"] == ["1 reversal(s) of unposted payments"]


async def test_provider_level_adjustments_and_crossover(api):
    claim = await billed_claim(api)
    # Paid 80.00 as primary and forwarded to the secondary (CLP02 19); PLB: L6 interest -2.15 (adds),
    # WO 10.00 recoupment (keeps): BPR02 = 80.00 - (-2.15 + 10.00) = 72.15
    era = Era(trace=trace(), plb=[("L6", "-2.15", None), ("WO", "10.00", "OLDICN1")])
    era.claim(claim["patient_control_number"], status="19", lines=PARTIAL, crossover=("SECONDARY PLAN", "99999"))
    response = await upload(api, era)
    assert response.status_code == 201, response.text
    [transaction] = response.json()["transactions"]
    assert transaction["payment_amount"] == "72.15"
    remittance = (await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")).json()
    assert remittance["provider_adjustment_amount"] == "7.85"
    assert remittance["claims"][0]["crossover_payer_name"] == "SECONDARY PLAN"
    assert remittance["claims"][0]["claim_status_code"] == "19"


async def test_many_files_in_one_multipart_upload(api):
    claims = [await billed_claim(api) for _ in range(2)]
    files = []
    for claim in claims:
        era = Era(trace=trace())
        era.claim(claim["patient_control_number"], lines=PARTIAL)
        files.append(("files", (f"{claim['id']}.835", era.x12().encode(), "application/edi-x12")))
    response = await api["remittance"].post("/v1/remittances", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["files"]
    assert [f["transactions"][0]["status"] for f in results] == ["posted", "posted"]
    assert [f["filename"] for f in results] == [f"{c['id']}.835" for c in claims]


async def test_era_by_clearinghouse_webhook(api, stack):
    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    body = era.x12().encode()
    webhook_id = f"msg_{uuid.uuid4().hex}"
    url = "/v1/webhooks/clearinghouse"
    async with httpx.AsyncClient(base_url=stack.services["remittance"].url) as clearinghouse:
        forged = await clearinghouse.post(url, content=body, headers={
            **X12, **signed_headers(["whsec_" + "A" * 44], webhook_id, body)})
        assert forged.status_code == 401
        signed = {**X12, **signed_headers([stack.webhook_secret()], webhook_id, body)}
        delivered = await clearinghouse.post(url, content=body, headers=signed)
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["transactions"][0]["status"] == "posted"
        redelivered = await clearinghouse.post(url, content=body, headers=signed)
        assert redelivered.status_code == 200 and redelivered.json()["duplicate"] is True
        garbage = b"not an 835"
        bad = await clearinghouse.post(url, content=garbage, headers={
            **X12, **signed_headers([stack.webhook_secret()], webhook_id + "-2", garbage)})
        assert bad.status_code == 400 and bad.json()["type"].endswith("/malformed-webhook")
    # The webhook named no practice: the claims in the ERA did.
    ledger = await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")
    assert ledger.status_code == 200 and ledger.json()["payments"][0]["paid_amount"] == "80.00"


async def test_keyed_eob_codes_must_be_in_the_x12_lists(api):
    from tests.support import post_when_known, remittance_for

    claim = await billed_claim(api)
    keyed = remittance_for(claim)
    keyed["claims"][0]["lines"][0]["adjustments"][0]["carc"] = "999"
    keyed["claims"][0]["lines"][1]["rarcs"] = ["N999"]
    response = await post_when_known(api["remittance"], "/v1/remittances", keyed)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/validation-error")
    assert sorted(e["pointer"] for e in response.json()["errors"]) == [
        "/claims/0/lines/0/adjustments/0/carc", "/claims/0/lines/1/rarcs/0"]

    code = (await api["remittance"].get("/v1/code-sets/carc/45")).json()
    assert code["description"].startswith("Charge exceeds fee schedule") and code["valid_today"]
    found = (await api["remittance"].get("/v1/code-sets/rarc", params={"search": "N130"})).json()["items"]
    assert [c["code"] for c in found] == ["N130"]
    assert (await api["remittance"].get("/v1/code-sets/carc/ZZ9")).status_code == 404


async def test_a_held_era_posted_again_concurrently_posts_once(api):
    import asyncio

    claim = await billed_claim(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=[PARTIAL[0], Svc("36415", "15.00", "0.00", [("CO", "97", "15.00")])])
    [transaction] = (await upload(api, era)).json()["transactions"]
    [item] = (await api["remittance"].get("/v1/remittances/unmatched",
                                          params={"remittance_id": transaction["remittance_id"]})).json()["items"]
    match = api["remittance"].post(f"/v1/remittances/unmatched/{item['id']}/match", json={
        "claim_id": claim["id"], "line_number": 2, "reason": "repriced"})
    again = [api["remittance"].post(f"/v1/remittances/{transaction['remittance_id']}/reprocess") for _ in range(3)]
    responses = await asyncio.gather(match, *again)
    assert responses[0].status_code == 200, responses[0].text
    assert all(r.status_code in (200, 409) for r in responses[1:]), [r.text for r in responses[1:]]
    ledger = (await api["remittance"].get(f"/v1/claims/{claim['id']}/ledger")).json()
    assert len(ledger["payments"]) == 1 and ledger["balances"]["payer_payment"] == "80.00"
    remittance = (await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")).json()
    assert remittance["status"] == "posted"


async def test_a_webhook_era_for_claims_nobody_knows_yet_is_attributed_once_they_are_known(api, stack):
    # The claim is held by the scrubber (no billing address), so the remittance service does not
    # know it when the payer's ERA arrives by webhook: no practice can be told, the ERA waits.
    claim, body = await claim_held_by_the_scrubber(api)
    era = Era(trace=trace())
    era.claim(claim["patient_control_number"], lines=PARTIAL)
    payload = era.x12().encode()
    async with httpx.AsyncClient(base_url=stack.services["remittance"].url) as clearinghouse:
        delivered = await clearinghouse.post("/v1/webhooks/clearinghouse", content=payload, headers={
            **X12, **signed_headers([stack.webhook_secret()], f"msg_{uuid.uuid4().hex}", payload)})
    [transaction] = delivered.json()["transactions"]
    assert transaction["status"] == "held"
    # No practice's token can look at it: `unassigned` is reserved.
    waiting = await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")
    assert waiting.status_code == 404

    await correct_and_submit(api, claim, body)

    async def attributed_and_posted():
        response = await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")
        assert response.status_code == 200 and response.json()["status"] == "posted", response.text
        return True
    await eventually(attributed_and_posted, timeout=60)
    mine = (await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")).json()
    assert mine["status"] == "posted" and mine["claims"][0]["claim_id"] == claim["id"]


async def test_an_era_held_for_a_claim_not_known_yet_posts_once_its_claim_is_known(api):
    # The payer's ERA pays two claims, but this service knows only one of them: the other's
    # ClaimSubmitted has not reached it (here: the scrubber held it until its encounter is
    # corrected; after an outage: the event stream still catching up). The ERA is held with one
    # unmatched claim, and posts by itself once the claim is known, without anyone matching it.
    known = await billed_claim(api)
    late, body = await claim_held_by_the_scrubber(api)
    era = Era(trace=trace())
    era.claim(known["patient_control_number"], lines=PARTIAL)
    era.claim(late["patient_control_number"], lines=PARTIAL)
    uploaded = await upload(api, era)
    assert uploaded.status_code == 202, uploaded.text
    [transaction] = uploaded.json()["transactions"]
    assert (transaction["status"], transaction["unmatched_count"]) == ("held", 1)

    await correct_and_submit(api, late, body)

    async def posted():
        response = await api["remittance"].get(f"/v1/remittances/{transaction['remittance_id']}")
        assert response.json()["status"] == "posted", response.json()["status"]
        return response.json()
    remittance = await eventually(posted, timeout=60)
    assert sorted(c["claim_id"] for c in remittance["claims"]) == sorted([known["id"], late["id"]])
    assert all(c["paid_amount"] == "80.00" for c in remittance["claims"])
    open_items = (await api["remittance"].get("/v1/remittances/unmatched",
                                              params={"remittance_id": transaction["remittance_id"]})).json()["items"]
    assert open_items == []
