"""CMS code sets imported into the running claims service, on the real stack: the synthetic extracts
(CMS layouts, made-up content) imported through the API and the CLI, listed with their versions,
and used by the scrubber of the API process and of the worker from the next claim, without a
restart; a malformed file is refused naming its line with nothing stored; the same file twice is
one import; a withdrawn file stops being used. Every test withdraws what it imported and waits
until both claims processes are back to no imported code sets (the stack is shared)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from conftest import auth_headers
from openrcm_devstack.cli import main as openrcm_stack
from openrcm_shared.security.scopes import PRACTICE_SCOPES
from tests.e2e.claims_parties import SECONDARY_PAYER, encounter_by_reference, register_patient, register_practice
from tests.support import claim_in, encounter, eventually, post_when_known, remittance_for

pytestmark = pytest.mark.stack

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
TODAY = date.today()
QUARTER = (TODAY.month - 1) // 3
THIS_QUARTER = date(TODAY.year, 1 + 3 * QUARTER, 1)  # in force today, whatever day the tests run
# CMS's names for this quarter's files: the service reads the effective date from them.
HCPCS_NAME = f"HCPC{TODAY.year}_{_MONTHS[THIS_QUARTER.month - 1]}_ANWEB_v1.txt"
PTP_NAME = f"ccipra-v{TODAY.year - 1994}{QUARTER}r0-f1.txt"  # NCCI version 32.0 is 2026 Q1
MUE_NAME = f"MCR_MUE_PractitionerServices_Eff_{THIS_QUARTER:%m-%d-%Y}.csv"
PROCESSES = ("claims", "claims-worker")


def synthetic(name: str) -> bytes:
    return Path(str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}"))).read_bytes()


HCPCS = synthetic("hcpcs_anweb_synthetic.txt")
PTP = synthetic("ncci_ptp_practitioner_synthetic.txt")
MUE = synthetic("mue_practitioner_synthetic.csv")


async def import_file(client: httpx.AsyncClient, name: str, content: bytes, *, media_type: str = "text/plain",
                      **params) -> httpx.Response:
    return await client.post("/v1/code-sets/files", content=content, params={"filename": name, **params},
                             headers={"Content-Type": media_type})


async def newest_file_loaded(client: httpx.AsyncClient) -> int:
    metrics = (await client.get("/metrics")).text
    found = re.search(r"^openrcm_claims_code_set_newest_file_id (\S+)$", metrics, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


async def loaded_everywhere(api, newest: int) -> None:
    """Wait (bounded) until the API process and the worker scrub with the imported files up to `newest`."""
    async def loaded():
        for process in PROCESSES:
            assert await newest_file_loaded(api[process]) == newest, process
        return True
    await eventually(loaded, timeout=30)


async def kinds(api) -> dict[str, dict]:
    listing = (await api["claims"].get("/v1/code-sets")).json()
    assert listing["as_of"] == date.today().isoformat()
    return {kind["kind"]: kind for kind in listing["kinds"]}


@pytest.fixture(autouse=True)
async def withdrawn_afterwards(api):
    """Code sets are every practice's: what a test imports is withdrawn before the next test runs."""
    yield
    for kind in (await kinds(api)).values():
        for version in kind["versions"]:
            for stored in version["files"]:
                withdrawn = await api["claims"].delete(f"/v1/code-sets/files/{stored['id']}")
                assert withdrawn.status_code == 200, withdrawn.text
    await loaded_everywhere(api, 0)


def rule_pointers(claim: dict) -> set[tuple[str, str]]:
    return {(hit["rule_id"], hit["pointer"]) for hit in claim["scrub_hits"]}


