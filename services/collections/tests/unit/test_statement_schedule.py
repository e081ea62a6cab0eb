"""When the service's own statement cycle is due (practice_cycle.statement_day) and its setting."""

from datetime import date, datetime, time, timezone

from openrcm_collections.service_layer.practice_cycle import statement_day
from openrcm_collections.settings import CollectionsSettings


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 7, hour, minute, tzinfo=timezone.utc)


def test_the_days_run_is_due_from_the_run_time_on():
    assert statement_day(at(5, 59), time(6, 0)) is None
    assert statement_day(at(6, 0), time(6, 0)) == date(2026, 12, 7)
    assert statement_day(at(23, 59), time(6, 0)) == date(2026, 12, 7)


def test_no_run_time_means_no_run_of_the_services_own(monkeypatch):
    assert statement_day(at(12, 0), None) is None
    monkeypatch.setenv("COLLECTIONS_STATEMENT_RUN_TIME", "")
    assert CollectionsSettings().statement_run_time is None
    monkeypatch.setenv("COLLECTIONS_STATEMENT_RUN_TIME", "07:30")
    assert CollectionsSettings().statement_run_time == time(7, 30)
    monkeypatch.delenv("COLLECTIONS_STATEMENT_RUN_TIME")
    assert CollectionsSettings().statement_run_time == time(6, 0)
