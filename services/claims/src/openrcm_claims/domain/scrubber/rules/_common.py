"""Helpers shared by the rule modules."""

from __future__ import annotations

from functools import lru_cache

from openrcm_shared.codes import npi_is_valid

NONE = ()

# The same few NPIs come back on every claim of a practice: remember the check digit verdicts.
npi_ok = lru_cache(maxsize=65_536)(npi_is_valid)


def blank(value: str | None) -> bool:
    return value is None or not value.strip()
