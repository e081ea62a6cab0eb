"""The code sets a claims process scrubs with, built from files imported into a real PostgreSQL:
imports are all or nothing, what is in force is loaded (with the environment's files for the kinds
nothing was imported for), a version waits for its effective date, unchanged kinds are reused, and
a stored file the loaders refuse leaves the previous code sets in force. Synthetic extracts only."""

from __future__ import annotations

from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest
import sqlalchemy as sa

from openrcm_claims.adapters import code_set_store
from openrcm_claims.adapters.tables import code_set_files
from openrcm_claims.service_layer.code_set_imports import Spooler, import_code_set_files
from openrcm_claims.service_layer.code_sets_in_force import CodeSetsInForce
from openrcm_shared.http.problems import Problem
from tests.support import scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_claims_code_sets", migrations_of="claims", pool_size=2)
TODAY = date(2026, 11, 2)


def synthetic_path(name: str) -> Path:
    return Path(str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}")))


def upload(name: str, content: bytes):
    spooler = Spooler(name, max_bytes=1 << 20, too_large=lambda: Problem(413, "too large"))
    spooler.write(content)
    return spooler.upload()


async def imported(engine, *uploads, **options):
    return await import_code_set_files(engine, list(uploads), kind=options.get("kind"),
                                       effective_date=options.get("effective_date"), actor="integration-test")


@pytest.fixture
async def empty(engine):
    async with engine.begin() as conn:
        await conn.execute(sa.delete(code_set_files))  # the chunks go with their files (ON DELETE CASCADE)
    return engine


async def test_an_import_is_all_or_nothing(empty):
    mue = upload("MCR_MUE_PractitionerServices_Eff_10-01-2026.csv", synthetic_path("mue_practitioner_synthetic.csv")
                 .read_bytes())
    broken = upload("HCPC2026_OCT_ANWEB_v2.txt", b"not the layout\n")
    with pytest.raises(Problem) as refused:
        await imported(empty, mue, broken)
    assert refused.value.status == 422 and refused.value.errors[0]["file_name"] == "HCPC2026_OCT_ANWEB_v2.txt"
    async with empty.connect() as conn:
        assert await code_set_store.listed_files(conn) == []
    [stored] = await imported(empty, upload(mue.file_name, synthetic_path("mue_practitioner_synthetic.csv")
                                            .read_bytes()))
    spool = await code_set_store.spool_content(empty, stored.row.id)
    assert spool.read() == synthetic_path("mue_practitioner_synthetic.csv").read_bytes()  # stored byte for byte


async def test_what_is_in_force_is_loaded_with_the_environments_files_and_kept_current(empty, monkeypatch):
    monkeypatch.setenv("OPENRCM_CLAIMS_HCPCS_FILE", str(synthetic_path("hcpcs_anweb_synthetic.txt")))
    in_force = CodeSetsInForce()
    assert await in_force.refresh(empty, TODAY) is True
    first = in_force.current
    assert first.hcpcs is not None and not first.mue and in_force.sources == {"hcpcs": "environment"}
    assert await in_force.refresh(empty, TODAY) is False  # nothing imported since

    mue = synthetic_path("mue_practitioner_synthetic.csv").read_bytes()
    await imported(empty, upload("MCR_MUE_PractitionerServices_Eff_10-01-2026.csv", mue),
                   upload("icd10cm_order_2027.txt", synthetic_path("icd10cm_order_synthetic.txt").read_bytes()))
    assert await in_force.refresh(empty, TODAY) is True
    second = in_force.current
    assert second.mue["professional"].get("99213").max_units == 1
    assert second.hcpcs is first.hcpcs  # the environment's file, loaded once
    assert second.icd10cm.last_day == date(2027, 9, 30)  # FY2027 from the imported order file
    assert second.icd10cm.is_billable("E11B1", date(2026, 11, 1))  # the synthetic file's invented code
    assert in_force.sources == {"hcpcs": "environment", "mue_practitioner": "imported", "icd10cm_order": "imported"}

    await imported(empty, upload("MCR_MUE_PractitionerServices_Eff_01-01-2027.csv", mue.replace(b"99213,1,", b"99213,3,")))
    assert await in_force.refresh(empty, TODAY) is False  # January's table waits for January
    assert await in_force.refresh(empty, date(2027, 1, 1)) is True
    third = in_force.current
    assert third.mue["professional"].get("99213").max_units == 3
    assert third.icd10cm is second.icd10cm  # unchanged kinds are reused, releases already read included
    assert second.mue["professional"].get("99213").max_units == 1  # a claim scrubbing with `second` keeps it


async def test_a_stored_file_the_loaders_refuse_leaves_the_previous_code_sets(empty):
    in_force = CodeSetsInForce()
    await imported(empty, upload("ccipra-v323r0-f1.txt", synthetic_path("ncci_ptp_practitioner_synthetic.txt")
                                 .read_bytes()))
    assert await in_force.refresh(empty, TODAY) is True
    before = in_force.current
    assert len(before.ptp["professional"]) == 5
    async with empty.begin() as conn:  # as if a later loader no longer read what an earlier one took
        bad_row = b"93000\t93005\t\t20261399\t*\t0\tno 13th month\n"
        await code_set_store.insert_file(conn, upload("x", bad_row).content, kind="ptp_practitioner",
                                         effective_date=date(2026, 10, 1), file_name="ccipra-v323r0-f2.txt",
                                         sha256="0" * 64, size_bytes=8, counts={"edits": 1}, imported_by="test")
    assert await in_force.refresh(empty, TODAY) is False
    assert in_force.current is before
    assert await in_force.refresh(empty, TODAY) is False  # not tried again until something changes
