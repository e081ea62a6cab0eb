"""The benchmarks' CPU meter: PostgreSQL's share told apart by what each of its processes serves."""

from __future__ import annotations

import pytest

from bench.cpu import CpuSample, postgres_part, usage_between


@pytest.mark.parametrize(("title", "part"), [
    ("postgres: openrcm_app openrcm_claims 127.0.0.1(51234) idle in transaction", "claims"),
    ("postgres: openrcm_app openrcm_denials [local] SELECT", "denials"),
    ("postgres: postgres postgres 127.0.0.1(40000) idle", "postgres"),
    ("postgres: autovacuum worker openrcm_claims", "autovacuum"),
    ("postgres: walwriter ", "server"),
    ("postgres: io worker 1", "server"),
    ("/usr/lib/postgresql/bin/postgres -D /data -p 55434", "server"),
])
def test_a_postgres_process_is_told_by_its_title(title, part):
    assert postgres_part(title) == part


def test_the_postgres_parts_are_shares_of_the_window():
    before = CpuSample(10.0, {"postgresql": 1.0}, 5.0, 100.0, {"claims": 0.5, "server": 0.5})
    after = CpuSample(12.0, {"postgresql": 2.0}, 7.0, 104.0, {"claims": 1.1, "server": 0.6, "autovacuum": 0.3})
    usage = usage_between(before, after)
    assert usage["postgresql_by_part_percent_of_one_core"] == {"claims": 30.0, "autovacuum": 15.0, "server": 5.0}
    assert usage["percent_of_one_core"]["postgresql"] == 50.0
