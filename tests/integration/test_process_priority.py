"""Background processes of the stack run at lower CPU priority than the API the EHRs wait on."""

from __future__ import annotations

import os
import sys
import time

import pytest

from openrcm_devstack.process import (
    BACKGROUND_NICENESS_VARIABLE, ManagedProcess, autogroup_niceness, background_niceness,
)
from openrcm_devstack.services import cpu_niceness
from openrcm_devstack.stack import TEST_PORTS, Stack


def _lowered(own: int, by: int) -> int:
    return min(own + by, 19)  # the kernel's lowest priority


@pytest.mark.parametrize(("value", "niceness"), [(None, 6), ("", 6), ("0", 0), ("5", 5), ("19", 19)])
def test_background_niceness_from_the_environment(monkeypatch, value, niceness):
    if value is None:
        monkeypatch.delenv(BACKGROUND_NICENESS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(BACKGROUND_NICENESS_VARIABLE, value)
    assert background_niceness() == niceness
    assert cpu_niceness("api") == 0
    assert cpu_niceness("worker") == cpu_niceness("all") == niceness


@pytest.mark.parametrize("value", ["-1", "20", "ten", "1.5"])
def test_a_bad_background_niceness_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(BACKGROUND_NICENESS_VARIABLE, value)
    with pytest.raises(ValueError, match=BACKGROUND_NICENESS_VARIABLE):
        background_niceness()


def test_a_process_started_with_a_niceness_runs_at_it(tmp_path):
    own = os.getpriority(os.PRIO_PROCESS, 0)
    ready = tmp_path / "ready"
    process = ManagedProcess("sleeper", [sys.executable, "-c", f"import pathlib, time; pathlib.Path({str(ready)!r})"
                                         ".touch(); time.sleep(30)"], log_file=tmp_path / "sleeper.log", niceness=7)
    process.start()
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:  # `nice` has exec'd into the program
            time.sleep(0.05)
        assert ready.exists()
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == _lowered(own, 7)  # same pid as `nice`
        if autogroup_niceness(os.getpid()) is not None:  # sessions share the CPU first: its session is lowered too
            assert autogroup_niceness(process.pid) == 7
    finally:
        process.stop(timeout=5)


@pytest.mark.stack
def test_the_stack_runs_background_work_below_the_claims_api(stack):
    own = os.getpriority(os.PRIO_PROCESS, 0)
    priority = {name: os.getpriority(os.PRIO_PROCESS, service.process.pid) for name, service in stack.services.items()}
    first = ("claims", "claims-relay")  # the EHR's requests, and every claims event on its way out
    assert {name: priority[name] for name in first} == {name: own for name in first}
    background = _lowered(own, background_niceness())
    assert {name: priority[name] for name in priority if name not in first} == {
        name: background for name in ("claims-worker", "eligibility", "remittance", "denials", "collections")}
    assert os.getpriority(os.PRIO_PROCESS, stack.kafka.process.pid) == background  # no request waits on it
    if stack.clearinghouse is not None:  # stands for a party on another machine
        assert os.getpriority(os.PRIO_PROCESS, stack.clearinghouse.process.pid) == background
    if autogroup_niceness(os.getpid()) is not None:  # and each one's session, which the kernel shares CPU by
        assert {name: autogroup_niceness(service.process.pid) for name, service in stack.services.items()} == {
            **{name: 0 for name in first}, **{name: background_niceness() for name in priority if name not in first}}
        assert autogroup_niceness(stack.kafka.process.pid) == background_niceness()
    if stack.postgres is not None:  # the embedded server (not one named by DATABASE_URL)
        assert os.getpriority(os.PRIO_PROCESS, stack.postgres.process.pid) == own  # the claims API writes to it


def test_a_bad_background_niceness_stops_the_stack_before_it_starts(monkeypatch, tmp_path):
    monkeypatch.setenv(BACKGROUND_NICENESS_VARIABLE, "twenty")
    with pytest.raises(ValueError, match=BACKGROUND_NICENESS_VARIABLE):
        Stack(tmp_path / "stack", TEST_PORTS)
    assert not (tmp_path / "stack").exists()  # nothing made, nothing started
