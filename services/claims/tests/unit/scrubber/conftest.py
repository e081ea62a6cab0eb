"""Synthetic claims and code sets for the scrubber tests (no real patient, provider or CMS edit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from importlib.resources import files

import pytest

from openrcm_claims.domain.scrubber import (
    CodeSets, ScrubClaim, ScrubInstitutional, ScrubLine, ScrubLineAdjudication, ScrubPayer, ScrubPriorPayer,
    ScrubProvider, load_hcpcs_file, load_mue_files, load_ptp_files, scrub,
)

TODAY = date(2026, 6, 15)
DOS = date(2026, 6, 1)  # FY2026, April 1 2026 update in force
BILLING_NPI = "1234567893"
RENDERING_NPI = "1245319599"
PAYER_ID = "60054"
MEMBER_ID = "SYN0000001"
LAST_NAME = "Testperson"
BIRTH_DATE = date(1958, 3, 14)


def synthetic(name: str) -> str:
    return str(files("openrcm_claims.domain.scrubber").joinpath(f"data/synthetic/{name}"))


class Registry:
    """Enrollments: everyone is enrolled unless listed in `missing` as (npi, payer) or with a
    termination date as {(npi, payer): last_enrolled_day}."""

    def __init__(self, missing=(), ends=None):
        self.missing = set(missing)
        self.ends = dict(ends or {})
        self.calls = 0

    def is_enrolled(self, npi: str, payer_id: str, on: date) -> bool:
        self.calls += 1
        if (npi, payer_id) in self.missing:
            return False
        end = self.ends.get((npi, payer_id))
        return end is None or on <= end


def line(number: int = 1, **changes) -> ScrubLine:
    base = ScrubLine(line_number=number, procedure_code="99213", modifiers=(), units=Decimal("1"),
                     charge_amount=Decimal("120.00"), service_date=DOS, service_date_to=None, place_of_service=None,
                     diagnosis_pointers=(1, 2))
    return replace(base, **changes)


BILLING = ScrubProvider(npi=BILLING_NPI, tax_id="123456789", name="Synthetic Family Clinic",
                        address_line1="100 Main Street", city="Springfield", state="IL", postal_code="627011234")
RENDERING = ScrubProvider(npi=RENDERING_NPI, tax_id=None, name="Synthetic Doctor", address_line1=None, city=None,
                          state=None, postal_code=None)
PAYER = ScrubPayer(payer_id=PAYER_ID, name="Synthetic Health Plan", timely_filing_days=365, enrollment_required=True,
                   claim_types=frozenset({"professional", "institutional"}))


def claim(**changes) -> ScrubClaim:
    """A clean three-line 837P claim; keyword arguments replace fields (total_charge follows the
    lines unless given)."""
    lines = changes.pop("lines", (
        line(1),
        line(2, procedure_code="36415", charge_amount=Decimal("15.00"), diagnosis_pointers=(1,)),
        line(3, procedure_code="93000", charge_amount=Decimal("40.00"), diagnosis_pointers=(2,)),
    ))
    total = changes.pop("total_charge", sum((item.charge_amount for item in lines), Decimal(0)))
    base = ScrubClaim(claim_type="professional", patient_control_number="R0123456789ABCDEF", total_charge=total,
                      billing_provider=BILLING, rendering_provider=RENDERING, referring_provider=None,
                      subscriber_member_id=MEMBER_ID, subscriber_last_name=LAST_NAME, subscriber_birth_date=BIRTH_DATE,
                      payer=PAYER, diagnosis_codes=("E119", "I10"), place_of_service="11", lines=lines)
    return replace(base, **changes)


ATTENDING = ScrubProvider(npi="1333333338", tax_id=None, name="Synthetic Attending", address_line1=None, city=None,
                          state=None, postal_code=None)
OUTPATIENT = ScrubInstitutional(type_of_bill="131", admission_date=None, admission_type=None, admission_source=None,
                                patient_status="01", statement_from=DOS, statement_to=DOS)


def institutional(details: ScrubInstitutional | None = OUTPATIENT, **changes) -> ScrubClaim:
    """A clean two-line 837I outpatient claim (type of bill 131), lines with revenue codes."""
    lines = changes.pop("lines", (
        line(1, procedure_code="99284", revenue_code="0450", charge_amount=Decimal("850.00"), diagnosis_pointers=()),
        line(2, procedure_code="85025", revenue_code="0300", charge_amount=Decimal("42.75"), diagnosis_pointers=()),
    ))
    base = claim(claim_type="institutional", lines=lines, place_of_service=None, rendering_provider=None,
                 attending_provider=ATTENDING, institutional=details)
    return replace(base, **changes)


def secondary(paid: str = "80.00", **changes) -> ScrubClaim:
    """The clean claim billed to a second payer, with the first payer's balanced adjudication:
    line 1 120.00 - 40.00 = 80.00 paid; lines 2 and 3 (15.00, 40.00) adjusted in full."""
    prior = ScrubPriorPayer(payer_id="PRIM1", paid_amount=Decimal(paid), claim_adjustment_total=Decimal("0"), lines=(
        ScrubLineAdjudication(1, Decimal("80.00"), Decimal("40.00")),
        ScrubLineAdjudication(2, Decimal("0"), Decimal("15.00")),
        ScrubLineAdjudication(3, Decimal("0"), Decimal("40.00"))))
    return claim(prior_payers=(prior,), **changes)


def on(day: date, **changes) -> ScrubClaim:
    """The clean claim with every line on `day`."""
    base = claim(**changes)
    return replace(base, lines=tuple(replace(item, service_date=day) for item in base.lines))


@pytest.fixture(scope="session")
def shipped() -> CodeSets:
    """Only what ships for production: ICD-10-CM from the packages, POS, modifiers."""
    return CodeSets.shipped()


@pytest.fixture(scope="session")
def code_sets(shipped) -> CodeSets:
    """Shipped code sets plus the synthetic NCCI, MUE and HCPCS extracts."""
    return CodeSets.shipped(
        icd10cm=shipped.icd10cm,
        hcpcs=load_hcpcs_file(synthetic("hcpcs_anweb_synthetic.txt"), label="synthetic HCPCS"),
        ptp_practitioner=load_ptp_files(synthetic("ncci_ptp_practitioner_synthetic.txt"), label="synthetic PTP"),
        mue_practitioner=load_mue_files(synthetic("mue_practitioner_synthetic.csv"), label="synthetic MUE"),
    )


@pytest.fixture
def run(code_sets):
    def run_(subject: ScrubClaim, *, today: date = TODAY, enrollments=None, sets: CodeSets | None = None):
        return scrub(subject, today=today, code_sets=sets or code_sets, enrollments=enrollments or Registry())
    return run_


def rule_ids(result) -> list[str]:
    return [hit.rule_id for hit in result.hits]


def hits_of(result, rule_id: str):
    return [hit for hit in result.hits if hit.rule_id == rule_id]


class Builders:
    """The helpers above, handed to tests as the `b` fixture (test modules cannot import conftest)."""
    TODAY = TODAY
    DOS = DOS
    BILLING = BILLING
    RENDERING = RENDERING
    PAYER = PAYER
    MEMBER_ID = MEMBER_ID
    LAST_NAME = LAST_NAME
    BIRTH_DATE = BIRTH_DATE
    BILLING_NPI = BILLING_NPI
    RENDERING_NPI = RENDERING_NPI
    PAYER_ID = PAYER_ID
    Registry = Registry
    claim = staticmethod(claim)
    institutional = staticmethod(institutional)
    secondary = staticmethod(secondary)
    OUTPATIENT = OUTPATIENT
    line = staticmethod(line)
    on = staticmethod(on)
    ids = staticmethod(rule_ids)
    hits = staticmethod(hits_of)
    synthetic = staticmethod(synthetic)
    days = staticmethod(lambda n: timedelta(days=n))


@pytest.fixture(scope="session")
def b() -> type[Builders]:
    return Builders
