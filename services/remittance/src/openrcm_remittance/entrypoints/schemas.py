"""Bodies of the remittance API. The JSON form is for manual posting (paper EOBs); X12 835 comes later."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from openrcm_shared.codes import CARC, RARC
from openrcm_shared.money import Money, NonNegativeMoney

GroupCode = Literal["CO", "PR", "OA", "PI", "CR"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AdjustmentIn(_Body):
    group_code: GroupCode
    carc: str
    amount: Money

    @field_validator("carc")
    @classmethod
    def _carc(cls, value: str) -> str:
        if not CARC.match(value):
            raise ValueError("not a claim adjustment reason code (e.g. 45, 96, A1)")
        return value


class LinePaymentIn(_Body):
    line_number: Annotated[int, Field(ge=1, le=999)]
    charge_amount: NonNegativeMoney
    allowed_amount: NonNegativeMoney | None = None
    paid_amount: Money
    adjustments: list[AdjustmentIn] = Field(default_factory=list, max_length=99)
    rarcs: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("rarcs")
    @classmethod
    def _rarcs(cls, values: list[str]) -> list[str]:
        for value in values:
            if not RARC.match(value):
                raise ValueError(f"{value!r} is not a remittance advice remark code (e.g. N130, MA01)")
        return values


class ClaimPaymentIn(_Body):
    patient_control_number: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    payer_claim_control_number: Annotated[str, StringConstraints(max_length=50)] | None = None
    claim_adjustments: list[AdjustmentIn] = Field(default_factory=list, max_length=99)
    lines: list[LinePaymentIn] = Field(min_length=1, max_length=999)


class RemittanceIn(_Body):
    payer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,15}$")]
    trace_number: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    payment_amount: Money
    payment_date: date
    claims: list[ClaimPaymentIn] = Field(min_length=1, max_length=10000)


class PostedClaimOut(BaseModel):
    claim_id: UUID
    patient_control_number: str
    outcome: str
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    denied_amount: Money


class RemittanceOut(BaseModel):
    id: UUID
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    received_at: datetime
    claims: list[PostedClaimOut]
