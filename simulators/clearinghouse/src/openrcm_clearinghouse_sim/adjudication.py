"""The simulated payer's decision on one accepted claim, as the 835 model (`ClaimPayment`) says it.

Pure functions, no I/O: `price_claim` applies a rule to a claim; `reversal_of` negates a payment
(CLP02 22); `provider_adjustments_for` gives the PLB pairs a rule adds. Every claim priced here
balances by construction (005010X221A1 section 1.10.2): on each line
SVC03 = SVC02 - CO-45 - PR-3 - PR-1 - PR-2 (or SVC02 - the denial), and CLP04 is the sum of SVC03.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from openrcm_shared.x12.remittance_835 import (
    Adjustment, ClaimPayment, EntityName, OutpatientAdjudication, ProcedureCode, ProviderAdjustment, RemarkCode,
    ServiceLine,
)
from openrcm_clearinghouse_sim.adjudication_rules import AdjudicationRule, Denial, FeeSchedule
from openrcm_clearinghouse_sim.intake import ReceivedClaim, ReceivedInterchange, ReceivedServiceLine

_CENT = Decimal("0.01")
_ZERO = Decimal(0)

# CLP02 claim status codes (005010X221A1).
PROCESSED_AS_PRIMARY = "1"
DENIED = "4"
PROCESSED_AS_PRIMARY_FORWARDED = "19"  # crossover: forwarded to the additional payer(s) named in NM1*TT
REVERSAL_OF_PREVIOUS_PAYMENT = "22"

CONTRACTUAL_OBLIGATION = "CO"
PATIENT_RESPONSIBILITY = "PR"
CHARGE_EXCEEDS_FEE_SCHEDULE = "45"  # CARC 45
DEDUCTIBLE, COINSURANCE, COPAY = "1", "2", "3"  # CARC 1, 2, 3 (group PR)
FORWARDED_TO_SUPPLEMENTAL_INSURER = "MA18"  # RARC: "claim information is also being forwarded to ... supplemental"
INTEREST = "L6"  # PLB03-1: interest owed (paid to the provider, so a negative PLB amount)


class CannotAdjudicate(ValueError):
    """The claim cannot be priced into a balanced 835 (e.g. CLM02 is not the sum of its lines)."""


@dataclass(frozen=True)
class AcceptedClaim:
    """A claim the 277CA accepted (A2) with the payer claim control number it gave (REF*1K, CLP07),
    and the interchange it came in (the 835 is addressed back the same way)."""

    claim: ReceivedClaim
    payer_claim_control_number: str
    interchange: ReceivedInterchange = field(repr=False)


@dataclass
class _PatientShare:
    """What is left of the claim's copay and deductible while its lines are priced in order."""

    copay_left: Decimal
    deductible_left: Decimal
    coinsurance_percent: Decimal


def price_claim(accepted: AcceptedClaim, rule: AdjudicationRule, schedule: FeeSchedule | None = None) -> ClaimPayment:
    """The payer's decision under `rule` (its fee schedule, or `schedule` for a correction)."""
    claim = accepted.claim
    if not claim.lines:
        raise CannotAdjudicate("the claim has no service lines")
    if sum((line.charge for line in claim.lines), _ZERO) != claim.total_charge:
        raise CannotAdjudicate("CLM02 is not the sum of the line charges: the 835 could not balance")
    schedule = schedule or rule.fee_schedule
    denial = rule.denial if rule.action == "deny" else None
    share = _PatientShare(schedule.copay, schedule.deductible, schedule.coinsurance_percent)
    denied = [denial is not None and (not denial.procedure_codes or line.procedure_code in denial.procedure_codes)
              for line in claim.lines]
    lines = [_denied_line(line, denial, claim) if line_denied else _priced_line(line, schedule, share, claim)
             for line, line_denied in zip(claim.lines, denied)]
    paid = sum((line.paid for line in lines), _ZERO)
    patient_share = sum((adjustment.amount for line in lines for adjustment in line.adjustments
                         if adjustment.group_code == PATIENT_RESPONSIBILITY), _ZERO)
    payment = ClaimPayment(
        claim.patient_control_number, _status(rule, whole_claim_denied=all(denied)), claim.total_charge, paid, 0,
        patient_responsibility=patient_share or None, claim_filing_indicator=rule.filing_indicator_for(claim),
        payer_claim_control_number=accepted.payer_claim_control_number, facility_type_code=claim.facility_code,
        frequency_code=claim.frequency_code, patient=_patient(claim), insured=_insured(claim))
    payment.service_lines = lines
    if rule.action == "crossover" and rule.crossover is not None:
        payment.crossover_carrier = EntityName("TT", "2", rule.crossover.name, identification_qualifier="PI",
                                               identifier=rule.crossover.payer_id)
        payment.outpatient = OutpatientAdjudication(remark_codes=(FORWARDED_TO_SUPPLEMENTAL_INSURER,))
    if claim.institutional:  # DTM*232/233: the statement period an 837I gives
        payment.statement_from, payment.statement_to = claim.service_date_from, claim.service_date_to
    return payment


def reversal_of(payment: ClaimPayment) -> ClaimPayment:
    """CLP02 22: the earlier payment taken back, every amount negated (005010X221A1 section 1.10.2.8);
    codes, names, dates and units stay as they were."""
    reversal = replace(payment, status_code=REVERSAL_OF_PREVIOUS_PAYMENT, charge=-payment.charge, paid=-payment.paid,
                       patient_responsibility=-payment.patient_responsibility
                       if payment.patient_responsibility is not None else None,
                       segment_number=0)
    if payment.adjustments:
        reversal.adjustments = [_negated(adjustment) for adjustment in payment.adjustments]
    if payment.service_lines:
        reversal.service_lines = [_reversed_line(line) for line in payment.service_lines]
    return reversal


