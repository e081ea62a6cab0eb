"""Helpers shared by the X12 reader and 835 tests: where the public sample files are, and a small
builder for hand-written interchanges with correct envelope counts (test data only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

_REPO_ROOT = next((parent for parent in Path(__file__).resolve().parents
                   if (parent / "deploy" / "topics.toml").exists()), None)
SAMPLES_DIR = _REPO_ROOT.parent / "shared" / "x12-samples" if _REPO_ROOT else None


def samples_dir() -> Path:
    """The handout's x12-samples folder beside the checkout; fails the test (never skips) when absent."""
    if SAMPLES_DIR is None or not SAMPLES_DIR.is_dir():
        pytest.fail(f"X12 sample files not found at {SAMPLES_DIR} (expected <repo root>/../shared/x12-samples "
                    "beside the checkout, as CI provides it)", pytrace=False)
    return SAMPLES_DIR


def sample(relative_path: str) -> Path:
    path = samples_dir() / relative_path
    if not path.is_file():
        pytest.fail(f"X12 sample file {relative_path} is missing from {samples_dir()}", pytrace=False)
    return path


# "ST", any one non-alphanumeric separator, "835", the same separator: an 835 transaction set header
# whatever element separator the file uses.
_ST_835 = re.compile(rb"(?:^|[^A-Za-z0-9])\s*ST([^A-Za-z0-9\s])835\1")


def files_holding_an_835() -> list[str]:
    """Every sample file (relative path) with an ST*835 in it, found by content, not by name."""
    root = samples_dir()
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*")
                  if path.is_file() and _ST_835.search(path.read_bytes()))


def isa(control_number: str = "000000001", *, element: str = "*", component: str = ":", repetition: str = "^",
        terminator: str = "~") -> str:
    """A fixed-width 5010 ISA (106 characters with its terminator)."""
    fields = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SENDER".ljust(15), "ZZ", "RECEIVER".ljust(15),
              "260302", "1405", repetition, "00501", control_number, "0", "T", component]
    return element.join(fields) + terminator


def interchange(*transactions: list[str], control_number: str = "000000001", group_control_number: str = "1",
                functional_code: str = "HP", version: str = "005010X221A1", element: str = "*", component: str = ":",
                repetition: str = "^", terminator: str = "~", line_break: str = "") -> str:
    """An interchange of one functional group holding `transactions`, each given as its segments
    between ST and SE (ST's first segment included, e.g. "ST*835*0001"); SE, GE and IEA are added
    with correct counts. Segments use "*" and ":" and are translated to the requested delimiters."""
    def render(segment: str) -> str:
        return segment.replace(":", "\0").replace("*", element).replace("\0", component) + terminator + line_break

    parts = [isa(control_number, element=element, component=component, repetition=repetition,
                 terminator=terminator) + line_break,
             render(f"GS*{functional_code}*SENDER*RECEIVER*20260302*1405*{group_control_number}*X*{version}")]
    for transaction in transactions:
        control = transaction[0].split("*")[2]
        parts += [render(segment) for segment in transaction]
        parts.append(render(f"SE*{len(transaction) + 1}*{control}"))
    parts.append(render(f"GE*{len(transactions)}*{group_control_number}"))
    parts.append(render(f"IEA*1*{control_number}"))
    return "".join(parts)


# A minimal, balanced 835 transaction for hand-built tests: $100 charged, $20 CO-45, $80 paid.
HEADER_835 = ["ST*835*0001", "BPR*I*80*C*CHK************20260302", "TRN*1*CHK1001*1512345678",
              "N1*PR*ACME HEALTH PLAN", "N1*PE*SUNRISE FAMILY MEDICINE*XX*1234567893"]
CLAIM_835 = ["LX*1", "CLP*PCN1*1*100*80**12*ICN1", "NM1*QC*1*DOE*JANE****MI*W123", "SVC*HC:99213*100*80**1",
             "DTM*472*20260220", "CAS*CO*45*20", "REF*6R*PCN1-1"]


def transaction_835(*body: str, header: list[str] | None = None) -> list[str]:
    """HEADER_835 (or `header`) followed by `body` (default: CLAIM_835)."""
    return [*(header or HEADER_835), *(body or CLAIM_835)]
