"""ELIG.* rules: the payer's eligibility answers (271s, through the eligibility service) hold a claim."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from openrcm_claims.domain.scrubber import ScrubEligibility
from openrcm_shared.x12.eligibility_codes import service_types_for_procedure as service_types_of


def answer(b, status="active", *, day=None, authorization=()):
    return ScrubEligibility(day or b.DOS, status, "check-1", tuple(authorization))


def test_inactive_on_a_date_of_service_holds_with_the_check_as_evidence(run, b):
    other_day = b.DOS + timedelta(days=1)
    lines = (b.line(), b.line(2, service_date=other_day, procedure_code="93000", charge_amount=Decimal("40.00")))
    result = run(b.claim(lines=lines, eligibility=(answer(b, day=b.DOS), answer(b, "inactive", day=other_day))))
    [hit] = b.hits(result, "ELIG.COVERAGE_INACTIVE")
    assert hit.pointer == "/lines/1/service_date" and "eligibility check check-1" in hit.message
    assert result.blocked


def test_active_or_no_answer_passes(run, b):
    assert b.hits(run(b.claim(eligibility=(answer(b),))), "ELIG.COVERAGE_INACTIVE") == []
    assert b.hits(run(b.claim()), "ELIG.COVERAGE_INACTIVE") == []


def test_prior_authorization_required_for_the_line_service_type_without_a_number_holds(run, b):
    mri = b.line(procedure_code="70551", charge_amount=Decimal("900.00"))
    required = (answer(b, authorization=("62",)),)
    [hit] = b.hits(run(b.claim(lines=(mri,), eligibility=required)), "ELIG.PRIOR_AUTHORIZATION")
    assert hit.pointer == "/lines/0" and "62" in hit.message
    assert b.hits(run(b.claim(lines=(mri,), eligibility=required, prior_authorization="AUTH123")),
                  "ELIG.PRIOR_AUTHORIZATION") == []
    office = b.line(procedure_code="99213")
    assert b.hits(run(b.claim(lines=(office,), eligibility=required)), "ELIG.PRIOR_AUTHORIZATION") == []


def test_service_types_of_procedure_codes():
    assert service_types_of("70551") >= {"4", "62", "1", "30"}
    assert "98" in service_types_of("99213") and "5" in service_types_of("80053")
    assert service_types_of("J3301") == {"1", "30"}
