"""A patient's expected responsibility for planned services, from the payer's benefits (a 271's
normalized summary) and the payer's contracted rates.

Per service, in the order given (a deductible is met by the first services of a visit):

1. allowed amount: the contracted rate for the procedure (and its first modifier, else the rate
   without one) on the date of service, times the units; without a rate, the practice's charge;
2. not covered (EB*I for its service type): the patient pays the allowed amount;
3. a copay for its service type: the patient pays the copay (at most the allowed amount) and the
   deductible does not apply (how most plans treat copay services; the explanation says so);
4. otherwise the deductible left is applied first, then the coinsurance on the rest;
5. the patient's share never exceeds the out-of-pocket maximum left.

Benefits are read for the network the provider is in ("in", else "out"), falling back to values
the payer gave for any network. Money is Decimal, rounded to the cent at each line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from openrcm_shared.x12.eligibility_codes import PLAN_SERVICE_TYPE, SERVICE_TYPES, service_types_for_procedure

ZERO = Decimal("0.00")
_CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PlannedService:
    procedure_code: str
    units: Decimal = Decimal(1)
    modifiers: tuple[str, ...] = ()
    charge: Decimal | None = None  # the practice's charge for all units
    service_type: str | None = None  # the 271 service type its benefits are under; default by procedure code
    description: str | None = None


@dataclass(frozen=True)
class Rate:
    procedure_code: str
    modifier: str | None
    allowed_amount: Decimal  # per unit
    effective_from: date
    effective_to: date | None


@dataclass
class EstimateLine:
    line_number: int
    procedure_code: str
    service_type: str
    units: Decimal
    charge: Decimal | None
    allowed_amount: Decimal
    allowed_source: str  # fee_schedule | charge
    deductible: Decimal = ZERO
    copay: Decimal = ZERO
    coinsurance: Decimal = ZERO
    not_covered: Decimal = ZERO
    patient_responsibility: Decimal = ZERO
    payer_pays: Decimal = ZERO
    explanation: list[str] = field(default_factory=list)


@dataclass
class Estimate:
    lines: list[EstimateLine]
    total_allowed: Decimal
    total_patient_responsibility: Decimal
    total_payer_pays: Decimal
    deductible_remaining_after: Decimal | None
    out_of_pocket_remaining_after: Decimal | None
    notes: list[str]


class MissingPrice(ValueError):
    """A service has neither a contracted rate nor a charge: it cannot be priced."""

    def __init__(self, index: int) -> None:
        super().__init__(f"service {index} has no contracted rate and no charge")
        self.index = index


def rate_for(rates: Sequence[Rate], procedure_code: str, modifiers: Sequence[str], on: date) -> Rate | None:
    """The rate for the procedure with its first modifier, else without a modifier, in force on `on`."""
    in_force = [r for r in rates if r.procedure_code == procedure_code and r.effective_from <= on
                and (r.effective_to is None or on <= r.effective_to)]
    first = modifiers[0] if modifiers else None
    return next((r for r in in_force if first and r.modifier == first), None) or \
        next((r for r in in_force if not r.modifier), None)


def _benefit_service_type(service: PlannedService, summary: dict) -> str:
    if service.service_type:
        return service.service_type
    candidates = service_types_for_procedure(service.procedure_code) - {"1", PLAN_SERVICE_TYPE}
    specific = sorted(candidates & set(summary))
    return specific[0] if specific else ("1" if "1" in summary else PLAN_SERVICE_TYPE)


class _Reader:
    """One service type's benefits for the provider's network, as Decimals."""

    def __init__(self, summary: dict, service_type: str, network: str) -> None:
        self.values = summary.get(service_type) or summary.get(PLAN_SERVICE_TYPE) or {}
        self.network = network

    def amount(self, name: str) -> Decimal | None:
        values = self.values.get(name) or {}
        for key in (self.network, "any"):
            if values.get(key) is not None:
                return Decimal(values[key])
        return None

    @property
    def non_covered(self) -> bool:
        return bool(self.values.get("non_covered"))


def estimate(services: Sequence[PlannedService], *, summary: dict, rates: Sequence[Rate], service_date: date,
             network: str = "in", rate_lookup: Callable = rate_for) -> Estimate:
    """Price each service and split it between patient and payer (see the module docstring)."""
    plan = _Reader(summary, PLAN_SERVICE_TYPE, network)
    deductible_left = plan.amount("deductible_remaining")
    out_of_pocket_left = plan.amount("out_of_pocket_remaining")
    notes = []
    if deductible_left is None:
        notes.append("The payer gave no deductible left: none is applied.")
    if out_of_pocket_left is None:
        notes.append("The payer gave no out-of-pocket maximum left: the patient's share is not capped.")
    lines = []
    for index, service in enumerate(services):
        line, deductible_left, out_of_pocket_left = _line(
            index, service, summary, rates, service_date, network, deductible_left, out_of_pocket_left, rate_lookup)
        lines.append(line)
    return Estimate(lines, sum((l.allowed_amount for l in lines), ZERO),
                    sum((l.patient_responsibility for l in lines), ZERO), sum((l.payer_pays for l in lines), ZERO),
                    deductible_left, out_of_pocket_left, notes)


def _line(index, service, summary, rates, service_date, network, deductible_left, out_of_pocket_left, rate_lookup):
    service_type = _benefit_service_type(service, summary)
    benefits = _Reader(summary, service_type, network)
    rate = rate_lookup(rates, service.procedure_code, service.modifiers, service_date)
    if rate is not None:
        allowed, source = cents(rate.allowed_amount * service.units), "fee_schedule"
        why = [f"Allowed {allowed}: the payer's contracted rate {rate.allowed_amount} x {service.units} unit(s)."]
    elif service.charge is not None:
        allowed, source = cents(service.charge), "charge"
        why = [f"Allowed {allowed}: no contracted rate for {service.procedure_code}, so the practice's charge."]
    else:
        raise MissingPrice(index)
    name = SERVICE_TYPES.get(service_type, service_type)
    line = EstimateLine(index + 1, service.procedure_code, service_type, service.units, service.charge, allowed,
                        source, explanation=why)
    if benefits.non_covered:
        line.not_covered = allowed
        line.explanation.append(f"The plan does not cover {name}: the patient pays the allowed amount.")
        patient = allowed
    elif (copay := benefits.amount("copay")) is not None:
        line.copay = min(copay, allowed)
        line.explanation.append(f"Copay {line.copay} for {name}; the deductible does not apply to copay services.")
        patient = line.copay
    else:
        patient = _deductible_and_coinsurance(line, benefits, allowed, deductible_left, name)
        if deductible_left is not None:
            deductible_left -= line.deductible
    if out_of_pocket_left is not None and patient > out_of_pocket_left:
        line.explanation.append(f"Capped at the out-of-pocket maximum left, {out_of_pocket_left}.")
        patient = out_of_pocket_left
    if out_of_pocket_left is not None:
        out_of_pocket_left -= patient
    line.patient_responsibility = cents(patient)
    line.payer_pays = allowed - line.patient_responsibility
    return line, deductible_left, out_of_pocket_left


def _deductible_and_coinsurance(line: EstimateLine, benefits: _Reader, allowed: Decimal,
                                deductible_left: Decimal | None, name: str) -> Decimal:
    line.deductible = min(deductible_left, allowed) if deductible_left is not None else ZERO
    if line.deductible:
        line.explanation.append(f"Deductible {line.deductible} (of {deductible_left} left this plan year).")
    rest = allowed - line.deductible
    percent = benefits.amount("coinsurance_percent")
    if percent is not None and rest > 0:
        line.coinsurance = cents(rest * percent / 100)
        line.explanation.append(f"Coinsurance {percent}% of the remaining {rest}: {line.coinsurance}.")
    elif rest > 0:
        line.explanation.append(f"No coinsurance given for {name}: the payer pays the remaining {rest}.")
    return line.deductible + line.coinsurance
