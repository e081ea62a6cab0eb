"""Coordination of benefits to the cent, on the real stack: an institutional encounter with a
primary and a secondary payer. The primary's 835 leaves the patient a coinsurance share; the secondary
is billed with the primary's adjudication (837I loops 2320/2430), adjudicates under COB (pays toward
the share the primary left, up to its own allowed amount) and the patient's account shows what the
LAST payer says the patient owes, not the sum over payers. Synthetic data only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.e2e.claims_parties import SECONDARY_PAYER, encounter_by_reference, register_patient, register_practice
from tests.e2e.test_adjudication_round_trip import payer_rules
from tests.support import RENDERING_NPI, claim_in, eventually

pytestmark = pytest.mark.stack

SERVED = (date.today() - timedelta(days=5)).isoformat()


def institutional_encounter(patient_id: str) -> dict:
    """Charge 1,660.00: emergency visit 1,200.00 + laboratory 460.00."""
    body = encounter_by_reference(patient_id, lines=[
        {"revenue_code": "0450", "procedure_code": "99284", "charge_amount": "1200.00", "service_date": SERVED},
        {"revenue_code": "0300", "procedure_code": "85025", "charge_amount": "460.00", "service_date": SERVED}])
    del body["rendering_provider_npi"]
    body.update(setting="institutional", attending_provider_npi=RENDERING_NPI,
                institutional={"type_of_bill": "0131", "patient_status": "01"})
    return body


# The primary allows 80 % of the charge and leaves 20 % coinsurance:
#   line 1  1,200.00  allowed 960.00  PR-2 192.00  paid 768.00
#   line 2    460.00  allowed 368.00  PR-2  73.60  paid 294.40      paid 1,062.40, patient 265.60
# The secondary allows 75 % of the charge; under COB it pays min(share left, its allowed - paid before):
#   line 1  min(192.00, 900.00 - 768.00 = 132.00) = 132.00  patient 60.00  OA-23 1,008.00
#   line 2  min( 73.60, 345.00 - 294.40 =  50.60) =  50.60  patient 23.00  OA-23   386.40
#   paid 182.60; the patient owes 83.00 (1,062.40 + 182.60 + 83.00 = 1,328.00, the primary's allowed amount).
PRIMARY_RULE = {"payer_id": "60054", "action": "pay",
                "fee_schedule": {"percent_of_charge": "80", "coinsurance_percent": "20"}}
SECONDARY_RULE = {"payer_id": SECONDARY_PAYER, "action": "pay",
                  "fee_schedule": {"percent_of_charge": "75", "coinsurance_percent": "20"}}


async def secondary_claim_of(api, primary: dict) -> dict:
    async def created():
        body = (await api["claims"].get(f"/v1/claims/{primary['id']}")).json()
        related = [c for c in body["related_claims"] if c["payer_responsibility"] == "S"]
        assert related, [h["kind"] for h in body["history"]]
        return related[0]
    return await eventually(created, timeout=60)


async def sent_x12(api, claim_id: str) -> str:
    response = await api["claims"].get(f"/v1/claims/{claim_id}/x12")
    assert response.status_code == 200, response.text
    return response.text


async def test_the_patient_owes_what_the_secondary_left_and_the_secondary_pays_under_cob(api, stack):
    await register_practice(api["claims"], SECONDARY_PAYER)
    patient_id = await register_patient(api["claims"], "60054", SECONDARY_PAYER)
    async with payer_rules(stack, [PRIMARY_RULE, SECONDARY_RULE]):
        created = await api["claims"].post("/v1/encounters", json=institutional_encounter(patient_id))
        assert created.status_code == 201, created.text
        primary = created.json()
        assert (primary["claim_type"], primary["total_charge"]) == ("institutional", "1660.00")
        primary_paid = await claim_in(api, primary["id"], "paid", timeout=90)
        assert primary_paid["paid_amount"] == "1062.40"
        secondary = await secondary_claim_of(api, primary)
        x12 = await eventually(lambda: sent_x12(api, secondary["id"]), timeout=60)
        assert "~AMT*D*1062.4~AMT*EAF*265.6~" in x12  # billed with the primary's adjudication

        async def secondary_posted():
            ledger = (await api["remittance"].get(f"/v1/claims/{secondary['id']}/ledger")).json()
            assert ledger.get("payments"), ledger
            return ledger
        ledger = await eventually(secondary_posted, timeout=90)
    [payment] = ledger["payments"]
    assert payment["claim_status_code"] == "2"  # processed as secondary
    assert ledger["balances"]["payer_payment"] == "182.60"
    assert ledger["balances"]["patient_responsibility"] == "83.00"

    async def account_settled():
        account = (await api["collections"].get(f"/v1/accounts/{patient_id}")).json()
        assert account.get("balance") == "83.00", account
        return account
    account = await eventually(account_settled, timeout=30)
    # Every line explained: the primary's coinsurance replaced by the secondary's, per claim and line.
    lines = sorted((e["claim_id"], e["line_number"], e["entry_kind"], e["carc"], e["amount"])
                   for e in account["ledger"])
    assert lines == sorted([
        (primary["id"], 1, "patient_responsibility", "2", "192.00"),
        (primary["id"], 2, "patient_responsibility", "2", "73.60"),
        (primary["id"], 1, "responsibility_replaced", "2", "-192.00"),
        (primary["id"], 2, "responsibility_replaced", "2", "-73.60"),
        (secondary["id"], 1, "patient_responsibility", "2", "60.00"),
        (secondary["id"], 2, "patient_responsibility", "2", "23.00"),
    ])
    credits = (await api["collections"].get("/v1/credit-balances")).json()
    assert credits["items"] == []  # 1,062.40 + 182.60 + 83.00 = 1,328.00: nothing was overpaid