def provider_adjustments_for(rule: AdjudicationRule, payment: ClaimPayment, payee_identifier: str,
                             fiscal_period_end: date) -> list[ProviderAdjustment]:
    """The PLB pairs the rule adds to the ERA carrying this claim's payment."""
    adjustments = []
    if rule.interest:
        # Interest is money to the provider: a negative PLB amount. Reference CLP01, so the provider
        # can tie it to the claim (X12 RFI 2370 recommends CLP01 and CLP07 for claim-specific PLBs).
        adjustments.append(ProviderAdjustment(payee_identifier, fiscal_period_end, INTEREST, -rule.interest,
                                              payment.patient_control_number))
    for adjustment in rule.provider_adjustments:
        # WO, 72 and the like refer to the payer's claim control number (TR3 section 1.10.2.17).
        adjustments.append(ProviderAdjustment(payee_identifier, fiscal_period_end, adjustment.reason,
                                              adjustment.amount,
                                              adjustment.reference or payment.payer_claim_control_number))
    return adjustments


# ------------------------------------------------------------------------------------------ lines


def _status(rule: AdjudicationRule, *, whole_claim_denied: bool) -> str:
    """CLP02: 4 when every line was denied (a partial denial is still processed as primary)."""
    if whole_claim_denied:
        return DENIED
    if rule.action == "crossover":
        return PROCESSED_AS_PRIMARY_FORWARDED
    return PROCESSED_AS_PRIMARY


def _priced_line(line: ReceivedServiceLine, schedule: FeeSchedule, share: _PatientShare,
                 claim: ReceivedClaim) -> ServiceLine:
    allowed = _allowed_amount(line, schedule)
    adjustments = []
    if line.charge > allowed:
        adjustments.append(Adjustment(CONTRACTUAL_OBLIGATION, CHARGE_EXCEEDS_FEE_SCHEDULE, line.charge - allowed))
    left = allowed
    copay = min(left, share.copay_left)
    share.copay_left -= copay
    left -= copay
    deductible = min(left, share.deductible_left)
    share.deductible_left -= deductible
    left -= deductible
    coinsurance = _cents(left * share.coinsurance_percent / 100)
    left -= coinsurance
    for reason, amount in ((COPAY, copay), (DEDUCTIBLE, deductible), (COINSURANCE, coinsurance)):
        if amount:
            adjustments.append(Adjustment(PATIENT_RESPONSIBILITY, reason, amount))
    return _service_line(line, claim, paid=left, allowed=allowed, adjustments=adjustments)


def _denied_line(line: ReceivedServiceLine, denial: Denial, claim: ReceivedClaim) -> ServiceLine:
    priced = _service_line(line, claim, paid=_ZERO, allowed=_ZERO,
                           adjustments=[Adjustment(denial.group, denial.carc, line.charge)])
    if denial.rarcs:
        priced.remark_codes = [RemarkCode("HE", rarc) for rarc in denial.rarcs]
    return priced


def _allowed_amount(line: ReceivedServiceLine, schedule: FeeSchedule) -> Decimal:
    """The fee schedule's amount for the units billed, else the percentage of the charge; never
    more than the charge (a payer allows the lesser of the two)."""
    per_unit = schedule.allowed.get(line.procedure_code)
    if per_unit is not None:
        return min(line.charge, _cents(per_unit * line.units))
    return min(line.charge, _cents(line.charge * schedule.percent_of_charge / 100))


def _service_line(line: ReceivedServiceLine, claim: ReceivedClaim, *, paid: Decimal, allowed: Decimal,
                  adjustments: list[Adjustment]) -> ServiceLine:
    start = line.service_date_from or claim.service_date_from
    end = line.service_date_to or start
    priced = ServiceLine(ProcedureCode(line.procedure_qualifier, line.procedure_code, line.modifiers), line.charge,
                         paid, 0, revenue_code=line.revenue_code, units=line.units,
                         line_control_number=line.line_control_number, allowed_amount=allowed)
    if start is not None and end is not None and end != start:
        priced.service_start_date, priced.service_end_date = start, end  # DTM*150/151 for a period
    else:
        priced.service_date = start  # DTM*472
    if adjustments:
        priced.adjustments = adjustments
    return priced


def _reversed_line(line: ServiceLine) -> ServiceLine:
    reversed_line = replace(line, charge=-line.charge, paid=-line.paid, segment_number=0,
                            allowed_amount=-line.allowed_amount if line.allowed_amount is not None else None)
    if line.adjustments:
        reversed_line.adjustments = [_negated(adjustment) for adjustment in line.adjustments]
    return reversed_line


def _negated(adjustment: Adjustment) -> Adjustment:
    return Adjustment(adjustment.group_code, adjustment.reason_code, -adjustment.amount, adjustment.quantity)


def _patient(claim: ReceivedClaim) -> EntityName:
    """NM1*QC: the patient; the member id goes with the patient only when the patient is the subscriber."""
    last = claim.patient_last_name or "UNKNOWN"
    if claim.patient_is_subscriber:
        return EntityName("QC", "1", last, claim.patient_first_name or "", identification_qualifier="MI",
                          identifier=claim.member_id)
    return EntityName("QC", "1", last, claim.patient_first_name or "")


def _insured(claim: ReceivedClaim) -> EntityName | None:
    """NM1*IL: the subscriber, sent when the patient is someone else (a dependent)."""
    if claim.patient_is_subscriber or not claim.member_id:
        return None
    return EntityName("IL", "1", claim.subscriber_last_name or "UNKNOWN", claim.subscriber_first_name or "",
                      identification_qualifier="MI", identifier=claim.member_id)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
