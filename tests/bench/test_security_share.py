"""The security-share benchmark's tooling, without a stack: which samples count as security work
(on stacks written as py-spy writes them, and on a real py-spy recording of a process binding a
practice in a loop), and how the parts add up against the 10 % target."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap


from bench.security_share import (
    Attribution, CodeRegion, PySpySampler, find_py_spy, security_code, summarize,
)


def _regions() -> dict[str, CodeRegion]:
    return {region.label: region for region in security_code()}


def _frame(function: str, region: CodeRegion, line: int | None = None) -> str:
    return f"{function} (/srv/app/shared/src/{region.file}:{line or region.first_line + 1})"


ROOT = ["<module> (uvicorn/__main__.py:4)", "run (asyncio/runners.py:118)"]
APP = "handle (openrcm_claims/entrypoints/api.py:63)"


def test_a_sample_counts_for_the_innermost_security_code_on_its_stack():
    regions = _regions()
    tokens = regions["openrcm_shared.security.tokens"]
    authorization = regions["openrcm_shared.security.authorization"]
    rate_limits = regions["openrcm_shared.http.rate_limits"]
    raw = "\n".join([
        ";".join([*ROOT, APP, _frame("authorize", authorization), _frame("verify", tokens),
                  "decode (jwt/api_jws.py:90)"]) + " 7",
        ";".join([*ROOT, APP, _frame("authorize", authorization), _frame("take", rate_limits)]) + " 3",
        ";".join([*ROOT, APP, _frame("select_tenant", authorization)]) + " 2",
        ";".join([*ROOT, APP, "scrub (openrcm_claims/domain/scrubbing.py:40)"]) + " 88",
    ])
    figures = Attribution(security_code()).read(raw)
    assert figures["samples"] == 100
    assert figures["by_category"] == {"token verification": 7, "rate limit": 3, "authorization": 2}
    assert figures["by_code"]["token verification: verify (openrcm_shared/security/tokens.py)"] == 7


def test_what_a_security_wrapper_hands_over_is_not_security_work():
    regions = _regions()
    gate = regions["openrcm_shared.security.authorization"]
    connection = regions["PracticeBoundConnection.execute"]
    (gate_handover,) = gate.handover_lines
    (execute_handover,) = connection.handover_lines
    begin = regions["begin_for_practice"]
    raw = "\n".join([
        # the operations gate passing the request on: the whole request below it is not security
        ";".join([*ROOT, _frame("__call__", gate, gate_handover), APP]) + " 50",
        # asyncpg sending the BEGIN: the statement itself is not; building its SET LOCAL is
        ";".join([*ROOT, _frame("execute", connection, execute_handover), "execute (asyncpg/connection.py:350)"])
        + " 20",
        ";".join([*ROOT, _frame("execute", connection, execute_handover - 1), _frame("begin_for_practice", begin)])
        + " 4",
    ])
    figures = Attribution(security_code()).read(raw)
    assert figures["samples"] == 74
    assert figures["by_category"] == {"practice binding": 4}


async def test_a_real_py_spy_recording_is_attributed(tmp_path):
    """The benchmark's sampler (py-spy's own output: its frame format, file names, the GIL filter,
    stopped by SIGINT) on a process that spends about half its time binding a practice to BEGINs
    and the rest elsewhere."""
    script = tmp_path / "binding.py"
    script.write_text(textwrap.dedent("""
        import time
        from openrcm_shared.db import begin_for_practice
        from openrcm_shared.security.context import acting_for

        def elsewhere(until):
            while time.perf_counter() < until:
                sum(range(200))

        deadline = time.monotonic() + 20
        print("ready", flush=True)
        with acting_for("practice-a"):
            while time.monotonic() < deadline:
                until = time.perf_counter() + 0.002
                while time.perf_counter() < until:
                    begin_for_practice("BEGIN ISOLATION LEVEL READ COMMITTED;")
                elsewhere(time.perf_counter() + 0.002)
    """))
    py_spy = find_py_spy()
    assert py_spy is not None, "py-spy is a locked dev dependency (uv sync installs it)"
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    sampler = PySpySampler(py_spy, {"binding": worker.pid}, tmp_path / "samples", rate=100, limit_seconds=15,
                           attribution=Attribution(security_code()))
    try:
        assert worker.stdout.readline().strip() == "ready"
        async with asyncio.timeout(30):
            await sampler.window_started("run")
            await asyncio.sleep(3)
            figures = (await sampler.window_ended("run"))["processes"]["binding"]
    finally:
        sampler.close()
        worker.kill()
        worker.wait()
    assert figures["samples"] >= 200, figures
    share = figures["by_category"].get("practice binding", 0) / figures["samples"]
    assert 0.25 < share < 0.75, figures
    assert set(figures["by_category"]) == {"practice binding"}


def _run(arm: str, *, claims: int, pipeline: dict[str, float], transactions: int, samples: dict | None = None,
         cpu_percent: dict[str, float] | None = None) -> dict:
    return {"arm": arm, "created": claims, "cpu_ms_per_claim": {**pipeline, "clearinghouse": 9.0, "services": 99.0},
            "cpu": {"window_seconds": 10.0, "percent_of_one_core": cpu_percent or {}},
            "observed": {"transactions": {"openrcm_claims": transactions},
                         "sampling": {"processes": samples or {}}}}


def test_the_parts_add_up_against_the_target():
    # 1,000 claims in 10 s; the claims API busy 40 % of a core: 4 ms per claim gross. 2 % of its
    # samples verify tokens and 1 % bind practices: 80 µs + 40 µs per claim.
    claims_api = {"samples": 1000, "by_category": {"token verification": 20, "practice binding": 10}}
    # 2,100 transactions in the 10 s window, 10/s of them the idle stack's: 2 per claim
    common = dict(claims=1000, transactions=2100, samples={"claims": claims_api}, cpu_percent={"claims": 40.0})
    on = {"claims": 1.5, "postgresql": 1.10, "kafka": 0.4}
    off = {"claims": 1.5, "postgresql": 1.00, "kafka": 0.4}
    results = {"runs": [_run("on", pipeline=on, **common), _run("off", pipeline=off, **common)],
               "binding": {"binding_us": {"client_cpu_us": 15.0, "client_cpu_min_us": 12.0,
                                          "server_cpu_us": 4.0, "server_cpu_min_us": 5.0}},
               "transactions_at_rest_per_second": 10.0}
    summary = summarize(results)
    assert summary["transactions_per_claim"] == 2.0
    parts = {name: round(value * 1000, 3) for name, value in summary["parts_ms_per_claim"].items()}
    # client binding: the larger of sampled (40 µs) and 2 transactions x 15 µs (the larger of the
    # median and the lowest round); server 2 x 5 µs;
    # policies: PostgreSQL on - off, 100 µs
    assert parts == {"token verification": 80.0, "authorization": 0.0, "rate limit": 0.0,
                     "binding, client": 40.0, "binding, server": 10.0, "policies": 100.0}
    assert summary["pipeline_ms_per_claim"] == {"on": [3.0], "off": [2.9]}  # neither the simulator nor 'services'
    assert round(summary["share_of_pipeline_percent"], 3) == round(100 * 0.23 / 3.0, 3)
    assert round(summary["added_percent"], 3) == round(100 * 0.23 / 2.77, 3)
    assert summary["met"] is True


def test_a_policy_cost_measured_below_zero_is_not_subtracted():
    common = dict(claims=1000, transactions=1000)
    results = {"runs": [_run("on", pipeline={"postgresql": 1.0}, **common),
                        _run("off", pipeline={"postgresql": 1.2}, **common)],
               "binding": {"binding_us": {"client_cpu_us": -3.0, "client_cpu_min_us": -1.0,
                                          "server_cpu_us": 2.0, "server_cpu_min_us": 1.0}}}
    summary = summarize(results)
    assert round(summary["policies_ms_per_claim"], 3) == -0.2
    assert summary["parts_ms_per_claim"]["policies"] == 0.0
    assert summary["parts_ms_per_claim"]["binding, client"] == 0.0
    assert round(summary["total_ms_per_claim"] * 1000, 3) == 2.0