SERVED = (date.today() - timedelta(days=5)).isoformat()
# 93000 + 93005 on one day: an NCCI PTP pair no modifier bypasses (indicator 0); 36415 x3: over its
# MUE of 2 per day; G2012: a HCPCS code the file ended on 2025-12-31.
BREAKING_LINES = [
    {"procedure_code": "93000", "charge_amount": "40.00", "service_date": SERVED, "diagnosis_pointers": [1]},
    {"procedure_code": "93005", "charge_amount": "20.00", "service_date": SERVED, "diagnosis_pointers": [1]},
    {"procedure_code": "36415", "units": 3, "charge_amount": "30.00", "service_date": SERVED, "diagnosis_pointers": [1]},
    {"procedure_code": "G2012", "charge_amount": "15.00", "service_date": SERVED, "diagnosis_pointers": [1]},
]
EDITS_BROKEN = {("NCCI.PTP", "/lines/1/procedure_code"), ("MUE.UNITS", "/lines/2/units"),
                ("HCPCS.NOT_VALID", "/lines/3/procedure_code")}
# Two lines priced as remittance_for expects (125.00 and 15.50), billed together against a PTP edit.
PTP_PAIR = [
    {"procedure_code": "93000", "charge_amount": "125.00", "service_date": SERVED, "diagnosis_pointers": [1, 2]},
    {"procedure_code": "93005", "charge_amount": "15.50", "service_date": SERVED, "diagnosis_pointers": [1]},
]


async def secondary_claim(api, primary: dict) -> dict:
    """The secondary payer's claim the worker creates once the primary's payment is posted."""
    posted = await post_when_known(api["remittance"], "/v1/remittances", remittance_for(primary))
    assert posted.status_code == 201, posted.text

    async def created():
        body = (await api["claims"].get(f"/v1/claims/{primary['id']}")).json()
        [related] = [c for c in body["related_claims"] if c["payer_responsibility"] == "S"] or [None]
        assert related, [h["kind"] for h in body["history"]]
        return (await api["claims"].get(f"/v1/claims/{related['id']}")).json()
    return await eventually(created)


async def test_imported_edits_hold_the_next_claim_in_the_api_and_in_the_worker(api):
    await register_practice(api["claims"], SECONDARY_PAYER)
    patient_id = await register_patient(api["claims"], "60054", SECONDARY_PAYER)
    before = (await api["claims"].post("/v1/encounters", json=encounter(lines=BREAKING_LINES))).json()
    assert before["status"] == "ready" and not rule_pointers(before) & EDITS_BROKEN, before["scrub_hits"]
    primaries = [(await api["claims"].post("/v1/encounters", json=encounter_by_reference(patient_id, lines=PTP_PAIR)))
                 .json() for _ in range(2)]
    assert [p["status"] for p in primaries] == ["ready", "ready"]
    primaries = await asyncio.gather(*(claim_in(api, p["id"], "accepted_by_payer") for p in primaries))
    secondary_before = await secondary_claim(api, primaries[0])  # scrubbed by the worker, before the import
    assert "NCCI.PTP" not in {hit["rule_id"] for hit in secondary_before["scrub_hits"]}
    assert secondary_before["status"] != "held"

    hcpcs = await import_file(api["claims"], HCPCS_NAME, HCPCS)
    ptp = await api["claims"].post("/v1/code-sets/files", content=PTP, headers={
        "Content-Type": "application/octet-stream", "Content-Disposition": f'attachment; filename="{PTP_NAME}"'})
    mue = await import_file(api["claims"], MUE_NAME, MUE, media_type="text/csv")
    assert [r.status_code for r in (hcpcs, ptp, mue)] == [201, 201, 201], [r.text for r in (hcpcs, ptp, mue)]
    stored = [r.json()["files"][0] for r in (hcpcs, ptp, mue)]
    assert [(f["kind"], f["effective_date"], f["counts"], f["already_imported"]) for f in stored] == [
        ("hcpcs", THIS_QUARTER.isoformat(), {"codes": 4, "modifiers": 2}, False),
        ("ptp_practitioner", THIS_QUARTER.isoformat(), {"edits": 5}, False),  # the indicator-9 row never applies
        ("mue_practitioner", THIS_QUARTER.isoformat(), {"codes": 5}, False)]
    assert {f["imported_by"] for f in stored} == {"test-user"}  # the token's subject
    assert [f["size_bytes"] for f in stored] == [len(HCPCS), len(PTP), len(MUE)]

    listed = await kinds(api)
    for kind, name in (("hcpcs", HCPCS_NAME), ("ptp_practitioner", PTP_NAME), ("mue_practitioner", MUE_NAME)):
        assert listed[kind]["in_force"] == THIS_QUARTER.isoformat()
        [version] = listed[kind]["versions"]
        [listed_file] = version["files"]
        assert (version["status"], listed_file["file_name"], listed_file["status"]) == ("in_force", name, "in_force")
    assert listed["ptp_hospital"]["in_force"] is None and listed["ptp_hospital"]["versions"] == []

    await loaded_everywhere(api, max(f["id"] for f in stored))
    after = (await api["claims"].post("/v1/encounters", json=encounter(lines=BREAKING_LINES))).json()
    assert after["status"] == "held" and EDITS_BROKEN <= rule_pointers(after), after["scrub_hits"]
    secondary_after = await secondary_claim(api, primaries[1])  # scrubbed by the worker, after the import
    assert secondary_after["status"] == "held"
    assert ("NCCI.PTP", "/lines/1/procedure_code") in rule_pointers(secondary_after)


