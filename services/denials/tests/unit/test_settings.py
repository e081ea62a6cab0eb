"""SLA hours per status: defaults, a deployment's JSON over them, 0 turning one off."""

from openrcm_denials.settings import DEFAULT_SLA_HOURS, WorklistSettings


def test_defaults_cover_every_unresolved_status():
    assert WorklistSettings().sla_hours_by_status() == DEFAULT_SLA_HOURS
    assert set(DEFAULT_SLA_HOURS) == {"open", "in_progress", "waiting_on_clinical", "corrected_resubmitted", "appealed"}


def test_the_environment_overrides_some_and_turns_off_others(monkeypatch):
    monkeypatch.setenv("OPENRCM_DENIALS_SLA_HOURS", '{"open": 24, "appealed": 0}')
    hours = WorklistSettings().sla_hours_by_status()
    assert hours["open"] == 24 and "appealed" not in hours and hours["in_progress"] == 120
