"""No PHI in logs: encounters with distinctive synthetic patient names, member ids and dates of
birth go through claims, the clearinghouse simulator and remittance (paid, denied, refused,
invalid, duplicated, unmatched, malformed), then every service's log file is searched for them.

Synthetic data only: the names are made up per run, so finding one in a log can only mean the
system wrote what it was sent."""

from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.era import Era, Svc
from tests.support import claim_in, encounter, eventually

pytestmark = pytest.mark.stack

X12 = {"content-type": "application/edi-x12"}


class Phi:
    """This run's synthetic identifiers, and every form they take on the way (837 dates, upper case)."""

    def __init__(self) -> None:
        tag = "".join(chr(ord("A") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])
        self.last_names = [f"Qzphilast{tag}{n}" for n in "ABCD"]
        self.first_names = [f"Qzphifirst{tag}{n}" for n in "ABCD"]
        self.member_ids = [f"QZM{tag}{n}" for n in "ABCD"]
        self.birth_dates = ["1931-03-17", "1932-04-18", "1933-05-19", "1934-06-21"]

    def patient(self, index: int, patient_id: str | None = None) -> dict:
        body = encounter(patient_id=patient_id)
        body["patient"].update(first_name=self.first_names[index], last_name=self.last_names[index],
                               birth_date=self.birth_dates[index])
        body["coverage"]["member_id"] = self.member_ids[index]
        return body

    def needles(self) -> list[str]:
        return [*self.last_names, *self.first_names, *self.member_ids, *self.birth_dates,
                *[d.replace("-", "") for d in self.birth_dates]]


@asynccontextmanager
async def payer_rules(stack, paid_members: str, denied_members: str):
    rules = [{"member_id_pattern": denied_members, "action": "deny", "denial": {"carc": "50", "rarcs": ["N115"]}},
             {"member_id_pattern": paid_members, "action": "pay",
              "fee_schedule": {"allowed": {"99213": "100.00", "36415": "15.50"}, "coinsurance_percent": "20"}}]
    async with httpx.AsyncClient(base_url=stack.clearinghouse_url) as clearinghouse:
        assert (await clearinghouse.put("/v1/adjudication-rules", json=rules)).status_code in (200, 204)
        try:
            yield
        finally:
            await clearinghouse.put("/v1/adjudication-rules", json=[])


def service_logs(stack) -> dict[str, str]:
    """Every log our processes wrote (the clearinghouse simulator stands for an external party)."""
    folder = Path(stack.state_dir) / "logs"
    return {path.name: path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(folder.glob("*.log")) if path.name != "clearinghouse.log"}


