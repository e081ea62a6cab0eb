"""Working a denial on the real stack: the simulated payer denies a claim, the denials service opens a
case, a biller appeals with a letter (read back from the PDF) and attachments, the appeal goes to the
payer through the clearinghouse, the payer overturns it, its 835 pays, and the case closes `won` with
the amount recovered. And the other way out: a corrected claim (frequency 7) that the payer pays."""

from __future__ import annotations

import io
import json
import uuid
from datetime import date, timedelta
from decimal import Decimal as D

import httpx
import pytest
from PIL import Image

from openrcm_devstack import events as ops_events
from openrcm_shared.contracts.remittance import ClaimDenied, ClaimPaymentPosted, ClaimReversed, DeniedItem
from openrcm_shared.documents.pdf import Document, Paragraph, page_count, pdf_text, render_pdf
from tests.e2e.claims_parties import publish
from tests.e2e.test_adjudication_round_trip import member_id, payer_rules, submit
from conftest import auth_headers
from tests.support import claim_in, encounter, eventually

pytestmark = pytest.mark.stack

STATUS_CHANGED = "org.openrcm.denials.denial_case_status_changed.v1"


async def denial_case_of(api, claim_id: str) -> dict:
    async def opened():
        items = (await api["denials"].get("/v1/denials", params={"status": "open"})).json()["items"]
        found = [item for item in items if item["claim_id"] == claim_id]
        assert len(found) == 1, items
        return found[0]
    return await eventually(opened, timeout=60)


async def timeline_has(api, case_id: str, kind: str) -> list[dict]:
    async def seen():
        entries = (await api["denials"].get(f"/v1/denials/{case_id}/timeline")).json()
        assert kind in [entry["kind"] for entry in entries], entries
        return entries
    return await eventually(seen, timeout=30)


async def status_changes(stack, claim_id: str) -> list[dict]:
    records = await ops_events.read_all(stack.kafka.bootstrap_servers, ["rcm.denials.events.v1"])
    return [json.loads(record.value) for record in records
            if ops_events.header(record.headers, "ce_type") == STATUS_CHANGED and claim_id.encode() in record.value]


def clinical_note_pdf() -> bytes:
    return render_pdf(Document(title="Authorization confirmation").add(
        Paragraph("Authorization AUTH-4471 confirmed by the payer's utilization management line.")))


def scanned_page_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), "white").save(buffer, format="PNG")
    return buffer.getvalue()


