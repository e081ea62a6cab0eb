"""The simulated payer's denials by category, its appeal decisions (an overturn reprocessed in an 835:
the denial reversed, the claim paid) and its reprocessing of corrected claims (frequency 7).
Every 835 is checked with pyx12 and balanced. Synthetic claims only."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace

import pytest

from openrcm_clearinghouse_sim.adjudication_rules import ADJUDICATION_RULE_LIST
from openrcm_clearinghouse_sim.denial_categories import DENIAL_CATEGORIES
from openrcm_shared.codesets import carc, rarc
from simulators.clearinghouse.tests.test_adjudication import (
    D, adjudicate, checked, claims_by_pcn, file_837, line_money, office_visit, remittances_of, settings, submit,
)

__all__ = ["settings"]  # the fixture, shared with test_adjudication

PACKET = base64.b64encode(b"%PDF-1.7\n% a synthetic appeal packet\n").decode()


def appeal_body(pcn: str, pccn: str | None, appeal_id: str) -> dict:
    return {"appeal_id": appeal_id, "payer_id": "60054", "patient_control_number": pcn,
            "payer_claim_control_number": pccn, "level": "level_1", "category": "authorization",
            "packet_pdf": PACKET}


def test_every_category_names_codes_in_the_shipped_x12_lists():
    for category, codes in DENIAL_CATEGORIES.items():
        assert carc(codes.carc) is not None, category
        assert all(rarc(code) is not None for code in codes.rarcs), category
    [rule] = ADJUDICATION_RULE_LIST.validate_python([{"action": "deny", "denial": {"category": "authorization"}}])
    assert (rule.denial.group, rule.denial.carc, rule.denial.rarcs) == ("CO", "197", ["N54"])
    with pytest.raises(ValueError):
        ADJUDICATION_RULE_LIST.validate_python([{"action": "deny", "denial": {"category": "weather"}}])
    with pytest.raises(ValueError):
        ADJUDICATION_RULE_LIST.validate_python([{"action": "deny", "denial": {"rarcs": ["N54"]}}])


async def test_an_overturned_appeal_reverses_the_denial_and_pays_in_a_later_835(clearinghouse):
    await adjudicate(clearinghouse, [{"patient_control_number_pattern": "^APL", "action": "deny",
                                      "denial": {"category": "authorization"}, "appeal": "overturn",
                                      "fee_schedule": {"allowed": {"99213": "100.00"}}}])
    batch_id = await submit(clearinghouse, file_837(office_visit("APL5001")), "appeal-overturn-1")
    [denial_record] = await remittances_of(clearinghouse, batch_id, 1)
    [denied] = checked(denial_record["x12"]).claims
    assert line_money(denied) == [("99213", D(125), D(0), D(0), [("CO", "197", D(125))], "APL5001001")]
    assert [r.code for r in denied.service_lines[0].remark_codes] == ["N54"]

    body = appeal_body("APL5001", denied.payer_claim_control_number, "appeal-0001")
    taken = await clearinghouse.post("/v1/appeals", json=body, headers={"Idempotency-Key": "appeal-0001"})
    assert taken.status_code == 202, taken.text
    again = await clearinghouse.post("/v1/appeals", json=body, headers={"Idempotency-Key": "appeal-0001"})
    assert (again.status_code, again.json()["appeal_reference"]) == (200, taken.json()["appeal_reference"])

    _, reprocessed = await remittances_of(clearinghouse, batch_id, 2)
    reversal, paid = checked(reprocessed["x12"]).claims
    assert (reversal.status_code, reversal.charge, reversal.paid) == ("22", D(-125), D(0))
    assert (paid.status_code, paid.paid) == ("1", D(100))
    assert line_money(paid) == [("99213", D(125), D(100), D(100), [("CO", "45", D(25))], "APL5001001")]
    decided = (await clearinghouse.get(f"/v1/appeals/{taken.json()['appeal_reference']}")).json()
    assert (decided["decision"], decided["remittance_webhook_id"]) == ("overturned", reprocessed["webhook_id"])


async def test_an_upheld_appeal_sends_no_835_and_an_unknown_claim_is_404(clearinghouse):
    await adjudicate(clearinghouse, [{"action": "deny", "denial": {"category": "medical_necessity"}}])
    batch_id = await submit(clearinghouse, file_837(office_visit("UPH6001")), "appeal-uphold-1")
    await remittances_of(clearinghouse, batch_id, 1)
    taken = await clearinghouse.post("/v1/appeals", json=appeal_body("UPH6001", None, "appeal-0002"),
                                     headers={"Idempotency-Key": "appeal-0002"})
    assert taken.status_code == 202, taken.text
    reference = taken.json()["appeal_reference"]
    for _ in range(100):  # bounded: 5 s
        decided = (await clearinghouse.get(f"/v1/appeals/{reference}")).json()
        if decided["decision"]:
            break
        await asyncio.sleep(0.05)
    assert (decided["decision"], decided["remittance_webhook_id"]) == ("upheld", None)
    assert len((await clearinghouse.get("/v1/remittances", params={"batch_id": batch_id})).json()) == 1

    unknown = await clearinghouse.post("/v1/appeals", json=appeal_body("NOPE0001", None, "appeal-0003"),
                                       headers={"Idempotency-Key": "appeal-0003"})
    assert unknown.status_code == 404
    not_pdf = {**appeal_body("UPH6001", None, "appeal-0004"), "packet_pdf": base64.b64encode(b"GIF89a....").decode()}
    refused = await clearinghouse.post("/v1/appeals", json=not_pdf, headers={"Idempotency-Key": "appeal-0004"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["pointer"] == "/packet_pdf"


async def test_a_corrected_claim_is_reprocessed_by_the_rule_for_replacements(clearinghouse):
    await adjudicate(clearinghouse, [
        {"frequency_code": "7", "action": "pay", "fee_schedule": {"percent_of_charge": "80"}},
        {"patient_control_number_pattern": "^COR", "action": "deny", "denial": {"category": "coding"}},
    ])
    original = office_visit("COR7001")
    first = await submit(clearinghouse, file_837(original), "corrected-1")
    [denial] = await remittances_of(clearinghouse, first, 1)
    [denied] = checked(denial["x12"]).claims
    assert line_money(denied)[0][4] == [("CO", "4", D(125))]

    replacement = replace(original, frequency_code="7", payer_claim_control_number=denied.payer_claim_control_number)
    second = await submit(clearinghouse, file_837(replacement, icn=2), "corrected-2")
    [paid_record] = await remittances_of(clearinghouse, second, 1)
    [paid] = claims_by_pcn([checked(paid_record["x12"])])["COR7001"]
    assert (paid.status_code, paid.paid) == ("1", D(100))