async def test_patient_names_member_ids_and_birth_dates_never_reach_a_log(api, stack, tenant):
    phi = Phi()
    async with payer_rules(stack, paid_members="^QZM.*[AB]$", denied_members="^QZM.*C$"):
        # Two claims paid and one denied through the 837, 999/277CA and 835; a registered patient.
        patient_ids = [f"QZ-PAT-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        paid = (await api["claims"].post("/v1/encounters", json=phi.patient(0, patient_ids[0]))).json()
        registered = await api["claims"].put("/v1/patients/QZ-PATIENT", json={
            "first_name": phi.first_names[1], "last_name": phi.last_names[1], "birth_date": phi.birth_dates[1],
            "gender": "F", "address": {"line1": "12 Example Lane", "city": "Springfield", "state": "IL",
                                       "postal_code": "62701"}})
        assert registered.status_code == 200, registered.text
        second = (await api["claims"].post("/v1/encounters", json=phi.patient(1, patient_ids[1]))).json()
        denied = (await api["claims"].post("/v1/encounters", json=phi.patient(2, patient_ids[2]))).json()
        # Refusals of every kind, each carrying the identifiers.
        duplicate = await api["claims"].post("/v1/encounters", json={**phi.patient(0), "encounter_id": paid["encounter_id"]})
        invalid = phi.patient(2)
        invalid["billing_provider"]["npi"] = "1234567890"
        invalid["lines"][0]["charge_amount"] = 125.1
        with_nul = phi.patient(3)
        with_nul["patient"]["last_name"] += "\x00"
        deep = {"patient": phi.patient(3)["patient"], "x": json.loads("[" * 200 + "]" * 200)}
        refused = [duplicate, await api["claims"].post("/v1/encounters", json=invalid),
                   await api["claims"].post("/v1/encounters", content=json.dumps(with_nul),
                                            headers={"content-type": "application/json"}),
                   await api["claims"].post("/v1/encounters", json=deep),
                   await api["claims"].put("/v1/patients/QZ-PATIENT-2", content=json.dumps({
                       "first_name": phi.first_names[3] + "\x00", "last_name": phi.last_names[3],
                       "birth_date": phi.birth_dates[3], "gender": "F"}), headers={"content-type": "application/json"}),
                   await api["eligibility"].post("/v1/eligibility-responses", content=json.dumps({
                       "patient_id": "QZ-PATIENT", "member_id": phi.member_ids[3] + "\x00", "payer_id": "60054",
                       "coverage_active": True}), headers={"content-type": "application/json"}),
                   await api["claims"].post("/fhir/Claim", json={"resourceType": "Claim",
                                                                 "patient": {"display": phi.last_names[2]}}),
                   await api["eligibility"].post("/v1/eligibility-responses", json={  # coverage_active missing
                       "patient_id": "QZ-PATIENT", "member_id": phi.member_ids[2], "payer_id": "60054"}),
                   await api["claims"].get("/v1/claims", params={"status": phi.last_names[3]}),
                   await api["denials"].get("/v1/denials", params={"payer_id": phi.member_ids[3] + "\x00"})]
        assert all(400 <= r.status_code < 500 for r in refused), [(r.status_code, r.text) for r in refused]
        checked = await api["eligibility"].post("/v1/eligibility-responses", json={
            "patient_id": patient_ids[0], "member_id": phi.member_ids[0], "payer_id": "60054", "coverage_active": True})
        assert checked.status_code == 201, checked.text
        # An 835 for a patient nobody billed (held for review) and a malformed one.
        unmatched = Era(trace=f"QZ{uuid.uuid4().hex[:10].upper()}")
        unmatched.claim("QZUNKNOWN1", lines=[Svc("99213", "125.00", "80.00", [("CO", "45", "45.00")], line=1)])
        lines = unmatched.x12().split("~\n")
        clp = next(i for i, line in enumerate(lines) if line.startswith("CLP*"))
        lines.insert(clp + 1, f"NM1*QC*1*{phi.last_names[3]}*{phi.first_names[3]}****MI*{phi.member_ids[3]}")
        se = next(i for i, line in enumerate(lines) if line.startswith("SE*"))
        count, control = lines[se].split("*")[1:]
        lines[se] = f"SE*{int(count) + 1}*{control}"  # the NM1 added to the transaction set
        text = "~\n".join(lines)
        assert (await api["remittance"].post("/v1/remittances", content=text.encode(), headers=X12)).status_code < 500
        broken = text.replace("BPR*", f"BPR*{phi.member_ids[3]}*", 1)
        assert (await api["remittance"].post("/v1/remittances", content=broken.encode(), headers=X12)).status_code < 500

        await claim_in(api, paid["id"], "paid", timeout=90)
        await claim_in(api, second["id"], "paid", timeout=90)
        await claim_in(api, denied["id"], "denied", timeout=90)

    async def downstream_done():  # patient responsibility in collections, the denial on the worklist
        for patient_id in patient_ids[:2]:
            account = await api["collections"].get(f"/v1/accounts/{patient_id}")
            assert account.status_code == 200, account.text
        worklist = (await api["denials"].get("/v1/denials")).json()["items"]
        assert [case["claim_id"] for case in worklist] == [denied["id"]]
        return True

    await eventually(downstream_done, timeout=30)
    logs = service_logs(stack)
    assert {"claims.log", "claims-worker.log", "claims-relay.log", "remittance.log", "collections.log", "denials.log",
            "eligibility.log"} <= set(logs)
    found = {(name, needle) for name, text in logs.items() for needle in phi.needles() if needle.lower() in text.lower()}
    assert found == set()