async def test_appeal_with_a_letter_overturned_by_the_payer_and_paid_closes_the_case_won(api, stack):
    member = member_id()
    # The payer denies the whole claim for authorization (CO-197, N54); on appeal it overturns and
    # pays 99213 at 100.00 and 36415 at its charge (15.50): 115.50 recovered of 140.50 denied.
    rule = {"member_id_pattern": f"^{member}$", "action": "deny", "denial": {"category": "authorization"},
            "appeal": "overturn", "fee_schedule": {"allowed": {"99213": "100.00"}}}
    async with payer_rules(stack, [rule]):
        claim = await submit(api, member)
        case = await denial_case_of(api, claim["id"])
        assert (case["denied_amount"], case["primary_carc"]) == ("140.50", "197")
        entries = await timeline_has(api, case["id"], "accepted_by_payer_277ca")
        assert [e["kind"] for e in entries][:2] == ["submitted_837", "accepted_999"]

        note = await api["denials"].post(f"/v1/denials/{case['id']}/attachments", params={"filename": "auth.pdf"},
                                         content=clinical_note_pdf(), headers={"Content-Type": "application/pdf"})
        assert note.status_code == 201, note.text
        scan = await api["denials"].post(f"/v1/denials/{case['id']}/attachments",
                                         files={"file": ("referral.png", scanned_page_png(), "image/png")})
        assert scan.status_code == 201, scan.text
        assert (scan.json()["content_type"], len(scan.json()["sha256"])) == ("image/png", 64)
        listed = (await api["denials"].get(f"/v1/denials/{case['id']}/attachments")).json()
        assert [a["filename"] for a in listed] == ["auth.pdf", "referral.png"]
        downloaded = await api["denials"].get(f"/v1/attachments/{note.json()['id']}/content")
        assert (downloaded.headers["content-type"], downloaded.content) == ("application/pdf", clinical_note_pdf())

        appeal_body = {"level": "level_1",
                       "argument": "Authorization AUTH-4471 was obtained on the day before the visit.",
                       "attachment_ids": [note.json()["id"], scan.json()["id"]]}
        keyed = {"Idempotency-Key": f"appeal-{case['id']}"}
        created = await api["denials"].post(f"/v1/denials/{case['id']}/appeals", json=appeal_body, headers=keyed)
        assert created.status_code == 201, created.text
        appeal = created.json()
        assert created.headers["location"] == f"/v1/appeals/{appeal['id']}"
        replayed = await api["denials"].post(f"/v1/denials/{case['id']}/appeals", json=appeal_body, headers=keyed)
        assert (replayed.headers.get("idempotent-replayed"), replayed.json()["id"]) == ("true", appeal["id"])
        assert len((await api["denials"].get(f"/v1/denials/{case['id']}/appeals")).json()) == 1
        assert (appeal["status"], appeal["category"]) == ("drafted", "authorization")

        letter = await api["denials"].get(f"/v1/appeals/{appeal['id']}/letter")
        assert letter.headers["content-type"] == "application/pdf"
        text = pdf_text(letter.content)
        for fact in ("Request for reconsideration", "Synthetic Health Plan", "Synthetic Family Clinic",
                     "Testy Synthetic", member, claim["patient_control_number"], "$140.50", "99213", "36415",
                     "CO-197", "Precertification/authorization/notification/pre-treatment absent", "N54",
                     "AUTH-4471 was obtained", "auth.pdf", "referral.png"):
            assert fact in text, fact
        accepted = await api["claims"].get(f"/v1/claims/{claim['id']}")
        assert accepted.json()["payer_claim_control_number"] in text

        packet = await api["denials"].get(f"/v1/appeals/{appeal['id']}/packet")
        assert page_count(packet.content) == page_count(letter.content) + 2  # the note's page, the scan's page
        assert "AUTH-4471 confirmed" in pdf_text(packet.content)

        submitted = await api["denials"].post(f"/v1/appeals/{appeal['id']}/submission", json={"method": "electronic"})
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["payer_reference"].startswith("APL")
        assert (await api["denials"].get(f"/v1/denials/{case['id']}")).json()["status"] == "appealed"

        async def won():
            body = (await api["denials"].get(f"/v1/denials/{case['id']}")).json()
            assert body["status"] == "won", body
            return body
        await eventually(won, timeout=60)

    decided = (await api["denials"].get(f"/v1/appeals/{appeal['id']}")).json()
    assert (decided["status"], decided["decision"], decided["amount_overturned"]) == ("decided", "overturned", "115.50")
    detail = (await api["denials"].get(f"/v1/denials/{case['id']}")).json()
    assert [(a["id"], a["decision"]) for a in detail["appeals"]] == [(appeal["id"], "overturned")]
    paid = await claim_in(api, claim["id"], "paid")
    assert paid["paid_amount"] == "115.50"

    async def announced():
        moves = [(c["from_status"], c["to_status"], c["amount_recovered"])
                 for c in await status_changes(stack, claim["id"])]
        assert moves == [("open", "appealed", None), ("appealed", "won", "115.50")], moves
        return moves
    await eventually(announced, timeout=30)

    # The case is settled: another appeal is refused.
    again = await api["denials"].post(f"/v1/denials/{case['id']}/appeals", json={"argument": "again"})
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[1]) == (409, "appeal-not-allowed")


