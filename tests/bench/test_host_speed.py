"""The host-speed probe: a fixed piece of work timed in CPU time, beside every benchmark figure."""

from __future__ import annotations

import time

from bench import host_speed, report


def test_a_round_is_the_same_work_each_time_and_takes_cpu_time():
    rounds = [host_speed.one_round() for _ in range(3)]
    assert all(r > 0 for r in rounds)
    summary = host_speed.summarize(rounds)
    assert summary["rounds"] == 3
    assert summary["min_ms"] <= summary["median_ms"] <= summary["max_ms"]


def test_the_probe_runs_in_a_process_of_its_own():
    probe = host_speed.probe(rounds=2)
    assert probe["rounds"] == 2 and probe["median_ms"] > 0, probe


def test_the_probe_during_a_run_reports_each_round_it_took():
    during = host_speed.ProbeDuringRun(every=0.05)
    during.start()
    time.sleep(1.5)  # the child's start-up and a warm-up round first
    summary = during.stop()
    assert summary["rounds"] >= 2 and summary["median_ms"] > 0, summary
    assert len(summary["by_second"]) == summary["rounds"]
    seconds = [at for at, _ in summary["by_second"]]
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert during.stop() == {}  # stopping twice is harmless


def test_a_line_cut_short_when_the_probe_is_stopped_is_left_out():
    assert host_speed._timed_rounds("0.5 10.25\n3.51 11.0\n6.5") == [(0.5, 10.25), (3.51, 11.0)]


def test_the_report_shows_the_host_speed_before_during_and_after():
    results = {"host_speed": {"before": {"rounds": 7, "median_ms": 17.2, "min_ms": 10.1, "max_ms": 18.0},
                              "after": {"error": "boom"}},
               "runs": [{"label": "json open 300/s",
                         "host_speed": {"rounds": 3, "median_ms": 13.5, "min_ms": 10.4, "max_ms": 16.0,
                                        "by_second": [[0.1, 10.4], [3.1, 13.5], [6.2, 16.0]]}}]}
    lines = report.host_speed_lines(results)
    # Slow rounds are judged against the fastest quiet round (10.1 ms), not the quiet median,
    # which a slow minute of the host raised to 17.2 here.
    assert lines == ["  before the stack started: median 17.2, min 10.1, max 18 ms (7 rounds)",
                     "  during json open 300/s: median 13.5, min 10.4, max 16 ms (3 rounds)",
                     "    rounds over 1.5x the fastest quiet round, by second of the run: 6.2 s 16 ms",
                     "  after the stack stopped: not measured"]
    assert report.host_speed_lines({"runs": []}) == []