async def test_a_malformed_file_is_refused_naming_its_line_and_nothing_is_stored(api, stack, tenant):
    rows = PTP.decode("latin-1").split("\n")
    rows[4] = rows[4].replace("19960101", "19961399")  # line 5: no 13th month
    refused = await import_file(api["claims"], PTP_NAME, "\n".join(rows).encode("latin-1"))
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    [error] = refused.json()["errors"]
    assert (error["pointer"], error["line"], error["file_name"]) == ("/body", 5, PTP_NAME), error
    assert "nothing was stored" in refused.json()["detail"]

    not_hcpcs = await import_file(api["claims"], HCPCS_NAME, b"this is not the CMS layout\n" * 3)
    assert not_hcpcs.status_code == 422 and not_hcpcs.json()["errors"][0]["line"] is None
    unnamed = await import_file(api["claims"], "edits.txt", PTP)
    assert unnamed.status_code == 422 and unnamed.json()["errors"][0]["pointer"] == "/query/kind"
    undated = await import_file(api["claims"], "edits.txt", PTP, kind="ptp_practitioner")
    assert undated.status_code == 422 and undated.json()["errors"][0]["pointer"] == "/query/effective_date"
    not_a_file = await api["claims"].post("/v1/code-sets/files", json={"file": "x"})
    assert not_a_file.status_code == 415
    unknown_kind = await import_file(api["claims"], PTP_NAME, PTP, kind="cpt")
    assert unknown_kind.status_code == 422 and unknown_kind.json()["errors"][0]["pointer"] == "/query/kind"

    reader = httpx.AsyncClient(base_url=stack.services["claims"].url,
                               headers=auth_headers(stack, tenant, scopes=["claims:read"]))
    async with reader:
        assert (await reader.get("/v1/code-sets")).status_code == 200
        forbidden = await reader.post("/v1/code-sets/files", content=PTP, params={"filename": PTP_NAME},
                                      headers={"Content-Type": "text/plain"})
        assert forbidden.status_code == 403  # changing code sets needs codesets:admin
    # A practice's full access stops short of the code sets every practice's claims are scrubbed with.
    practice_admin = httpx.AsyncClient(base_url=stack.services["claims"].url,
                                       headers=auth_headers(stack, tenant, scopes=list(PRACTICE_SCOPES)))
    async with practice_admin:
        refused = await practice_admin.post("/v1/code-sets/files", content=PTP, params={"filename": PTP_NAME},
                                            headers={"Content-Type": "text/plain"})
        assert refused.status_code == 403 and "codesets:admin" in refused.headers["WWW-Authenticate"], refused.text
        assert (await practice_admin.delete("/v1/code-sets/files/1")).status_code == 403
    assert all(kind["versions"] == [] for kind in (await kinds(api)).values())


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def test_the_same_file_twice_is_one_import_and_a_cms_zip_is_opened(api):
    first = await import_file(api["claims"], MUE_NAME, MUE)
    again = await import_file(api["claims"], "MCR_MUE_PractitionerServices_copy.csv", MUE, kind="mue_practitioner",
                              effective_date="2020-01-01")
    assert (first.status_code, again.status_code) == (201, 200)
    [stored], [repeated] = first.json()["files"], again.json()["files"]
    assert repeated == {**stored, "already_imported": True}  # the first import, as it was

    release = zipped({MUE_NAME: MUE, HCPCS_NAME: HCPCS, f"HCPC{TODAY.year}_recordlayout.txt": b"layout",
                      "README.txt": b"synthetic"})
    from_zip = await import_file(api["claims"], "release.zip", release, media_type="application/zip")
    assert from_zip.status_code == 201, from_zip.text
    assert [(f["file_name"], f["kind"], f["already_imported"]) for f in from_zip.json()["files"]] == [
        (MUE_NAME, "mue_practitioner", True), (HCPCS_NAME, "hcpcs", False)]
    listed = await kinds(api)
    assert [len(v["files"]) for v in listed["mue_practitioner"]["versions"]] == [1]
    assert [len(v["files"]) for v in listed["hcpcs"]["versions"]] == [1]