async def test_bad_attachments_and_appeals_get_problems(api, stack):
    member = member_id()
    async with payer_rules(stack, [{"member_id_pattern": f"^{member}$", "action": "deny",
                                    "denial": {"category": "timely_filing"}}]):
        claim = await submit(api, member)
        case = await denial_case_of(api, claim["id"])
    attachments = f"/v1/denials/{case['id']}/attachments"

    gif = await api["denials"].post(attachments, content=b"GIF89a" + b"\x00" * 64,
                                    headers={"Content-Type": "image/png"})
    assert (gif.status_code, gif.headers["content-type"]) == (415, "application/problem+json")
    too_large = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024)
    oversize = await api["denials"].post(attachments, content=too_large, headers={"Content-Type": "application/pdf"})
    assert oversize.status_code == 413, oversize.text
    unknown_case = await api["denials"].post(f"/v1/denials/{uuid.uuid4()}/appeals", json={"argument": "x"})
    assert unknown_case.status_code == 404
    unknown_attachment = await api["denials"].post(f"/v1/denials/{case['id']}/appeals", json={
        "argument": "x", "attachment_ids": [str(uuid.uuid4())]})
    assert (unknown_attachment.status_code, unknown_attachment.json()["errors"][0]["pointer"]) == (
        422, "/attachment_ids/0")

    # A timely-filing appeal: the letter and the packet's proof page list the 837, 999 and 277CA.
    await timeline_has(api, case["id"], "accepted_by_payer_277ca")
    appeal = (await api["denials"].post(f"/v1/denials/{case['id']}/appeals", json={
        "argument": "The claim went out five days after the visit."})).json()
    entries = (await api["denials"].get(f"/v1/denials/{case['id']}/timeline")).json()
    proof = pdf_text((await api["denials"].get(f"/v1/appeals/{appeal['id']}/packet")).content)
    assert "Proof of timely filing" in proof
    for entry in entries:
        if entry["kind"] in ("submitted_837", "accepted_999", "accepted_by_payer_277ca"):
            assert entry["control_number"] and entry["control_number"] in proof, entry


async def test_write_off_above_the_threshold_needs_a_second_person(api, stack, tenant):
    member = member_id()
    async with payer_rules(stack, [{"member_id_pattern": f"^{member}$", "action": "deny",
                                    "denial": {"category": "medical_necessity"}}]):
        claim = await submit(api, member)
        case = await denial_case_of(api, claim["id"])
    # 140.50 is under the default threshold (500.00): done at once by one person.
    done = await api["denials"].post(f"/v1/denials/{case['id']}/write-offs", json={"reason": "small balance"})
    assert (done.status_code, done.json()["status"], done.json()["amount"]) == (201, "done", "140.50")
    [recorded] = (await api["denials"].get(f"/v1/denials/{case['id']}/actions")).json()
    assert (recorded["kind"], recorded["requested_by"], recorded["approved_by"]) == ("write_off", "test-user", None)
    assert (await api["denials"].get(f"/v1/denials/{case['id']}")).json()["status"] == "written_off"
    not_patients = await api["denials"].post(f"/v1/denials/{case['id']}/patient-transfers", json={"reason": "x"})
    assert not_patients.status_code == 409

    # 812.00 is above it: pending until someone else approves; the person who asked cannot.
    big = encounter(lines=[{"procedure_code": "99215", "units": 1, "charge_amount": "812.00",
                            "service_date": (date.today() - timedelta(days=5)).isoformat(), "diagnosis_pointers": [1]}])
    big["coverage"]["member_id"] = member
    async with payer_rules(stack, [{"member_id_pattern": f"^{member}$", "action": "deny",
                                    "denial": {"category": "medical_necessity"}}]):
        large_claim = (await api["claims"].post("/v1/encounters", json=big)).json()
        large_case = await denial_case_of(api, large_claim["id"])
    asked = (await api["denials"].post(f"/v1/denials/{large_case['id']}/write-offs",
                                       json={"reason": "not worth it"})).json()
    assert (asked["status"], asked["amount"]) == ("pending_approval", "812.00")
    self_approved = await api["denials"].post(f"/v1/write-offs/{asked['id']}/approval")
    assert (self_approved.status_code, self_approved.json()["type"].rsplit("/", 1)[1]) == (403, "same-approver")
    async with httpx.AsyncClient(base_url=stack.services["denials"].url, timeout=30,
                                 headers=auth_headers(stack, tenant, subject="billing-manager")) as manager:
        approved = await manager.post(f"/v1/write-offs/{asked['id']}/approval")
        assert (approved.status_code, approved.json()["approved_by"]) == (200, "billing-manager"), approved.text
        again = await manager.post(f"/v1/write-offs/{asked['id']}/approval")
        assert again.status_code == 409
    assert (await api["denials"].get(f"/v1/denials/{large_case['id']}")).json()["status"] == "written_off"

    async def announced():
        written_off = [json.loads(r.value) for r in await ops_events.read_all(
            stack.kafka.bootstrap_servers, ["rcm.denials.events.v1"])
            if ops_events.header(r.headers, "ce_type") == "org.openrcm.denials.denial_written_off.v1"
            and large_claim["id"].encode() in r.value]
        assert [(e["amount"], e["requested_by"], e["approved_by"]) for e in written_off] == [
            ("812.00", "test-user", "billing-manager")], written_off
        return written_off
    await eventually(announced, timeout=30)


