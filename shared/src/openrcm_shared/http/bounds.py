"""Integers as PostgreSQL stores them, for query and path parameters and body fields.

An `int` parameter compared with an `integer` column takes any Python integer, and one past the
column's range fails only in the driver ("value out of int32 range"): a 500 for a typo. Bounded by
these types, it is a 422 naming the parameter before any query runs (and the bounds show in the
OpenAPI document). tests/contracts/test_api_inputs.py checks that every integer an API takes is bounded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime

INT4_MIN, INT4_MAX = -(2 ** 31), 2 ** 31 - 1  # PostgreSQL integer
INT8_MIN, INT8_MAX = -(2 ** 63), 2 ** 63 - 1  # PostgreSQL bigint

Int4 = Annotated[int, Ge(INT4_MIN), Le(INT4_MAX)]
PositiveInt4 = Annotated[int, Ge(1), Le(INT4_MAX)]
Int8 = Annotated[int, Ge(INT8_MIN), Le(INT8_MAX)]
PositiveInt8 = Annotated[int, Ge(1), Le(INT8_MAX)]

# A day a revenue-cycle operation can be about (a statement run, a report's as-of date): the calendar's
# edges (0001-01-01, 9999-12-31) are valid dates, but arithmetic on them (a due date 21 days later, a
# cycle 28 days back) leaves the date type; 422 instead of a 500.
BUSINESS_DATE_MIN, BUSINESS_DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)
BusinessDate = Annotated[date, Ge(BUSINESS_DATE_MIN), Le(BUSINESS_DATE_MAX)]


def _in_business_era(value: datetime) -> datetime:
    # The year as written, before any conversion: 0001-01-01T01:00+06:06 in UTC is before year 1.
    if not BUSINESS_DATE_MIN.year <= value.year <= BUSINESS_DATE_MAX.year:
        raise ValueError(f"must be between {BUSINESS_DATE_MIN.year} and {BUSINESS_DATE_MAX.year}")
    return value


# An instant with its offset (a filter on when something happened), in the same years as BusinessDate.
BusinessDateTime = Annotated[AwareDatetime, AfterValidator(_in_business_era)]
