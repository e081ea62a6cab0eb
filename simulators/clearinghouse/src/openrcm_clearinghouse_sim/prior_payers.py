"""Reading what earlier payers decided, from a secondary or tertiary 837 (coordination of benefits).

005010X222A1 / X223A2: after CLM, each other payer has a loop 2320 (SBR: its responsibility; AMT*D:
what it paid on the claim; AMT*EAF: the patient liability it left) with 2330B (NM1*PR: its id); each
service line (2400) then has one loop 2430 per payer that adjudicated it (SVD: payer id, paid amount;
CAS: its adjustments on the line). A secondary payer prices the claim with those in view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

Segment = list[str]


@dataclass(frozen=True)
class PriorLineAdjudication:
    """Loop 2430: one earlier payer's decision on one line."""

    payer_id: str  # SVD01
    paid: Decimal  # SVD02
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # CAS (group, CARC, amount)

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((amount for group, _, amount in self.adjustments if group == "PR"), Decimal(0))


@dataclass(frozen=True)
class PriorPayer:
    """Loops 2320/2330B: an earlier payer's claim-level decision."""

    responsibility: str  # SBR01 of the other payer: P, S or T
    payer_id: str = ""  # 2330B NM109
    paid: Decimal | None = None  # AMT*D
    patient_liability: Decimal | None = None  # AMT*EAF, the remaining patient liability


@dataclass
class PriorPayersReader:
    """Collects the 2320/2330B/2430 loops of one claim, segment by segment."""

    payers: list[dict] = field(default_factory=list)
    line: list[dict] | None = None  # the 2430 loops of the service line being read
    lines: list[tuple[PriorLineAdjudication, ...]] = field(default_factory=list)

    def take(self, segment: Segment, value: Callable[[Segment, int], str]) -> None:
        tag = segment[0]
        if tag == "SBR" and self.line is None:  # 2320: a new other payer (before the first LX)
            self.payers.append({"responsibility": value(segment, 1)})
        elif tag == "AMT" and self.payers and self.line is None:
            qualifier = value(segment, 1)
            if qualifier in ("D", "EAF"):
                key = "paid" if qualifier == "D" else "patient_liability"
                self.payers[-1][key] = _amount(value(segment, 2))
        elif tag == "NM1" and value(segment, 1) == "PR" and self.payers and self.line is None:  # 2330B
            self.payers[-1]["payer_id"] = value(segment, 9)
        elif tag == "SVD" and self.line is not None:  # 2430
            self.line.append({"payer_id": value(segment, 1), "paid": _amount(value(segment, 2)), "adjustments": []})
        elif tag == "CAS" and self.line:  # CAS01 group, then (CARC, amount, quantity) triplets
            group = value(segment, 1)
            for position in range(2, len(segment), 3):
                carc, amount = value(segment, position), value(segment, position + 1)
                if carc and amount:
                    self.line[-1]["adjustments"].append((group, carc, _amount(amount)))

    def start_line(self) -> None:
        """LX: a new service line; its 2430 loops follow its SV1/SV2."""
        self.line = []

    def line_decisions(self) -> tuple[PriorLineAdjudication, ...]:
        """The earlier payers' decisions on the line just read."""
        decisions = tuple(PriorLineAdjudication(item["payer_id"], item["paid"], tuple(item["adjustments"]))
                          for item in self.line or [])
        self.line = []
        return decisions

    def claim_decisions(self) -> tuple[PriorPayer, ...]:
        return tuple(PriorPayer(**payer) for payer in self.payers if payer.get("responsibility"))


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)  # pyx12 rejects the file; this claim is not adjudicated