async def test_corrected_claim_reprocessed_by_the_payer_closes_the_case_won(api, stack):
    member = member_id()
    # Denied for coding (CO-4, M51); the replacement (frequency 7) bills 99214 instead of 99213 and
    # the payer pays 80 % of the charge: 100.00 + 12.40 = 112.40.
    rules = [{"member_id_pattern": f"^{member}$", "frequency_code": "7", "action": "pay",
              "fee_schedule": {"percent_of_charge": "80"}},
             {"member_id_pattern": f"^{member}$", "action": "deny", "denial": {"category": "coding"}}]
    async with payer_rules(stack, rules):
        claim = await submit(api, member)
        case = await denial_case_of(api, claim["id"])
        await claim_in(api, claim["id"], "denied")
        asked = await api["denials"].post(f"/v1/denials/{case['id']}/corrections", json={
            "lines": [{"line_number": 1, "procedure_code": "99214"}], "reason": "E/M level corrected"})
        assert asked.status_code == 201, asked.text
        assert (await api["denials"].get(f"/v1/denials/{case['id']}")).json()["status"] == "corrected_resubmitted"

        async def won():
            body = (await api["denials"].get(f"/v1/denials/{case['id']}")).json()
            assert body["status"] == "won", body
            return body
        await eventually(won, timeout=90)

    # Denials and claims apply the payment each from its own consumer: claims may still be behind.
    replaced = await claim_in(api, claim["id"], "paid")
    assert replaced["paid_amount"] == "112.40"
    assert [line["procedure_code"] for line in replaced["lines"]] == ["99214", "36415"]
    entries = (await api["denials"].get(f"/v1/denials/{case['id']}/timeline")).json()
    assert [e["detail"].get("frequency_code") for e in entries if e["kind"] == "submitted_837"] == ["1", "7"]

    async def announced():
        moves = [(c["from_status"], c["to_status"], c["amount_recovered"])
                 for c in await status_changes(stack, claim["id"])]
        assert moves == [("open", "corrected_resubmitted", None), ("corrected_resubmitted", "won", "112.40")], moves
        return moves
    await eventually(announced, timeout=30)


