"""Configurable adjudication: how the simulated payer decides the claims it accepted (277CA A2).

A rule names the claims it catches and what the payer does with them. Conditions (each optional;
every one given must hold; a rule with none catches every claim):

    payer_id                          2010BB NM109 of the claim's payer
    member_id_pattern                 regex searched in the subscriber's member id (2010BA NM109)
    patient_control_number_pattern    regex searched in CLM01
    procedure_code                    the claim has a line billing this code (SV101-2 / SV202-2)
    frequency_code                    CLM05-3: 1 an original claim, 7 a replacement (a corrected claim
                                      reprocessed), 8 a void

The first matching rule wins; a claim no rule catches is not adjudicated (no 835 mentions it).

Actions (`action`):

    pay                  price every line by `fee_schedule`
    deny                 `denial`: the whole claim (CLP02 4), or only the lines of
                         `denial.procedure_codes` (the others priced by `fee_schedule`: a partial payment);
                         `denial.category` names a kind of denial with its CARC/RARCs (denial_categories.py)
                         instead of `carc` and `rarcs`
    reverse_and_correct  pay by `fee_schedule`; `correction_delay_seconds` later a second 835 reverses
                         that payment (CLP02 22, every amount negated) and pays the claim again by
                         `corrected_fee_schedule` (005010X221A1 section 1.10.2.8)
    crossover            pay by `fee_schedule`, CLP02 19, NM1*TT naming `crossover` (the secondary payer
                         the claim was forwarded to) and remark MA18 in MOA

Appeals (`appeal`, POST /v1/appeals): `overturn` — the payer reverses its denial and pays the claim by
`fee_schedule` in a new 835 (CLP02 22 taking the denial back, then CLP02 1); `uphold` (the default) —
the decision stands and no 835 is sent.

Fee schedule (all money a decimal string or number, at most two decimals):

    allowed              {procedure code: allowed amount per unit}; a line's allowed amount is
                         units x that, never more than its charge
    percent_of_charge    allowed amount of a code not in `allowed`, as a percentage of the charge (100)
    copay                PR-3 per claim, taken from the first lines' allowed amounts
    deductible           PR-1 per claim, taken after the copay
    coinsurance_percent  PR-2, the patient's percentage of what is left of each line's allowed amount

Each line: CO-45 = charge - allowed, then PR-3, PR-1, PR-2; paid = allowed - patient responsibility.

Provider-level adjustments on the ERA carrying the claim (PLB; positive reduces the payment):

    interest                 interest paid on the claim: PLB L6 with the amount negated, reference CLP01
    provider_adjustments     [{"reason": "WO", "amount": "10.00", "reference": "..."}]; the reference
                             defaults to the claim's payer claim control number (CLP07)

Example (the default of `./openrcm run`, deploy/clearinghouse/adjudication-rules.json):

    [{"member_id_pattern": "^DENY", "action": "deny", "denial": {"carc": "50", "rarcs": ["N115"]}},
     {"action": "pay", "fee_schedule": {"percent_of_charge": "80", "coinsurance_percent": "20"}}]
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from openrcm_clearinghouse_sim.denial_categories import DENIAL_CATEGORIES
from openrcm_clearinghouse_sim.intake import ReceivedClaim
from openrcm_clearinghouse_sim.rules import regular_expression

# X12 R amounts as the payer would key them: never negative here, whole cents.
Money = Annotated[Decimal, Field(ge=0, max_digits=11, decimal_places=2)]
SignedMoney = Annotated[Decimal, Field(max_digits=11, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
ProcedureCodeText = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,5}$")]

# 005010X221A1 PLB03-1 provider adjustment reason codes (data element 426).
PLB_REASON_CODES = frozenset({
    "50", "51", "72", "90", "AH", "AM", "AP", "B2", "B3", "BD", "BN", "C5", "CR", "CS", "CT", "CV", "CW", "DM",
    "E3", "FB", "FC", "GO", "HM", "IP", "IR", "IS", "J1", "L3", "L6", "LE", "LS", "OA", "OB", "PI", "PL", "RA",
    "RE", "SL", "TL", "WO", "WU",
})
# 835 CLP06 claim filing indicator codes (X221A1): an 837 SBR09 outside this list (CI, BL, ...) is
# reported as the rule's `claim_filing_indicator`, by default 12 (PPO).
CLAIM_FILING_INDICATORS_835 = frozenset({
    "12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ",
})
DEFAULT_CLAIM_FILING_INDICATOR = "12"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeeSchedule(_Strict):
    allowed: dict[ProcedureCodeText, Money] = Field(
        default_factory=dict, description="allowed amount per unit, by procedure code")
    percent_of_charge: Percent = Field(default=Decimal(100), description="allowed % of the charge for other codes")
    copay: Money = Field(default=Decimal(0), description="PR-3 per claim")
    deductible: Money = Field(default=Decimal(0), description="PR-1 per claim")
    coinsurance_percent: Percent = Field(default=Decimal(0), description="PR-2, % of the allowed amount left")


class Denial(_Strict):
    category: Literal[tuple(DENIAL_CATEGORIES)] | None = Field(  # type: ignore[valid-type]
        default=None, description="a kind of denial (denial_categories.py): fills carc, rarcs and group")
    carc: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,5}$",
                             description="CAS reason code, e.g. 50 (not medically necessary)")
    rarcs: list[Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9]{1,4}$")]] = Field(
        default_factory=list, description="remark codes, written as LQ*HE on every denied line")
    group: Literal["CO", "PR", "OA", "PI"] = Field(default="CO", description="CAS group code")
    procedure_codes: list[ProcedureCodeText] = Field(
        default_factory=list, description="deny only these lines (partial payment); empty: the whole claim")

    @model_validator(mode="before")
    @classmethod
    def _codes_of_the_category(cls, given: object) -> object:
        """A category's codes, unless the rule spells its own."""
        if isinstance(given, dict) and given.get("category") in DENIAL_CATEGORIES and not given.get("carc"):
            codes = DENIAL_CATEGORIES[given["category"]]
            return {**given, "carc": codes.carc, "rarcs": given.get("rarcs") or list(codes.rarcs),
                    "group": given.get("group") or codes.group}
        return given

    @model_validator(mode="after")
    def _has_a_reason(self) -> Denial:
        if self.carc is None:
            raise ValueError("a denial needs a carc or a category")
        return self


