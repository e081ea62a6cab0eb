"""POST /v1/estimates: the benefits (a standing answer, else a real-time check) and the payer's
rates, or for a self-pay patient the practice's charges, through domain/estimates.py."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa

from openrcm_eligibility.adapters.tables import eligibility_checks, fee_schedule_rates
from openrcm_eligibility.domain.estimates import (
    Estimate, EstimateLine, MissingPrice, PlannedService, Rate, estimate,
)
from openrcm_eligibility.domain.good_faith_estimate import (
    EstimatedItem, EstimatedProvider, GoodFaithEstimate, good_faith_estimate_pdf,
)
from openrcm_eligibility.entrypoints.schemas import EstimateOut, EstimateRequest
from openrcm_eligibility.service_layer.checks import CheckRequest
from openrcm_eligibility.service_layer.realtime import check_now
from openrcm_shared.http.problems import Problem, field_error

ZERO = Decimal("0.00")


def _planned(request: EstimateRequest) -> list[PlannedService]:
    return [PlannedService(s.procedure_code, s.units, tuple(s.modifiers), s.charge_amount, s.service_type,
                           s.description) for s in request.services]


def _missing_price(exc: MissingPrice) -> Problem:
    return Problem(422, "Service cannot be priced", "Give its charge: the payer has no contracted rate for it.",
                   type_="validation-error", errors=[field_error(f"/services/{exc.index}/charge_amount",
                                                                 "required: no contracted rate")])


async def insured_estimate(runtime, tenant_id: str, request: EstimateRequest) -> EstimateOut:
    check_id, _ = await check_now(runtime, tenant_id, CheckRequest(
        request.coverage_id, request.service_date, ["30"], request.provider_npi, request.provider_name,
        request.patient_id))
    async with runtime.engine.connect() as conn:
        check = (await conn.execute(sa.select(eligibility_checks).where(eligibility_checks.c.id == check_id))).one()
        if check.status == "pending":
            raise Problem(409, "Benefits not known yet", f"The payer has not answered check {check_id} yet; "
                          "ask again shortly.", type_="benefits-pending")
        if check.status != "active":
            raise Problem(422, "No active coverage to estimate with",
                          f"Eligibility check {check_id} answered {check.status}.", type_="validation-error",
                          errors=[field_error("/coverage_id", f"coverage {check.status} on the date of service")])
        rates = [Rate(r.procedure_code, r.modifier, r.allowed_amount, r.effective_from, r.effective_to)
                 for r in (await conn.execute(sa.select(fee_schedule_rates).where(
                     fee_schedule_rates.c.tenant_id == tenant_id, fee_schedule_rates.c.payer_id == check.payer_id,
                     fee_schedule_rates.c.procedure_code.in_({s.procedure_code for s in request.services})))).all()]
    try:
        result = estimate(_planned(request), summary=check.result["summary"], rates=rates,
                          service_date=request.service_date, network=request.network)
    except MissingPrice as exc:
        raise _missing_price(exc) from None
    return _out(result, request, check_id=check_id, payer_id=check.payer_id, self_pay=False)


def self_pay_estimate(request: EstimateRequest) -> EstimateOut:
    """Uninsured or self-pay: the patient pays the practice's charges."""
    lines = []
    for index, service in enumerate(request.services):
        if service.charge_amount is None:
            raise _missing_price(MissingPrice(index))
        lines.append(EstimateLine(index + 1, service.procedure_code, service.service_type or "", service.units,
                                  service.charge_amount, service.charge_amount, "charge", payer_pays=ZERO,
                                  patient_responsibility=service.charge_amount,
                                  explanation=["Self-pay: the practice's charge."]))
    total = sum((line.charge for line in lines), ZERO)
    return _out(Estimate(lines, total, total, ZERO, None, None, []), request, check_id=None, payer_id=None,
                self_pay=True)


def _out(result: Estimate, request: EstimateRequest, *, check_id, payer_id, self_pay: bool) -> EstimateOut:
    return EstimateOut(self_pay=self_pay, check_id=check_id, payer_id=payer_id, service_date=request.service_date,
                       network=request.network, lines=[vars(line) for line in result.lines],
                       total_allowed=result.total_allowed,
                       total_patient_responsibility=result.total_patient_responsibility,
                       total_payer_pays=result.total_payer_pays,
                       deductible_remaining_after=result.deductible_remaining_after,
                       out_of_pocket_remaining_after=result.out_of_pocket_remaining_after, notes=result.notes)


_GFE_FIELDS = ("patient", "primary_service", "provider_tax_id", "provider_address", "provider_state")


def good_faith_estimate(request: EstimateRequest) -> bytes:
    """The self-pay estimate as the good-faith estimate document (422 naming what it lacks)."""
    missing = [field_error(f"/{name}", "required for a good-faith estimate") for name in _GFE_FIELDS
               if getattr(request, name) is None]
    if missing:
        raise Problem(422, "Good-faith estimate incomplete", "45 CFR 149.610 requires these.",
                      type_="validation-error", errors=missing)
    out = self_pay_estimate(request)
    patient = request.patient
    return good_faith_estimate_pdf(GoodFaithEstimate(
        patient_name=f"{patient.first_name} {patient.last_name}", patient_birth_date=patient.birth_date,
        primary_service=request.primary_service, scheduled_date=request.service_date,
        provider=EstimatedProvider(request.provider_name, request.provider_npi, request.provider_tax_id,
                                   request.provider_address, request.provider_state),
        items=tuple(EstimatedItem(service.procedure_code, service.description or service.procedure_code,
                                  service.units, line.charge, tuple(service.diagnosis_codes))
                    for service, line in zip(request.services, out.lines)),
        issued_on=datetime.now(timezone.utc).date(), separately_scheduled=tuple(request.separately_scheduled)))