async def test_a_later_835_settles_the_case_and_a_reversal_of_that_payment_reopens_it(api, stack, tenant):
    """Remittance's events as it publishes them: a partial denial (99213 paid 80.00, 36415 denied
    15.50), then the payer reprocessing the claim in a later ERA (paid 92.40: 12.40 recovered), then
    that payment reversed."""
    claim_id, pcn = uuid.uuid4(), f"P{uuid.uuid4().hex[:12].upper()}"
    denying, later, reversing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    common = {"tenant_id": tenant, "claim_id": claim_id, "patient_id": "PAT-1", "payer_id": "60054",
              "patient_control_number": pcn}

    def posted(remittance_id, outcome: str, paid: str) -> ClaimPaymentPosted:
        return ClaimPaymentPosted(**common, remittance_id=remittance_id, outcome=outcome, charge_amount=D("140.50"),
                                  allowed_amount=D(paid), paid_amount=D(paid), patient_responsibility_amount=D(0),
                                  adjustments=[], lines=[])

    await publish(stack, posted(denying, "partially_paid", "80.00"), ClaimDenied(
        **common, remittance_id=denying, denied_amount=D("15.50"),
        denials=[DeniedItem(line_number=2, group_code="CO", carc="97", rarcs=["M15"], amount=D("15.50"))]))
    case = await denial_case_of(api, str(claim_id))
    await publish(stack, posted(later, "paid", "92.40"))

    async def status_is(expected: str):
        body = (await api["denials"].get(f"/v1/denials/{case['id']}")).json()
        assert body["status"] == expected, body
        return body
    await eventually(lambda: status_is("won"), timeout=30)
    await publish(stack, ClaimReversed(**common, remittance_id=reversing, reversed_paid_amount=D("92.40"),
                                       reversed_patient_responsibility_amount=D(0), reversed_adjustments=[]))
    await eventually(lambda: status_is("open"), timeout=30)

    async def announced():
        moves = [(c["from_status"], c["to_status"], c["amount_recovered"], c["reason"])
                 for c in await status_changes(stack, str(claim_id))]
        assert moves == [("open", "won", "12.40", "settled_by_remittance"),
                         ("won", "open", None, "payer_reversed_payment")], moves
        return moves
    await eventually(announced, timeout=30)
    kinds = [entry["kind"] for entry in (await api["denials"].get(f"/v1/denials/{case['id']}/timeline")).json()]
    assert kinds == ["payment_posted", "payment_posted", "payment_reversed"]


async def test_a_correction_the_payer_does_not_take_is_noted_on_the_claim(api, stack):
    """A payer that takes corrections only as new claims (frequency 1): claims cannot replace the
    claim and says why on its timeline; nothing is sent."""
    registered = await api["claims"].put("/v1/payers/60077", json={
        "name": "Frequency One Health", "claim_types": ["professional"], "timely_filing_days": 365,
        "replacement_claims_accepted": False})
    assert registered.status_code == 200, registered.text
    member = member_id()
    body = encounter(payer_id="60077")
    body["coverage"]["member_id"] = member
    async with payer_rules(stack, [{"member_id_pattern": f"^{member}$", "action": "deny",
                                    "denial": {"category": "coding"}}]):
        claim = (await api["claims"].post("/v1/encounters", json=body)).json()
        case = await denial_case_of(api, claim["id"])
        await claim_in(api, claim["id"], "denied")
        asked = await api["denials"].post(f"/v1/denials/{case['id']}/corrections", json={
            "lines": [{"line_number": 1, "procedure_code": "99214"}], "reason": "E/M level corrected"})
        assert asked.status_code == 201, asked.text

        async def refused():
            history = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()["history"]
            [note] = [entry for entry in history if entry["kind"] == "correction_refused"] or [None]
            assert note is not None, [entry["kind"] for entry in history]
            return note
        note = await eventually(refused, timeout=30)
    assert note["detail"]["case_id"] == case["id"] and "new claims (frequency 1)" in note["detail"]["reason"]
    after = (await api["claims"].get(f"/v1/claims/{claim['id']}")).json()
    assert (after["status"], [line["procedure_code"] for line in after["lines"]]) == ("denied", ["99213", "36415"])
