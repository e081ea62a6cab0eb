"""Electronic remittance advice (835) assembly: adjudicated claims grouped into balanced transactions.

One ERA (one 835 transaction set, in its own interchange) per payer and payee (the billing
provider's NPI) per adjudication run, each with its own payment:

- TRN*1*<trace>*1<payer TIN>: a trace number unique to the simulator (clock-seeded counter) and,
  as TRN03 and BPR10, "1" + a 9-digit payer TIN derived from the payer id (synthetic, stable);
- BPR*I ... ACH CCP with synthetic bank routing when money moves, BPR*H*0*C*NON (notification only)
  when it does not (every claim denied, or a reversal netting to zero);
- 1000A payer: the 837's payer name, a synthetic address, REF*2U payer id, PER*BL; 1000B payee:
  N1*PE with the NPI (XX), REF*TJ the tax id the 837 gave;
- PLB: the rules' interest (L6) and other adjustments. An 835 is never issued for less than zero
  dollars, so when an ERA's claims and PLBs net below zero (a reversal larger than what else it
  pays) the shortfall is carried forward with PLB FB (negative: the payment becomes zero) and
  recovered by the next ERA to that payee with PLB FB (positive), referenced by the trace number
  of the ERA that carried it (one running balance per payer and payee).
- at most six PLB pairs per ERA, so one PLB segment holds them (pyx12 4.0 flags a second PLB,
  which the TR3 allows): claims whose rules add PLBs are spread over more ERAs when needed.

Everything balances by construction; `write_835` checks it again and fails closed.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from openrcm_shared.x12.remittance_835 import (
    ClaimPayment, Contact, Party, PartyAddress, PaymentInformation, ProviderAdjustment, ReassociationTrace, Reference,
    Remittance835,
)
from openrcm_clearinghouse_sim.adjudication import AcceptedClaim

_ZERO = Decimal(0)
MAX_PROVIDER_ADJUSTMENTS_PER_ERA = 6  # one PLB segment (PLB03-PLB14)
FORWARD_BALANCE = "FB"

# Synthetic banking for BPR (the TR3's own example numbers style): never real routing numbers.
PAYER_DFI_NUMBER = "999999992"
PAYER_ACCOUNT_NUMBER = "1234567890"
PROVIDER_DFI_NUMBER = "999988880"
PAYER_ADDRESS = PartyAddress("1 PAYER PLAZA", None, "SPRINGFIELD", "IL", "62701")
PAYER_TECHNICAL_CONTACT = Contact("BL", "EDI SUPPORT", (("TE", "8005550199"),))


@dataclass
class ClaimDecision:
    """One claim's part in an ERA: its payments (one, or a reversal and its correction) and the
    provider-level adjustments its rule adds."""

    accepted: AcceptedClaim
    payments: list[ClaimPayment]
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)

    @property
    def group_key(self) -> tuple[str, str]:
        """(payer id, payee NPI): the claims one ERA may carry."""
        return self.accepted.claim.payer_id, self.accepted.claim.billing_provider.identifier


@dataclass(frozen=True)
class PlannedRemittance:
    """An ERA ready to write, and the forward balance it leaves (applied once it is written)."""

    remittance: Remittance835
    decisions: tuple[ClaimDecision, ...]
    group_key: tuple[str, str]
    balance_after: tuple[Decimal, str | None]


class TraceNumbers:
    """TRN02 for each ERA: unique per simulator, seeded from the clock so a restart does not reuse one."""

    def __init__(self, start: int | None = None) -> None:
        self._numbers = itertools.count(start if start is not None else int(time.time() * 1000) % 10**12)

    def next(self) -> str:
        return f"{next(self._numbers) % 10**12:012d}"


class ForwardBalances:
    """What each payee owes each payer from ERAs that would have paid less than zero."""

    def __init__(self) -> None:
        self._owed: dict[tuple[str, str], tuple[Decimal, str | None]] = {}

    def owed(self, key: tuple[str, str]) -> tuple[Decimal, str | None]:
        return self._owed.get(key, (_ZERO, None))

    def apply(self, planned: PlannedRemittance) -> None:
        self._owed[planned.group_key] = planned.balance_after


def payer_tin(payer_id: str) -> str:
    """A stable, synthetic 9-digit TIN for a payer id (no leading zero)."""
    digest = int(hashlib.sha256(payer_id.encode()).hexdigest(), 16)
    return str(100_000_000 + digest % 900_000_000)


def plan_remittances(decisions: Iterable[ClaimDecision], *, balances: ForwardBalances, traces: TraceNumbers,
                     today: date) -> list[PlannedRemittance]:
    """The ERAs for one adjudication run: grouped per payer and payee, in first-seen order."""
    groups: dict[tuple[str, str], list[ClaimDecision]] = {}
    for decision in decisions:
        groups.setdefault(decision.group_key, []).append(decision)
    planned = []
    for key, members in groups.items():
        owed = balances.owed(key)
        for chunk in _chunks_fitting_one_plb(members):
            era = _plan_one(key, chunk, owed, traces.next(), today)
            owed = era.balance_after
            planned.append(era)
    return planned


def _chunks_fitting_one_plb(decisions: list[ClaimDecision]) -> Iterable[list[ClaimDecision]]:
    # One pair is kept free for a forward balance (FB); the rule schema caps a claim's pairs at 5.
    budget = MAX_PROVIDER_ADJUSTMENTS_PER_ERA - 1
    chunk: list[ClaimDecision] = []
    used = 0
    for decision in decisions:
        pairs = len(decision.provider_adjustments)
        if chunk and used + pairs > budget:
            yield chunk
            chunk, used = [], 0
        chunk.append(decision)
        used += pairs
    if chunk:
        yield chunk


def _plan_one(key: tuple[str, str], decisions: list[ClaimDecision], owed: tuple[Decimal, str | None], trace: str,
              today: date) -> PlannedRemittance:
    payer_id, payee_npi = key
    claims = [payment for decision in decisions for payment in decision.payments]
    adjustments = [adjustment for decision in decisions for adjustment in decision.provider_adjustments]
    net = sum((claim.paid for claim in claims), _ZERO) - sum((a.amount for a in adjustments), _ZERO)
    forward, balance_after = _forward_balance(net, owed, trace, payee_npi, fiscal_period_end(today))
    adjustments += forward
    payment_amount = net - sum((a.amount for a in forward), _ZERO)
    first = decisions[0].accepted.claim
    tin = payer_tin(payer_id)
    remittance = Remittance835(
        transaction_set_control_number="0001", implementation_convention_reference=None,
        interchange_control_number="0", interchange_sender_id="", interchange_receiver_id="",
        group_control_number="0", application_sender_code="", application_receiver_code="", version="005010X221A1",
        payment=_payment(payment_amount, tin, payee_npi, today),
        trace=ReassociationTrace("1", trace, "1" + tin),
        payer=Party("PR", first.payer_name or payer_id, address=PAYER_ADDRESS, references=[Reference("2U", payer_id)],
                    contacts=[PAYER_TECHNICAL_CONTACT]),
        payee=Party("PE", first.billing_provider.last_or_organization_name, "XX", payee_npi,
                    references=[Reference("TJ", first.billing_provider.tax_id)] if first.billing_provider.tax_id
                    else []),
        production_date=today, claims=claims, provider_adjustments=adjustments)
    return PlannedRemittance(remittance, tuple(decisions), key, balance_after)


def _forward_balance(net: Decimal, owed: tuple[Decimal, str | None], trace: str, payee_npi: str,
                     fiscal_period_end: date) -> tuple[list[ProviderAdjustment], tuple[Decimal, str | None]]:
    """PLB FB pairs that keep BPR02 at or above zero, and the balance owed afterwards."""
    amount_owed, reference = owed
    if net < 0:  # carry the shortfall: a negative FB raises the payment to zero
        return ([ProviderAdjustment(payee_npi, fiscal_period_end, FORWARD_BALANCE, net, trace)],
                (amount_owed - net, trace))
    if net > 0 and amount_owed > 0:  # recover what an earlier ERA carried forward
        recovered = min(net, amount_owed)
        left = amount_owed - recovered
        return ([ProviderAdjustment(payee_npi, fiscal_period_end, FORWARD_BALANCE, recovered, reference)],
                (left, reference if left else None))
    return [], owed


def _payment(amount: Decimal, tin: str, payee_npi: str, today: date) -> PaymentInformation:
    if amount == 0:
        return PaymentInformation("H", _ZERO, "C", "NON", payment_date=today)  # notification only
    # BPR01 I: the remittance information; the money moves by ACH CCP (BPR04/BPR05) on the same day.
    return PaymentInformation("I", amount, "C", "ACH", "CCP", "01", PAYER_DFI_NUMBER, "DA", PAYER_ACCOUNT_NUMBER,
                              "1" + tin, None, "01", PROVIDER_DFI_NUMBER, "DA", _provider_account(payee_npi), today)


def _provider_account(payee_npi: str) -> str:
    return "ACCT" + (payee_npi[-6:] or "000000")


def fiscal_period_end(today: date) -> date:
    """PLB02: the last day of the provider's fiscal year; the simulator assumes the calendar year."""
    return date(today.year, 12, 31)