async def test_a_withdrawn_file_gives_way_to_the_version_before_it(api):
    last_quarter = THIS_QUARTER - timedelta(days=90)
    earlier = await import_file(api["claims"], "mue-earlier.csv", MUE, kind="mue_practitioner",
                                effective_date=last_quarter.isoformat())
    current = await import_file(api["claims"], MUE_NAME, MUE.replace(b"99213,1,", b"99213,2,"))
    assert (earlier.status_code, current.status_code) == (201, 201)
    current_id = current.json()["files"][0]["id"]
    assert [v["status"] for v in (await kinds(api))["mue_practitioner"]["versions"]] == ["in_force", "superseded"]
    await loaded_everywhere(api, current_id)

    withdrawn = await api["claims"].delete(f"/v1/code-sets/files/{current_id}")
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_by"] == "test-user"
    listed = (await kinds(api))["mue_practitioner"]
    assert listed["in_force"] == last_quarter.isoformat() and len(listed["versions"]) == 1
    await loaded_everywhere(api, earlier.json()["files"][0]["id"])
    assert (await api["claims"].delete("/v1/code-sets/files/999999999")).status_code == 404


async def test_the_cli_imports_files_by_their_cms_names_and_lists_them(api, stack, tmp_path, monkeypatch, capsys):
    local = tmp_path / "local"
    local.mkdir()
    (local / "stack.json").write_text(json.dumps(stack.manifest()))
    monkeypatch.setenv("OPENRCM_LOCAL_DIR", str(local))
    for name, content in ((HCPCS_NAME, HCPCS), (PTP_NAME, PTP), (MUE_NAME, MUE)):
        (tmp_path / name).write_bytes(content)

    paths = [str(tmp_path / name) for name in (HCPCS_NAME, PTP_NAME, MUE_NAME)]
    assert await asyncio.to_thread(openrcm_stack, ["codesets", "import", *paths]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[:4] for line in printed] == [
        ["imported", "hcpcs", "from", THIS_QUARTER.isoformat()],
        ["imported", "ptp_practitioner", "from", THIS_QUARTER.isoformat()],
        ["imported", "mue_practitioner", "from", THIS_QUARTER.isoformat()]]
    assert "5 edits" in printed[1]

    assert await asyncio.to_thread(openrcm_stack, ["codesets", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"ptp_practitioner  NCCI PTP edits, practitioners (837P): in force from {THIS_QUARTER}" in listing
    assert f"in_force    {PTP_NAME}  (5 edits; imported by platform-operations" in listing

    (tmp_path / "broken.txt").write_bytes(b"not a code set\n")
    refused = await asyncio.to_thread(openrcm_stack, ["codesets", "import", str(tmp_path / "broken.txt"),
                                                      "--kind", "hcpcs", "--effective-date", "2026-01-01"])
    assert refused == 1 and "broken.txt" in capsys.readouterr().err
