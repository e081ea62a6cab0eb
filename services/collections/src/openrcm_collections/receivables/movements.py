"""How each event moves a claim's insurance receivable (pure rules, no I/O).

A claim's insurance receivable is what its payer is still expected to settle: billed, minus what
the payer paid, minus its adjustments (contractual CO, other OA/PI/CR), minus what it moved to the
patient (PR: the patient's account has it from then on). Two choices beyond that arithmetic:

* A denial keeps its dollars receivable: a claim the payer denied is worked (appealed, corrected)
  until the payer pays or reverses; it must not drop off the aging because a CAS said CO. The
  denial's movement puts the denied adjustments back (so contractual adjustments stay what the
  contracts allow, not denials), and records the denied dollars in `denied` for the reports; a
  reversal of that decision releases them again.
* A secondary or tertiary claim is billed the whole charge (X12 837 CLM02), but what it may still
  collect is what the previous payer left the patient: the rest of the charge comes off at once
  as `prior_payer`. Its own 835 reports that same prior impact again under CARC 23 ("the impact of
  prior payer(s) adjudication including payments and/or adjustments"), which is therefore not
  taken off a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from openrcm_shared.contracts.remittance import Adjustment, ClaimDenied, ClaimPaymentPosted, ClaimReversed
from openrcm_shared.money import ZERO

PRIOR_PAYER_IMPACT_CARC = "23"
CONTRACTUAL = "CO"
PATIENT = "PR"


@dataclass(frozen=True)
class Movement:
    """One event's effect on a claim's receivable, by component (each as a positive amount of its kind)."""

    kind: str
    billed: Decimal = ZERO
    paid: Decimal = ZERO
    contractual: Decimal = ZERO
    other_adjustment: Decimal = ZERO
    patient_transfer: Decimal = ZERO
    prior_payer: Decimal = ZERO
    denied: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        """The change of the receivable: up by billing, down by the rest (`denied` only counts the
        dollars a denial held open; they are in the adjustments it put back)."""
        return (self.billed - self.paid - self.contractual - self.other_adjustment - self.patient_transfer
                - self.prior_payer)

    def components(self) -> dict[str, Decimal]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "kind"}

    def is_nothing(self) -> bool:
        return all(value == ZERO for value in self.components().values())

    def negated(self, kind: str) -> "Movement":
        return Movement(kind, **{name: -value for name, value in self.components().items()})


def billing(previous_billed: Decimal, total_charge: Decimal, first: bool) -> Movement:
    """A submission: the first bills the charge; a corrected version bills the difference."""
    return Movement("billed" if first else "rebilled", billed=total_charge - previous_billed)


def prior_payer_share(total_charge: Decimal, prior_patient_responsibility: Decimal) -> Movement:
    """On a later payer's first billing: the part of the charge the earlier payers settled."""
    return Movement("prior_payer", prior_payer=total_charge - prior_patient_responsibility)


def _by_group(adjustments: list[Adjustment], *, later_payer: bool, sign: int = 1) -> dict[str, Decimal]:
    totals = {"contractual": ZERO, "other_adjustment": ZERO, "patient_transfer": ZERO}
    for adjustment in adjustments:
        if later_payer and adjustment.carc == PRIOR_PAYER_IMPACT_CARC and adjustment.group_code != PATIENT:
            continue
        if adjustment.group_code == PATIENT:
            key = "patient_transfer"
        elif adjustment.group_code == CONTRACTUAL:
            key = "contractual"
        else:
            key = "other_adjustment"
        totals[key] += sign * adjustment.amount
    return totals


def adjudication(event: ClaimPaymentPosted, *, later_payer: bool) -> Movement:
    """A payer's decision: paid, adjusted, moved to the patient. A claim the payer says is not its
    own (CLP02 23) with nothing explained moves by what was paid only (as remittance posts it)."""
    if not event.adjustments and not event.lines:
        return Movement("adjudicated", paid=event.paid_amount)
    return Movement("adjudicated", paid=event.paid_amount, **_by_group(event.adjustments, later_payer=later_payer))


def denial_held_open(event: ClaimDenied) -> Movement:
    """The denied adjustments a ClaimDenied names (non-PR CAS of the denied lines or claim) are put
    back: those dollars stay receivable while the denial is worked."""
    contractual = sum((d.amount for d in event.denials if d.group_code == CONTRACTUAL), ZERO)
    other = sum((d.amount for d in event.denials if d.group_code not in (CONTRACTUAL, PATIENT)), ZERO)
    return Movement("denial_held_open", contractual=-contractual, other_adjustment=-other, denied=event.denied_amount)


def reversal(event: ClaimReversed, *, later_payer: bool) -> Movement:
    """CLP02 22: the payer takes back an earlier decision, so what it paid, adjusted and moved to
    the patient is receivable again."""
    return Movement("reversed", paid=-event.reversed_paid_amount,
                    **_by_group(event.reversed_adjustments, later_payer=later_payer, sign=-1))


def denial_released(held_open: Movement) -> Movement:
    """After a reversal: the denials still held open (`held_open`, the sum of the holds and earlier
    releases) are let go, since the reversal's taken-back adjustments re-open those dollars already."""
    return held_open.negated("denial_released")


def denial_written_off(amount: Decimal) -> Movement:
    """The practice gave up on a denied amount: it is no longer receivable from the payer."""
    return Movement("denial_written_off", other_adjustment=amount)


def denial_transferred_to_patient(amount: Decimal) -> Movement:
    """The denied amount is the patient's to pay: it leaves the payer's receivable for the account."""
    return Movement("denial_transferred", patient_transfer=amount)
