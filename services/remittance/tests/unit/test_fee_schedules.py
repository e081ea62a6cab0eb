"""Fee schedule CSV parsing, rate matching and variance arithmetic; every amount checked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from openrcm_remittance.domain.fee_schedules import (
    ContractedRates, FeeScheduleInvalid, FeeScheduleRow, LineKey, PostedLineFacts, assess_variance,
    parse_fee_schedule_csv, parse_rate,
)

HEADER = "procedure_code,modifier,allowed_amount,effective_from,effective_to\n"


def errors_of(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(FeeScheduleInvalid) as caught:
        parse_fee_schedule_csv(text)
    return [(e.pointer, e.line, e.detail) for e in caught.value.errors]


# -- parsing --------------------------------------------------------------------------------------------


def test_a_schedule_parses_with_optional_modifier_and_end_date():
    rows = parse_fee_schedule_csv(HEADER + "99213,,92.50,2026-01-01,\n"
                                           "93000,26,8.75,2026-01-01,2026-12-31\n"
                                           "j1100,,0.125,2026-01-01,\n")
    assert rows == [
        FeeScheduleRow("99213", None, D("92.50"), date(2026, 1, 1), None, 2),
        FeeScheduleRow("93000", "26", D("8.75"), date(2026, 1, 1), date(2026, 12, 31), 3),
        FeeScheduleRow("J1100", None, D("0.125"), date(2026, 1, 1), None, 4),  # upper-cased
    ]


def test_byte_order_mark_free_text_with_crlf_blank_lines_and_reordered_columns():
    text = ("effective_from,procedure_code,allowed_amount,modifier,effective_to\r\n\r\n"
            "2026-02-01,99214,130.00,,\r\n,,,,\r\n")
    assert parse_fee_schedule_csv(text) == [FeeScheduleRow("99214", None, D("130.00"), date(2026, 2, 1), None, 3)]


def test_errors_name_the_row_index_the_column_and_the_csv_line():
    text = HEADER + ("99213,,92.50,2026-01-01,\n"   # line 2, row 0: fine
                     "99214,,$130,2026-01-01,\n"    # line 3, row 1: currency sign
                     "9921,,50.00,2026-01-01,\n"    # line 4, row 2: not a procedure code
                     "99215,XYZ,50.00,01/02/2026,\n"  # line 5, row 3: modifier and date
                     "99203,,-5.00,2026-01-01,\n"   # line 6, row 4: negative
                     "99204,,1.23456,2026-01-01,\n"  # line 7, row 5: five decimal places
                     "99205,,10.00,2026-03-01,2026-02-28\n"  # line 8, row 6: ends before it starts
                     "99211,,10.00\n")              # line 9, row 7: too few fields
    found = errors_of(text)
    assert [(pointer, line) for pointer, line, _ in found] == [
        ("/rows/1/allowed_amount", 3), ("/rows/2/procedure_code", 4), ("/rows/3/modifier", 5),
        ("/rows/3/effective_from", 5), ("/rows/4/allowed_amount", 6), ("/rows/5/allowed_amount", 7),
        ("/rows/6/effective_to", 8), ("/rows/7", 9)]
    assert found[0][2].startswith("line 3, allowed_amount: must be a plain decimal")
    assert "at most 4 decimal places" in found[5][2]
    assert "has 3 fields; the header has 5" in found[7][2]


def test_header_must_name_the_five_columns():
    found = errors_of("procedure_code,modifier,amount,effective_from\n99213,,1.00,2026-01-01\n")
    assert [(p, line) for p, line, _ in found] == [("/header/2", 1), ("/header", 1)]
    assert "missing column(s): allowed_amount, effective_to" in found[1][2]


def test_empty_upload_and_header_only_upload_are_refused():
    assert errors_of("")[0][0] == "/header"
    assert errors_of(HEADER)[0][0] == "/rows"


def test_overlapping_spans_for_the_same_procedure_and_modifier_are_refused():
    text = HEADER + ("99213,,90.00,2026-01-01,2026-06-30\n"
                     "99213,25,90.00,2026-01-01,\n"        # another modifier: no overlap
                     "99213,,95.00,2026-06-30,\n")          # starts on the day the first ends
    [(pointer, line, detail)] = errors_of(text)
    assert (pointer, line) == ("/rows/2/effective_from", 4)
    assert "overlaps line 2" in detail


def test_consecutive_spans_are_fine():
    rows = parse_fee_schedule_csv(HEADER + "99213,,90.00,2026-01-01,2026-06-30\n99213,,95.00,2026-07-01,\n")
    assert [r.allowed_amount for r in rows] == [D("90.00"), D("95.00")]


def test_only_the_first_hundred_errors_are_listed_but_all_are_counted():
    text = HEADER + "".join("99213,,x,2026-01-01,\n" for _ in range(150))
    with pytest.raises(FeeScheduleInvalid) as caught:
        parse_fee_schedule_csv(text)
    assert (len(caught.value.errors), caught.value.total) == (100, 150)


def test_rate_parsing():
    assert parse_rate("125") == D("125")
    assert parse_rate("0.1234") == D("0.1234")
    assert parse_rate("9999999999.9999") == D("9999999999.9999")
    for bad in ("", "1e3", "NaN", "+5", "1,000.00", "12345678901.00", "10000000000"):
        with pytest.raises(ValueError):
            parse_rate(bad)


@pytest.mark.parametrize("huge", ["9" * 29, "1" * 40 + ".5", "0" * 50 + "1" + "0" * 30])
def test_a_rate_of_more_digits_than_the_decimal_context_holds_is_a_row_error(huge):
    # Found by fuzzing the upload: quantizing it raised InvalidOperation (a 500) instead of "too large".
    assert errors_of(HEADER + f"99213,,{huge},2026-01-01,\n") == [("/rows/0/allowed_amount", 2, "line 2, allowed_amount: too large")]


# -- matching -------------------------------------------------------------------------------------------


SCHEDULE = ContractedRates([
    FeeScheduleRow("99213", None, D("92.50"), date(2026, 1, 1), date(2026, 6, 30)),
    FeeScheduleRow("99213", None, D("95.00"), date(2026, 7, 1)),
    FeeScheduleRow("93000", None, D("17.50"), date(2026, 1, 1)),
    FeeScheduleRow("93000", "26", D("8.75"), date(2026, 1, 1)),
    FeeScheduleRow("93000", "TC", D("8.80"), date(2026, 1, 1), date(2026, 3, 31)),
    FeeScheduleRow("J1100", None, D("0.125"), date(2026, 1, 1)),  # per 1 mg unit
], variance_tolerance=D("1.00"))


def line(code, *modifiers, on=date(2026, 5, 1), units="1"):
    return LineKey(code, tuple(modifiers), on, D(units))


def test_effective_dates_choose_the_row_for_the_date_of_service():
    assert SCHEDULE.contracted_amount(line("99213", on=date(2026, 6, 30))) == D("92.50")  # last day, inclusive
    assert SCHEDULE.contracted_amount(line("99213", on=date(2026, 7, 1))) == D("95.00")
    assert SCHEDULE.contracted_amount(line("99213", on=date(2025, 12, 31))) is None  # before the schedule


def test_exact_modifier_first_else_the_unmodified_rate():
    assert SCHEDULE.contracted_amount(line("93000", "26")) == D("8.75")
    # 25 is informational: no row for it, so the plain rate applies
    assert SCHEDULE.contracted_amount(line("93000", "25")) == D("17.50")
    # modifiers are tried in the order the line lists them
    assert SCHEDULE.contracted_amount(line("93000", "59", "26")) == D("8.75")
    assert SCHEDULE.contracted_amount(line("93000", "TC", "26", on=date(2026, 3, 31))) == D("8.80")
    # TC's row ended on 2026-03-31: the next modifier, 26, prices the line
    assert SCHEDULE.contracted_amount(line("93000", "TC", "26", on=date(2026, 4, 1))) == D("8.75")
    assert SCHEDULE.contracted_amount(line("99999")) is None


def test_rate_is_per_unit_and_rounded_half_up_to_the_cent():
    # 92.50 x 2 = 185.00
    assert SCHEDULE.contracted_amount(line("99213", units="2")) == D("185.00")
    # 0.125 x 3 = 0.375 -> 0.38 (half up)
    assert SCHEDULE.contracted_amount(line("J1100", units="3")) == D("0.38")
    # 8.75 x 1.5 = 13.125 -> 13.13
    assert SCHEDULE.contracted_amount(line("93000", "26", units="1.5")) == D("13.13")
    assert SCHEDULE.contracted_amount(line("99213", units="0")) is None
    assert SCHEDULE.contracted_amount(line("99213", units="-1")) is None  # a reversal prices at nothing


# -- variances ------------------------------------------------------------------------------------------


def posted(allowed, paid="0.00", code="99213"):
    return PostedLineFacts(1, code, (), date(2026, 5, 1), D("1"), D(allowed), D(paid))


def test_underpayment_beyond_tolerance_is_flagged():
    # contracted 92.50, allowed 88.00 -> 4.50 short; tolerance 1.00 -> beyond
    variance = assess_variance(posted("88.00", "70.40"), D("92.50"), D("1.00"))
    assert (variance.variance_amount, variance.kind, variance.beyond_tolerance) == (D("4.50"), "underpayment", True)


def test_underpayment_within_tolerance_is_recorded_but_not_flagged():
    # 92.50 - 91.50 = 1.00: not beyond a 1.00 tolerance
    variance = assess_variance(posted("91.50"), D("92.50"), D("1.00"))
    assert (variance.variance_amount, variance.beyond_tolerance) == (D("1.00"), False)
    # with the default tolerance 0.00 even a cent is beyond: 92.50 - 92.49 = 0.01
    assert assess_variance(posted("92.49"), D("92.50")).beyond_tolerance is True


def test_overpayment_keeps_its_sign_and_is_never_flagged():
    # 92.50 - 100.00 = -7.50
    variance = assess_variance(posted("100.00"), D("92.50"))
    assert (variance.variance_amount, variance.kind, variance.beyond_tolerance) == (D("-7.50"), "overpayment", False)


def test_no_variance_when_on_contract_without_contract_or_denied():
    assert assess_variance(posted("92.50"), D("92.50")) is None
    assert assess_variance(posted("80.00"), None) is None
    assert assess_variance(posted("0.00"), D("92.50")) is None  # a denial, worked from ClaimDenied
    assert assess_variance(posted("-92.50"), D("92.50")) is None  # a reversal


# -- fuzzing the upload ---------------------------------------------------------------------------------

_CELLS = st.one_of(
    st.sampled_from(["", "99213", "j1100", "25", "92.50", "0.1234", "9" * 30, "1e3", "-1", "NaN", "2026-01-01",
                     "2026-02-30", "9999-12-31", "0001-01-01", '"', '""', "\x00", "é", "\u202e", " 99213 "]),
    st.text(max_size=10))


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(rows=st.lists(st.one_of(st.tuples(*[_CELLS] * 5), st.lists(_CELLS, max_size=7)).map(",".join), max_size=6),
       line_break=st.sampled_from(["\n", "\r\n", "\r"]), header=st.sampled_from([HEADER, HEADER.upper(), ""]))
def test_any_upload_is_a_schedule_or_a_list_of_row_errors(rows, line_break, header):
    try:
        parse_fee_schedule_csv(header + line_break.join(rows))
    except FeeScheduleInvalid as invalid:
        assert invalid.errors and all(e.pointer.startswith("/") for e in invalid.errors)