class SecondaryPayer(_Strict):
    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9 .,&'-]+$", description="NM1*TT NM103")
    payer_id: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9]+$", description="NM1*TT NM109 (PI)")


class ProviderAdjustmentRule(_Strict):
    reason: str = Field(description="PLB03-1, e.g. WO, 72, CS, FB")
    amount: SignedMoney = Field(description="PLB04: positive reduces the payment, negative adds to it")
    reference: str | None = Field(default=None, max_length=50, pattern=r"^[A-Za-z0-9 .-]+$",
                                  description="PLB03-2; the claim's payer claim control number when absent")

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, reason: str) -> str:
        if reason not in PLB_REASON_CODES:
            raise ValueError("not a 005010X221A1 provider adjustment reason code (PLB03-1)")
        if reason == "L6":
            raise ValueError("interest is given with the rule's `interest` field")
        return reason


class AdjudicationRule(_Strict):
    payer_id: str | None = None
    member_id_pattern: str | None = None
    patient_control_number_pattern: str | None = None
    procedure_code: ProcedureCodeText | None = None
    frequency_code: Literal["1", "7", "8"] | None = None
    action: Literal["pay", "deny", "reverse_and_correct", "crossover"]
    fee_schedule: FeeSchedule = Field(default_factory=FeeSchedule)
    denial: Denial | None = None
    corrected_fee_schedule: FeeSchedule | None = None
    correction_delay_seconds: float | None = Field(default=None, ge=0, le=3600)
    crossover: SecondaryPayer | None = None
    interest: Money | None = Field(default=None, description="interest paid with the claim (PLB L6)")
    provider_adjustments: list[ProviderAdjustmentRule] = Field(default_factory=list, max_length=4)
    claim_filing_indicator: str | None = Field(default=None, description="CLP06 when the 837's SBR09 is not an "
                                                                          "835 code")
    appeal: Literal["overturn", "uphold"] = Field(
        default="uphold", description="the payer's answer to an appeal of a claim this rule denied")

    _compiles = field_validator("member_id_pattern", "patient_control_number_pattern")(
        classmethod(lambda cls, pattern: regular_expression(pattern)))

    @field_validator("claim_filing_indicator")
    @classmethod
    def _an_835_filing_indicator(cls, code: str | None) -> str | None:
        if code is not None and code not in CLAIM_FILING_INDICATORS_835:
            raise ValueError(f"must be one of {sorted(CLAIM_FILING_INDICATORS_835)} (835 CLP06)")
        return code

    @model_validator(mode="after")
    def _action_has_its_details(self) -> AdjudicationRule:
        needed = {"deny": ("denial", self.denial), "reverse_and_correct": ("corrected_fee_schedule",
                                                                           self.corrected_fee_schedule),
                  "crossover": ("crossover", self.crossover)}.get(self.action)
        if needed is not None and needed[1] is None:
            raise ValueError(f"action {self.action} needs `{needed[0]}`")
        return self

    def catches(self, claim: ReceivedClaim) -> bool:
        if self.payer_id is not None and self.payer_id != claim.payer_id:
            return False
        if self.member_id_pattern is not None and not re.search(self.member_id_pattern, claim.member_id):
            return False
        if self.patient_control_number_pattern is not None and not re.search(
                self.patient_control_number_pattern, claim.patient_control_number):
            return False
        if self.procedure_code is not None and all(line.procedure_code != self.procedure_code for line in claim.lines):
            return False
        if self.frequency_code is not None and (claim.frequency_code or "1") != self.frequency_code:
            return False
        return True

    def filing_indicator_for(self, claim: ReceivedClaim) -> str:
        """CLP06: the rule's code, else the 837's SBR09 when the 835 has it, else 12 (PPO)."""
        if self.claim_filing_indicator:
            return self.claim_filing_indicator
        if claim.claim_filing_indicator in CLAIM_FILING_INDICATORS_835:
            return claim.claim_filing_indicator
        return DEFAULT_CLAIM_FILING_INDICATOR


ADJUDICATION_RULE_LIST = TypeAdapter(list[AdjudicationRule])


def load_adjudication_rules(path: Path | None) -> list[AdjudicationRule]:
    """Rules from a JSON file (a list of rule objects); none, so nothing is adjudicated, without a file."""
    if path is None:
        return []
    return ADJUDICATION_RULE_LIST.validate_python(json.loads(path.read_text(encoding="utf-8")))


def rule_for(rules: list[AdjudicationRule], claim: ReceivedClaim) -> AdjudicationRule | None:
    """The first rule that catches the claim."""
    return next((rule for rule in rules if rule.catches(claim)), None)
