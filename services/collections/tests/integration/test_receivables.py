"""Insurance receivables, A/R aging and KPIs on a real PostgreSQL, from events applied as the
consumer applies them (app role, row-level security), checked against figures worked by hand,
including as of past dates.

The practice (every amount in dollars; dates 2026):
  A  payer P1, service 01-05, billed 01-06, 500.00; remitted 02-10: paid 300, CO-45 150, PR-2 50
  D  the secondary of A, payer P3: created and billed 02-11 with 500.00; the primary left 50 to the patient
  B  payer P2, service 01-20, billed 01-21, 1,000.00; denied 02-15 (CO-50 1,000): held open
  C  payer P1, service 03-01, billed 03-02, 200.00; rejected once by a 277CA, no remittance
  Patient ledger: A's 50.00 coinsurance on 02-10, a 20.00 payment on 03-05, 10.00 written off as bad debt on 03-20.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from openrcm_collections.adapters.receivable_tables import (
    receivable_claims, receivable_daily_totals, receivable_month_ends, receivable_movements, receivable_rollup,
)
from openrcm_collections.adapters.tables import bill_claims, ledger_entries
from openrcm_collections.receivables.aging import (
    AgingBasis, AgingGroup, PatientCursor, PatientSort, aging, bucket_of, end_of_day, patient_page, totals,
)
from openrcm_collections.receivables.month_end import close_practice, closed_through, practices
from openrcm_collections.receivables.kpis import kpis, monthly_trend, period_figures
from openrcm_shared.contracts.claims import ClaimHeld, ClaimRejected, ClaimStatusChanged, RejectionReason
from openrcm_shared.contracts.remittance import Adjustment, ClaimReversed
from openrcm_shared.security.context import acting_for
from services.collections.tests.integration.receivable_events import (
    RunFailed, apply, apply_run, denied, ledger_entry, next_payer, posted, submitted,
)
from tests.support import role_engine_fixtures, scratch_database_fixtures

pytestmark = pytest.mark.stack

database_url, engine = scratch_database_fixtures("openrcm_collections_receivables", migrations_of="collections")
app_engine, system_engine = role_engine_fixtures("collections")

D = date


async def practice_of_four_claims(engine) -> tuple[str, dict[str, uuid.UUID]]:
    tenant = f"ar-{uuid.uuid4().hex[:8]}"
    ids = {name: uuid.uuid4() for name in "ABCD"}
    a, b, c, d = ids["A"], ids["B"], ids["C"], ids["D"]
    await apply(engine, submitted(tenant, a, payer="P1", patient="pat-1", charge="500.00", service=D(2026, 1, 5),
                                  billed=D(2026, 1, 6)), D(2026, 1, 6))
    await apply(engine, submitted(tenant, b, payer="P2", patient="pat-2", charge="1000.00", service=D(2026, 1, 20),
                                  billed=D(2026, 1, 21), financial_class="MB", npi="1992999998"), D(2026, 1, 21))
    remittance = uuid.uuid4()
    await apply(engine, posted(tenant, a, payer="P1", patient="pat-1", charge="500.00", paid="300.00",
                               adjustments=[("CO", "45", "150.00"), ("PR", "2", "50.00")]), D(2026, 2, 10))
    await apply(engine, next_payer(tenant, d, a, payer="P3", charge="500.00", prior_paid="300.00",
                                   prior_patient="50.00"), D(2026, 2, 11))
    await apply(engine, submitted(tenant, d, payer="P3", patient="pat-1", charge="500.00", service=D(2026, 1, 5),
                                  billed=D(2026, 2, 11), responsibility="S"), D(2026, 2, 11))
    await apply(engine, posted(tenant, b, payer="P2", patient="pat-2", charge="1000.00", paid="0.00",
                               adjustments=[("CO", "50", "1000.00")], outcome="denied", remittance_id=remittance),
                D(2026, 2, 15))
    await apply(engine, denied(tenant, b, payer="P2", patient="pat-2", amount="1000.00", remittance_id=remittance),
                D(2026, 2, 15))
    await apply(engine, submitted(tenant, c, payer="P1", patient="pat-3", charge="200.00", service=D(2026, 3, 1),
                                  billed=D(2026, 3, 2)), D(2026, 3, 2))
    await apply(engine, ClaimRejected(tenant_id=tenant, claim_id=c, version=1, acknowledgement="277CA",
                                      reasons=[RejectionReason(code="A7:21")]), D(2026, 3, 3))
    await ledger_entry(engine, tenant, "pat-1", a, "patient_responsibility", "50.00", D(2026, 2, 10))
    await ledger_entry(engine, tenant, "pat-1", a, "payment", "-20.00", D(2026, 3, 5))
    await ledger_entry(engine, tenant, "pat-1", a, "bad_debt", "-10.00", D(2026, 3, 20))
    return tenant, ids


async def aging_of(engine, tenant, as_of, basis=AgingBasis.SERVICE_DATE, group_by=AgingGroup.PAYER):
    with acting_for(tenant):
        async with engine.connect() as conn:
            return await aging(conn, tenant, as_of, basis, group_by)


def table(rows) -> dict[tuple[str, str], dict[str, Decimal]]:
    return {(row.group, row.receivable): {k: v for k, v in row.buckets.items() if v} for row in rows}


async def test_aging_as_of_past_dates_matches_the_hand_worked_balances(app_engine):
    tenant, _ = await practice_of_four_claims(app_engine)

    january = await aging_of(app_engine, tenant, D(2026, 1, 31))
    assert table(january) == {("P2", "insurance"): {"0_30": Decimal("1000.00")},
                              ("P1", "insurance"): {"0_30": Decimal("500.00")}}

    february = await aging_of(app_engine, tenant, D(2026, 2, 28))
    # A is settled by P1; D holds what P1 left (50); B's denial stays receivable; A's 50 is the patient's.
    assert table(february) == {("P2", "insurance"): {"31_60": Decimal("1000.00")},
                               ("P3", "insurance"): {"31_60": Decimal("50.00")},
                               ("patient", "patient"): {"31_60": Decimal("50.00")}}

    april = await aging_of(app_engine, tenant, D(2026, 4, 30))
    assert table(april) == {("P2", "insurance"): {"91_120": Decimal("1000.00")},
                            ("P1", "insurance"): {"31_60": Decimal("200.00")},
                            ("P3", "insurance"): {"91_120": Decimal("50.00")},
                            ("patient", "patient"): {"91_120": Decimal("20.00")}}
    assert totals(april)["total"] == Decimal("1270.00")
    assert totals(april, "insurance")["total"] == Decimal("1250.00")

    by_first_billed = await aging_of(app_engine, tenant, D(2026, 4, 30), basis=AgingBasis.FIRST_BILLED)
    assert table(by_first_billed) == {("P2", "insurance"): {"91_120": Decimal("1000.00")},
                                      ("P1", "insurance"): {"31_60": Decimal("200.00")},
                                      ("P3", "insurance"): {"61_90": Decimal("50.00")},
                                      ("patient", "patient"): {"91_120": Decimal("20.00")}}


async def test_aging_groups_by_financial_class_provider_and_patient(app_engine):
    tenant, _ = await practice_of_four_claims(app_engine)
    as_of = D(2026, 4, 30)
    by_class = table(await aging_of(app_engine, tenant, as_of, group_by=AgingGroup.FINANCIAL_CLASS))
    assert by_class == {("MB", "insurance"): {"91_120": Decimal("1000.00")},
                        ("CI", "insurance"): {"31_60": Decimal("200.00"), "91_120": Decimal("50.00")},
                        ("patient", "patient"): {"91_120": Decimal("20.00")}}
    by_provider = table(await aging_of(app_engine, tenant, as_of, group_by=AgingGroup.PROVIDER))
    assert by_provider == {("1992999998", "insurance"): {"91_120": Decimal("1000.00")},
                           ("1234567893", "insurance"): {"31_60": Decimal("200.00"), "91_120": Decimal("50.00")},
                           ("1234567893", "patient"): {"91_120": Decimal("20.00")}}
    by_patient = await patient_pages(app_engine, tenant, as_of, PatientSort.BALANCE, limit=1)
    # Largest balance first, one patient a page: pat-2 1,000; pat-3 200; pat-1 50 + 20.
    assert by_patient == [[("pat-2", "insurance", {"91_120": Decimal("1000.00")})],
                          [("pat-3", "insurance", {"31_60": Decimal("200.00")})],
                          [("pat-1", "insurance", {"91_120": Decimal("50.00")}),
                           ("pat-1", "patient", {"91_120": Decimal("20.00")})]]
    oldest_first = await patient_pages(app_engine, tenant, as_of, PatientSort.OLDEST_BUCKET, limit=2)
    assert [[row[0] for row in page] for page in oldest_first] == [["pat-2", "pat-1", "pat-1"], ["pat-3"]]


async def patient_pages(engine, tenant, as_of, sort, *, limit, basis=AgingBasis.SERVICE_DATE):
    """Every page of the aging by patient, following the cursors (each through its text form)."""
    pages, cursor = [], None
    with acting_for(tenant):
        while True:
            async with engine.connect() as conn:
                page = await patient_page(conn, tenant, as_of, basis, sort, limit, PatientCursor.decode(cursor))
            pages.append([(row.group, row.receivable, {k: v for k, v in row.buckets.items() if v})
                          for row in page.rows])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor.encode()
            assert len(pages) < 100


async def test_kpis_over_a_quarter_match_the_hand_worked_figures(app_engine):
    tenant, _ = await practice_of_four_claims(app_engine)
    with acting_for(tenant):
        async with app_engine.connect() as conn:
            figures = await period_figures(conn, tenant, D(2026, 1, 1), D(2026, 3, 31))
            trend = await monthly_trend(conn, tenant, D(2026, 1, 1), D(2026, 3, 31))
    measured = {k.key: k.value for k in kpis(figures)}
    # Charges 500 + 1,000 + 500 + 200 = 2,200; contractual 150 (the denial's CO-50 is no allowance);
    # collected 300 + 20 = 320; net revenue 2,050 over 90 days; A/R on 03-31 1,250 + 20 = 1,270.
    assert (figures.charges, figures.contractual, figures.insurance_paid, figures.patient_paid) == (
        Decimal("2200.00"), Decimal("150.00"), Decimal("300.00"), Decimal("20.00"))
    assert measured == {
        "days_in_ar": Decimal("55.8"),  # 1,270 / (2,050 / 90)
        "clean_claim_rate": Decimal("75.00"),  # C was rejected: 3 of 4
        "first_pass_resolution_rate": Decimal("50.00"),  # A paid, B denied
        "denial_rate_count": Decimal("50.00"),  # B of A and B
        "denial_rate_dollars": Decimal("66.67"),  # 1,000 / 1,500
        "net_collection_rate": Decimal("15.61"),  # 320 / 2,050
        "gross_collection_rate": Decimal("14.55"),  # 320 / 2,200
        "bad_debt_rate": Decimal("0.45"),  # 10 / 2,200
        "denial_write_off_rate": Decimal("0.00"),  # B's denial is still worked, not written off
    }
    assert [(m.month, m.insurance_collections, m.patient_collections, m.denied_dollars, m.denied_claims)
            for m in trend] == [
        ("2026-01", Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), 0),
        ("2026-02", Decimal("300.00"), Decimal("0.00"), Decimal("1000.00"), 1),
        ("2026-03", Decimal("0.00"), Decimal("20.00"), Decimal("0.00"), 0)]


async def test_a_reversal_reopens_the_decision_and_releases_the_denial_held_open(app_engine):
    tenant, ids = await practice_of_four_claims(app_engine)
    b = ids["B"]
    await apply(app_engine, ClaimReversed(
        tenant_id=tenant, claim_id=b, remittance_id=uuid.uuid4(), patient_id="pat-2", payer_id="P2",
        patient_control_number=str(b)[:20], reversed_paid_amount=Decimal("0.00"),
        reversed_patient_responsibility_amount=Decimal("0.00"),
        reversed_adjustments=[Adjustment(group_code="CO", carc="50", amount=Decimal("1000.00"))]), D(2026, 5, 4))
    # On appeal the payer pays 800 with a 200 contractual adjustment: B is settled.
    await apply(app_engine, posted(tenant, b, payer="P2", patient="pat-2", charge="1000.00", paid="800.00",
                                   adjustments=[("CO", "45", "200.00")]), D(2026, 5, 4))
    may = table(await aging_of(app_engine, tenant, D(2026, 5, 5)))
    assert ("P2", "insurance") not in may
    reversed_only = table(await aging_of(app_engine, tenant, D(2026, 4, 30)))
    assert reversed_only[("P2", "insurance")] == {"91_120": Decimal("1000.00")}


async def test_a_remittance_seen_before_its_submission_gets_the_claims_facts(app_engine):
    tenant = f"ar-{uuid.uuid4().hex[:8]}"
    claim = uuid.uuid4()
    await apply(app_engine, posted(tenant, claim, payer="P1", patient="pat-9", charge="100.00", paid="60.00",
                                   adjustments=[("CO", "45", "40.00")]), D(2026, 6, 20))
    await apply(app_engine, submitted(tenant, claim, payer="P1", patient="pat-9", charge="100.00",
                                      service=D(2026, 6, 1), billed=D(2026, 6, 2)), D(2026, 6, 2))
    assert table(await aging_of(app_engine, tenant, D(2026, 6, 30))) == {}
    # Before its remittance, the claim was receivable and aged from its service date.
    assert table(await aging_of(app_engine, tenant, D(2026, 6, 10))) == {("P1", "insurance"): {"0_30": Decimal("100.00")}}


async def worklist_on(engine, tenant, today):
    from openrcm_collections.receivables.follow_up import worklist_query

    with acting_for(tenant):
        async with engine.connect() as conn:
            listed = worklist_query(tenant, today).subquery()
            rows = (await conn.execute(sa.select(listed).order_by(listed.c.balance.desc(), listed.c.age_days.desc())))
            return [(row.claim_id, row.balance, row.age_days, row.reason, row.assignee) for row in rows]


async def test_the_worklist_ranks_by_dollars_then_age_and_honours_payer_ages_notes_and_denials(app_engine):
    from openrcm_collections.receivables.follow_up import CallOutcome, record_note, set_follow_up_age
    from openrcm_shared.contracts.claims import ClaimStatusChanged

    tenant, ids = await practice_of_four_claims(app_engine)
    today = D(2026, 4, 30)
    assert await worklist_on(app_engine, tenant, today) == [
        (ids["B"], Decimal("1000.00"), 99, "unpaid_past_follow_up_age", None),
        (ids["C"], Decimal("200.00"), 59, "unpaid_past_follow_up_age", None),
        (ids["D"], Decimal("50.00"), 78, "unpaid_past_follow_up_age", None)]

    with acting_for(tenant):
        async with app_engine.begin() as conn:
            await set_follow_up_age(conn, tenant, "P1", 60)  # C (59 days) is not due for P1 yet
            await record_note(conn, tenant, ids["D"], author="biller-1", note="called", outcome=CallOutcome.IN_PROCESS,
                              action=None, next_action_on=D(2026, 5, 10), assignee="biller-2", assign=True)
    await apply(app_engine, ClaimStatusChanged(tenant_id=tenant, claim_id=ids["B"], from_status="submitted",
                                               to_status="denied"), D(2026, 2, 15))
    assert await worklist_on(app_engine, tenant, today) == []  # B denied, C not due, D waits for 05-10
    assert [row[:4] for row in await worklist_on(app_engine, tenant, D(2026, 5, 10))] == [
        (ids["C"], Decimal("200.00"), 69, "unpaid_past_follow_up_age"),
        (ids["D"], Decimal("50.00"), 88, "unpaid_past_follow_up_age")]


# --- month-end snapshots -------------------------------------------------------------------------------


async def close_months(engine, tenant, now: datetime) -> date | None:
    with acting_for(tenant):
        await close_practice(engine, tenant, now)
        async with engine.connect() as conn:
            return await closed_through(conn, tenant)


async def aging_from_every_row(engine, tenant, as_of, basis, group_by):
    """The aging worked the long way, in Python, from every movement and ledger entry (no summary):
    each movement dated by then in the bucket of its own basis date; each claim's ledger balance in
    the bucket of its claim's date (an entry with no claim: its group's first entry)."""
    from openrcm_collections.adapters.receivable_tables import receivable_claims

    with acting_for(tenant):
        async with engine.connect() as conn:
            moves = (await conn.execute(sa.select(receivable_movements))).all()
            entries = (await conn.execute(sa.select(ledger_entries))).all()
            claims = {c.claim_id: c for c in (await conn.execute(sa.select(receivable_claims))).all()}
    cells: dict[tuple[str, str], dict[str, Decimal]] = {}

    def add(group, receivable, basis_date, amount):
        bucket = bucket_of((as_of - basis_date).days)
        row = cells.setdefault((group, receivable), {})
        row[bucket] = row.get(bucket, Decimal(0)) + amount

    for m in moves:
        if m.occurred_on <= as_of:
            basis_date = (m.service_date if basis is AgingBasis.SERVICE_DATE else m.first_billed_on) or m.occurred_on
            group = {AgingGroup.PAYER: m.payer_id, AgingGroup.FINANCIAL_CLASS: m.financial_class,
                     AgingGroup.PROVIDER: m.provider_npi}[group_by] or "unknown"
            add(group, "insurance", basis_date, m.amount)
    groups: dict[tuple, list] = {}
    for e in entries:
        if e.posted_at < end_of_day(as_of):
            groups.setdefault((e.claim_id, e.patient_id), []).append(e)
    for (claim_id, _), group_entries in groups.items():
        claim = claims.get(claim_id)
        first = min(e.posted_at for e in group_entries).astimezone(timezone.utc).date()
        claim_date = claim and (claim.service_date if basis is AgingBasis.SERVICE_DATE else claim.first_billed_on)
        provider = claim and (claim.rendering_provider_npi or claim.billing_provider_npi)
        group = (provider or "unknown") if group_by is AgingGroup.PROVIDER else "patient"
        add(group, "patient", claim_date or first, sum(e.amount for e in group_entries))
    return {key: {k: v for k, v in row.items() if v} for key, row in cells.items() if any(row.values())}


async def assert_every_report_as_worked_by_hand(engine, tenant, days):
    for as_of in days:
        for basis in AgingBasis:
            for group_by in (AgingGroup.PAYER, AgingGroup.FINANCIAL_CLASS, AgingGroup.PROVIDER):
                reported = table(await aging_of(engine, tenant, as_of, basis=basis, group_by=group_by))
                assert reported == await aging_from_every_row(engine, tenant, as_of, basis, group_by), (
                    as_of, basis, group_by)


EVERY_MONTH_END_AND_BETWEEN = [D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 28), D(2026, 3, 1),
                               D(2026, 3, 19), D(2026, 3, 20), D(2026, 3, 31), D(2026, 4, 1), D(2026, 4, 30)]


async def test_month_end_snapshots_give_the_same_aging_as_every_movement_across_month_boundaries(app_engine):
    tenant, ids = await practice_of_four_claims(app_engine)
    e = uuid.uuid4()  # billed on the last day of March, paid on the first of April
    await apply(app_engine, submitted(tenant, e, payer="P2", patient="pat-4", charge="80.00", service=D(2026, 3, 30),
                                      billed=D(2026, 3, 31)), D(2026, 3, 31))
    await apply(app_engine, posted(tenant, e, payer="P2", patient="pat-4", charge="80.00", paid="70.00",
                                   adjustments=[("CO", "45", "10.00")]), D(2026, 4, 1))
    before = {day: table(await aging_of(app_engine, tenant, day)) for day in EVERY_MONTH_END_AND_BETWEEN}

    # Closing January to March (April has not ended on 04-15) changes no figure, on any day.
    assert await close_months(app_engine, tenant, datetime(2026, 4, 15, tzinfo=timezone.utc)) == D(2026, 3, 1)
    assert {day: table(await aging_of(app_engine, tenant, day)) for day in EVERY_MONTH_END_AND_BETWEEN} == before
    assert before[D(2026, 3, 31)][("P2", "insurance")] == {"61_90": Decimal("1000.00"), "0_30": Decimal("80.00")}
    assert before[D(2026, 4, 1)][("P2", "insurance")] == {"61_90": Decimal("1000.00")}
    await assert_every_report_as_worked_by_hand(app_engine, tenant, EVERY_MONTH_END_AND_BETWEEN)

    with acting_for(tenant):  # the closed months' snapshots are read, not the movements before them
        async with app_engine.connect() as conn:
            await conn.execute(receivable_movements.update().where(
                receivable_movements.c.tenant_id == tenant, receivable_movements.c.occurred_on < D(2026, 3, 1))
                .values(amount=receivable_movements.c.amount * 1000))
            rows = await aging(conn, tenant, D(2026, 3, 31), AgingBasis.SERVICE_DATE, AgingGroup.PAYER)
            await conn.rollback()
    assert table(rows) == before[D(2026, 3, 31)]


async def test_a_late_movement_dated_into_a_closed_month_and_a_reversal_move_its_snapshot_and_the_later_ones(
        app_engine):
    tenant, ids = await practice_of_four_claims(app_engine)
    assert await close_months(app_engine, tenant, datetime(2026, 4, 15, tzinfo=timezone.utc)) == D(2026, 3, 1)
    # Consumed after the close, dated in closed months: D's payment (02-20) and B's reversal (03-20).
    await apply(app_engine, posted(tenant, ids["D"], payer="P3", patient="pat-1", charge="500.00", paid="40.00",
                                   adjustments=[("CO", "23", "450.00"), ("PR", "2", "10.00")]), D(2026, 2, 20))
    await apply(app_engine, ClaimReversed(
        tenant_id=tenant, claim_id=ids["B"], remittance_id=uuid.uuid4(), patient_id="pat-2", payer_id="P2",
        patient_control_number=str(ids["B"])[:20], reversed_paid_amount=Decimal("0.00"),
        reversed_patient_responsibility_amount=Decimal("0.00"),
        reversed_adjustments=[Adjustment(group_code="CO", carc="50", amount=Decimal("1000.00"))]), D(2026, 3, 20))
    # A remittance seen before its submission, both late into closed months: its cells move when the facts come.
    f = uuid.uuid4()
    await apply(app_engine, posted(tenant, f, payer="P1", patient="pat-5", charge="300.00", paid="100.00",
                                   adjustments=[("CO", "45", "50.00")]), D(2026, 3, 10))
    await apply(app_engine, submitted(tenant, f, payer="P1", patient="pat-5", charge="300.00", service=D(2026, 1, 10),
                                      billed=D(2026, 1, 12), financial_class="MC", npi="1003000126"), D(2026, 1, 12))

    feb_end = table(await aging_of(app_engine, tenant, D(2026, 2, 28)))
    assert ("P3", "insurance") not in feb_end  # D: 50 - 40 paid - 10 to the patient
    assert feb_end[("P1", "insurance")] == {"31_60": Decimal("300.00")}  # F billed in January, paid in March
    march_end = table(await aging_of(app_engine, tenant, D(2026, 3, 31)))
    # The reversal re-opens the denial's 1,000 and releases the hold: still 1,000 receivable.
    assert march_end[("P2", "insurance")] == {"61_90": Decimal("1000.00")}
    assert march_end[("P1", "insurance")] == {"0_30": Decimal("200.00"), "61_90": Decimal("150.00")}
    await assert_every_report_as_worked_by_hand(app_engine, tenant, EVERY_MONTH_END_AND_BETWEEN)
    # Closing April adds nothing wrong on top of the moved snapshots.
    assert await close_months(app_engine, tenant, datetime(2026, 5, 2, tzinfo=timezone.utc)) == D(2026, 4, 1)
    await assert_every_report_as_worked_by_hand(app_engine, tenant, [D(2026, 4, 30), D(2026, 5, 1)])


async def test_the_closer_finds_practices_with_receivables_as_the_system_role(app_engine, system_engine):
    tenant, _ = await practice_of_four_claims(app_engine)
    assert tenant in await practices(system_engine)


def test_a_cursor_this_report_did_not_write_is_a_problem_naming_the_cursor():
    from openrcm_shared.http.problems import Problem

    good = PatientCursor(3, Decimal("70.00"), "pat-1")
    assert PatientCursor.decode(good.encode()) == good
    for bad in ("not-base64!", PatientCursor(9, Decimal(1), "p").encode(), "W10", "WyJ4IiwiMSIsInAiXQ"):
        with pytest.raises(Problem) as raised:
            PatientCursor.decode(bad)
        assert raised.value.status == 400


# -- consumer runs: many events in one transaction, the summaries written once per cell at its commit --


def reversal_of(tenant, claim_id, *, payer: str, patient: str, amount: str) -> ClaimReversed:
    return ClaimReversed(
        tenant_id=tenant, claim_id=claim_id, remittance_id=uuid.uuid4(), patient_id=patient, payer_id=payer,
        patient_control_number=str(claim_id)[:20], reversed_paid_amount=Decimal("0.00"),
        reversed_patient_responsibility_amount=Decimal("0.00"),
        reversed_adjustments=[Adjustment(group_code="CO", carc="50", amount=Decimal(amount))])


def a_quarter_of_events(tenant, ids) -> list:
    """The four claims' events (practice_of_four_claims), a remittance seen before its submission
    (F) and a reversal: every path of the projection that reads back what the run wrote."""
    a, b, c, d, f = (ids[name] for name in "ABCDF")
    return [
        (submitted(tenant, a, payer="P1", patient="pat-1", charge="500.00", service=D(2026, 1, 5),
                   billed=D(2026, 1, 6)), D(2026, 1, 6)),
        (submitted(tenant, b, payer="P2", patient="pat-2", charge="1000.00", service=D(2026, 1, 20),
                   billed=D(2026, 1, 21), financial_class="MB", npi="1992999998"), D(2026, 1, 21)),
        (posted(tenant, f, payer="P1", patient="pat-5", charge="300.00", paid="100.00",
                adjustments=[("CO", "45", "50.00")]), D(2026, 2, 3)),
        (posted(tenant, a, payer="P1", patient="pat-1", charge="500.00", paid="300.00",
                adjustments=[("CO", "45", "150.00"), ("PR", "2", "50.00")]), D(2026, 2, 10)),
        (next_payer(tenant, d, a, payer="P3", charge="500.00", prior_paid="300.00", prior_patient="50.00"),
         D(2026, 2, 11)),
        (submitted(tenant, d, payer="P3", patient="pat-1", charge="500.00", service=D(2026, 1, 5),
                   billed=D(2026, 2, 11), responsibility="S"), D(2026, 2, 11)),
        (submitted(tenant, f, payer="P1", patient="pat-5", charge="300.00", service=D(2026, 1, 10),
                   billed=D(2026, 1, 12), financial_class="MC"), D(2026, 2, 12)),
        (posted(tenant, b, payer="P2", patient="pat-2", charge="1000.00", paid="0.00",
                adjustments=[("CO", "50", "1000.00")], outcome="denied"), D(2026, 2, 15)),
        (denied(tenant, b, payer="P2", patient="pat-2", amount="1000.00"), D(2026, 2, 15)),
        (submitted(tenant, c, payer="P1", patient="pat-3", charge="200.00", service=D(2026, 3, 1),
                   billed=D(2026, 3, 2)), D(2026, 3, 2)),
        (reversal_of(tenant, b, payer="P2", patient="pat-2", amount="1000.00"), D(2026, 3, 20)),
    ]


def late_events(tenant, ids) -> list:
    """Consumed after March was closed, dated into closed months (a remittance seen before its
    submission among them): they move the snapshots."""
    d, g = ids["D"], ids["G"]
    return [
        (posted(tenant, d, payer="P3", patient="pat-1", charge="500.00", paid="40.00",
                adjustments=[("CO", "23", "450.00"), ("PR", "2", "10.00")]), D(2026, 2, 20)),
        (posted(tenant, g, payer="P2", patient="pat-6", charge="90.00", paid="60.00",
                adjustments=[("CO", "45", "30.00")]), D(2026, 3, 10)),
        (submitted(tenant, g, payer="P2", patient="pat-6", charge="90.00", service=D(2026, 1, 2),
                   billed=D(2026, 1, 3), financial_class="MC", npi="1003000126"), D(2026, 1, 3)),
    ]


async def summaries_of(engine, tenant) -> dict[str, list]:
    """Every row the projection keeps for the practice, without the practice and the columns an
    event's own ids fill (so two practices fed the same events compare equal)."""
    unlike = {"tenant_id", "id", "source_event_id", "remittance_id"}
    found = {}
    with acting_for(tenant):
        async with engine.connect() as conn:
            for table_ in (receivable_claims, receivable_movements, receivable_rollup, receivable_daily_totals,
                           receivable_month_ends):
                columns = [c for c in table_.c if c.name not in unlike]
                rows = await conn.execute(sa.select(*columns).where(table_.c.tenant_id == tenant))
                found[table_.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


async def accounts_of(engine, tenant) -> dict[str, list]:
    """The practice's bills and patient accounts as the consumer left them, without what the time
    of applying fills in (two practices fed the same events compare equal)."""
    bills = sa.select(bill_claims.c.claim_id, bill_claims.c.primary_claim_id, bill_claims.c.patient_id,
                      bill_claims.c.payer_id, bill_claims.c.payer_responsibility, bill_claims.c.total_charge,
                      bill_claims.c.service_date_from, bill_claims.c.lines)
    entries = sa.select(ledger_entries.c.patient_id, ledger_entries.c.claim_id, ledger_entries.c.entry_kind,
                        ledger_entries.c.carc, ledger_entries.c.amount, ledger_entries.c.balance_after)
    with acting_for(tenant):
        async with engine.connect() as conn:
            return {name: sorted((tuple(row) for row in await conn.execute(query.where(table_.c.tenant_id == tenant))),
                                 key=repr)
                    for name, query, table_ in (("bills", bills, bill_claims), ("entries", entries, ledger_entries))}


def interleaved(*runs: list) -> list:
    return [event for events in zip(*runs) for event in events]


async def test_events_applied_in_consumer_runs_leave_the_summaries_of_events_applied_one_by_one(app_engine):
    ids = {name: uuid.uuid4() for name in "ABCDFG"}
    alone, in_runs, beside = (f"ar-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for event, at in a_quarter_of_events(alone, ids):
        await apply(app_engine, event, at)

    # A run that fails at its last event leaves nothing: what it summed in memory went with it.
    failing = a_quarter_of_events(in_runs, ids)
    with pytest.raises(RunFailed):
        await apply_run(app_engine, failing, fail_at=len(failing) - 1)
    assert all(rows == [] for rows in (await summaries_of(app_engine, in_runs)).values())

    # One run of two practices' events, interleaved: each practice's cells written once, acting for it.
    await apply_run(app_engine, interleaved(a_quarter_of_events(in_runs, ids), a_quarter_of_events(beside, ids)))
    expected = await summaries_of(app_engine, alone)
    assert expected["receivable_rollup"] and expected["receivable_daily_totals"]
    assert await summaries_of(app_engine, in_runs) == expected
    assert await summaries_of(app_engine, beside) == expected
    # The bills and accounts too: submissions are written at the commit, and read (a next payer's
    # claim joins its prior's bill, a payment settles it) after the run's earlier ones are written.
    accounts = await accounts_of(app_engine, alone)
    assert accounts["bills"] and accounts["entries"]
    assert await accounts_of(app_engine, in_runs) == accounts
    assert await accounts_of(app_engine, beside) == accounts

    # Late movements into closed months: the snapshots move alike (under the month-end lock, at the commit).
    for tenant in (alone, in_runs):
        assert await close_months(app_engine, tenant, datetime(2026, 4, 15, tzinfo=timezone.utc)) == D(2026, 3, 1)
    for event, at in late_events(alone, ids):
        await apply(app_engine, event, at)
    await apply_run(app_engine, late_events(in_runs, ids))
    expected = await summaries_of(app_engine, alone)
    assert expected["receivable_month_ends"]
    assert await summaries_of(app_engine, in_runs) == expected
    await assert_every_report_as_worked_by_hand(app_engine, in_runs, EVERY_MONTH_END_AND_BETWEEN)


def the_same_claims_billed_and_paid_in_one_run(tenant, ids) -> list:
    """Submissions and payments of the same claims close together, as one consumer run applies them:
    a claim billed then paid, billed twice (a corrected charge), rejected and billed again, paid
    before it is billed, billed after a hold opened its row, billed again after an earlier run,
    denied and the denial reversed; a status change between."""
    a, b, c, h, p, r = (ids[name] for name in "ABCHPR")
    return [
        (submitted(tenant, a, payer="P1", patient="pat-1", charge="100.00", service=D(2026, 1, 2),
                   billed=D(2026, 1, 5)), D(2026, 1, 5)),
        (submitted(tenant, b, payer="P2", patient="pat-2", charge="250.00", service=D(2026, 1, 3),
                   billed=D(2026, 1, 6), financial_class="MB"), D(2026, 1, 6)),
        (posted(tenant, a, payer="P1", patient="pat-1", charge="100.00", paid="60.00",
                adjustments=[("CO", "45", "30.00"), ("PR", "2", "10.00")]), D(2026, 2, 2)),
        (ClaimStatusChanged(tenant_id=tenant, claim_id=b, from_status="submitted", to_status="accepted_by_payer"),
         D(2026, 1, 7)),
        (submitted(tenant, b, payer="P2", patient="pat-2", charge="275.00", service=D(2026, 1, 3),
                   billed=D(2026, 1, 20), financial_class="MB"), D(2026, 1, 20)),
        (posted(tenant, p, payer="P1", patient="pat-4", charge="50.00", paid="40.00",
                adjustments=[("CO", "45", "10.00")]), D(2026, 2, 3)),
        (submitted(tenant, h, payer="P3", patient="pat-3", charge="80.00", service=D(2026, 1, 4),
                   billed=D(2026, 1, 8), npi="1992999998"), D(2026, 1, 8)),
        (submitted(tenant, p, payer="P1", patient="pat-4", charge="50.00", service=D(2026, 1, 5),
                   billed=D(2026, 1, 9)), D(2026, 1, 9)),
        (submitted(tenant, c, payer="P1", patient="pat-5", charge="40.00", service=D(2026, 1, 6),
                   billed=D(2026, 1, 10)), D(2026, 1, 10)),
        (ClaimRejected(tenant_id=tenant, claim_id=c, version=1, acknowledgement="999",
                       reasons=[RejectionReason(code="A7:21")]), D(2026, 1, 11)),
        (submitted(tenant, c, payer="P1", patient="pat-5", charge="40.00", service=D(2026, 1, 6),
                   billed=D(2026, 1, 12)), D(2026, 1, 12)),
        (submitted(tenant, r, payer="P2", patient="pat-6", charge="130.00", service=D(2025, 12, 1),
                   billed=D(2026, 1, 25)), D(2026, 1, 25)),
        (posted(tenant, b, payer="P2", patient="pat-2", charge="275.00", paid="0.00",
                adjustments=[("CO", "50", "275.00")], outcome="denied"), D(2026, 2, 15)),
        (denied(tenant, b, payer="P2", patient="pat-2", amount="275.00"), D(2026, 2, 15)),
        (reversal_of(tenant, b, payer="P2", patient="pat-2", amount="275.00"), D(2026, 3, 20)),
    ]


def before_the_run(tenant, ids) -> list:
    """Applied before the run, one transaction each: a hold opens H's row unbilled, R is billed once."""
    return [
        (ClaimHeld(tenant_id=tenant, claim_id=ids["H"], version=1, rule_set_version="2026.1", rule_ids=["R-1"]),
         D(2026, 1, 3)),
        (submitted(tenant, ids["R"], payer="P2", patient="pat-6", charge="120.00", service=D(2025, 12, 1),
                   billed=D(2025, 12, 3)), D(2025, 12, 3)),
    ]


async def balances_of(engine, tenant) -> dict[uuid.UUID, tuple[Decimal, Decimal]]:
    """Each claim's balance as its row keeps it, and as its movements sum."""
    m, rc = receivable_movements.c, receivable_claims.c
    summed = sa.select(m.claim_id, sa.func.sum(m.amount).label("moved")).where(m.tenant_id == tenant) \
        .group_by(m.claim_id).subquery()
    query = sa.select(rc.claim_id, rc.balance, summed.c.moved).outerjoin(summed, summed.c.claim_id == rc.claim_id) \
        .where(rc.tenant_id == tenant)
    with acting_for(tenant):
        async with engine.connect() as conn:
            return {row.claim_id: (row.balance, row.moved) for row in await conn.execute(query)}


async def movements_without_their_claims_facts(engine, tenant) -> list:
    """Movements whose reporting facts are not their claim's (none, once every claim's submission is seen)."""
    m, rc = receivable_movements.c, receivable_claims.c
    facts = sa.tuple_(rc.payer_id, rc.patient_id, rc.service_date, rc.first_billed_on, rc.financial_class,
                      sa.func.coalesce(rc.rendering_provider_npi, rc.billing_provider_npi))
    with acting_for(tenant):
        async with engine.connect() as conn:
            return (await conn.execute(
                sa.select(m.claim_id, m.movement_kind).join(receivable_claims, sa.and_(
                    rc.tenant_id == m.tenant_id, rc.claim_id == m.claim_id))
                .where(m.tenant_id == tenant, facts.is_distinct_from(sa.tuple_(
                    m.payer_id, m.patient_id, m.service_date, m.first_billed_on, m.financial_class, m.provider_npi))))
            ).all()


async def test_submissions_and_payments_of_the_same_claims_in_one_run_leave_what_one_by_one_leaves(app_engine):
    ids = {name: uuid.uuid4() for name in "ABCHPR"}
    alone, in_run, beside = (f"ar-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for tenant in (alone, in_run, beside):
        for event, at in before_the_run(tenant, ids):
            await apply(app_engine, event, at)
    for event, at in the_same_claims_billed_and_paid_in_one_run(alone, ids):
        await apply(app_engine, event, at)
    # Two practices' events interleaved in one run: each acting for its own practice.
    await apply_run(app_engine, interleaved(the_same_claims_billed_and_paid_in_one_run(in_run, ids),
                                            the_same_claims_billed_and_paid_in_one_run(beside, ids)))

    expected = await summaries_of(app_engine, alone)
    assert await summaries_of(app_engine, in_run) == expected
    assert await summaries_of(app_engine, beside) == expected
    assert await accounts_of(app_engine, in_run) == await accounts_of(app_engine, alone)
    # To the cent, by hand: A settled (100 - 60 - 30 - 10), B billed 250 then 275 and still owed after
    # its denial was reversed, P paid before it was billed, C billed once though sent twice.
    balances = await balances_of(app_engine, in_run)
    assert {name: balances[ids[name]] for name in "ABCHPR"} == {
        name: (Decimal(owed), Decimal(owed)) for name, owed in
        (("A", "0.00"), ("B", "275.00"), ("C", "40.00"), ("H", "80.00"), ("P", "0.00"), ("R", "130.00"))}
    with acting_for(in_run):
        async with app_engine.connect() as conn:
            claims = {row.claim_id: row for row in await conn.execute(
                sa.select(receivable_claims).where(receivable_claims.c.tenant_id == in_run))}
    assert {name: (claims[ids[name]].submission_count, claims[ids[name]].billed_amount) for name in "BCHR"} == {
        "B": (2, Decimal("275.00")), "C": (2, Decimal("40.00")), "H": (1, Decimal("80.00")),
        "R": (2, Decimal("130.00"))}
    assert (claims[ids["H"]].hold_count, claims[ids["C"]].rejection_count) == (1, 1)
    assert claims[ids["P"]].first_billed_on == D(2026, 1, 9)
    assert (claims[ids["A"]].financial_class, claims[ids["H"]].rendering_provider_npi) == ("CI", None)
    assert await movements_without_their_claims_facts(app_engine, in_run) == []
