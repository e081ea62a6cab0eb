"""Bodies of the remittance API. X12 835 files arrive as they are (application/edi-x12 or multipart);
the JSON form is for manual posting of paper EOBs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
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
    payment_id: UUID  # what reversal_of and reversed_by name
    claim_id: UUID
    patient_control_number: str
    outcome: str
    claim_status_code: str | None = None
    charge_amount: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility_amount: Money
    denied_amount: Money
    payer_claim_control_number: str | None = None
    reversal_of: UUID | None = None
    reversed_by: UUID | None = None
    crossover_payer_name: str | None = None
    crossover_payer_id: str | None = None


class BilledClaimOut(BaseModel):
    claim_id: UUID
    patient_control_number: str
    patient_id: str
    payer_id: str
    total_charge: Money
    lines: list[dict]
    submitted_at: datetime


class RemittanceOut(BaseModel):
    id: UUID
    status: str = Field(default="posted", description="posted, or held for review (nothing of it posted)")
    source: str = "json"
    payer_id: str
    payer_name: str | None = None
    trace_number: str
    payment_amount: Money
    payment_date: date
    payment_method: str | None = None
    provider_adjustment_amount: Money = Decimal("0.00")
    received_at: datetime
    posted_at: datetime | None = None
    file_id: UUID | None = None
    transaction_index: int | None = None
    held_reasons: list[str] = Field(default_factory=list)
    claims: list[PostedClaimOut]


class RemittanceSummaryOut(BaseModel):
    id: UUID
    status: str
    source: str
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    claim_count: int
    received_at: datetime
    held_reasons: list[str] = Field(default_factory=list)


class TransactionOut(BaseModel):
    """What happened to one 835 transaction set (one payment) of a file."""

    transaction_index: int | None
    status: str = Field(description="posted | held | duplicate")
    remittance_id: UUID | None
    payer_id: str
    trace_number: str
    payment_amount: Money
    payment_date: date
    claim_count: int
    reasons: list[str] = Field(default_factory=list)
    differences: list[dict] = Field(default_factory=list, description="Balancing differences, when held")
    unmatched_count: int = 0
    duplicate_of: UUID | None = None


class RemittanceFileOut(BaseModel):
    id: UUID
    filename: str | None = None
    sha256: str | None
    size_bytes: int
    source: str
    status: str = Field(description="received | processing | processed | rejected (malformed) | duplicate")
    duplicate: bool = False
    duplicate_of: UUID | None = None
    received_at: datetime
    processed_at: datetime | None = None
    error: dict | None = None
    transactions: list[TransactionOut] = Field(default_factory=list)


class FilesOut(BaseModel):
    files: list[RemittanceFileOut]


class CandidateOut(BaseModel):
    score: float
    claim_id: UUID | None = None
    patient_control_number: str | None = None
    line_number: int | None = None
    agrees_on: list[str] = Field(default_factory=list)


class UnmatchedItemOut(BaseModel):
    id: UUID
    remittance_id: UUID
    kind: str = Field(description="claim (CLP01 unknown), line (no billed line fits) or reversal")
    status: str
    claim_sequence: int
    line_sequence: int | None
    patient_control_number: str
    payer_claim_control_number: str | None
    reason: str
    detail: dict
    candidates: list[CandidateOut]
    created_at: datetime
    matched_claim_id: UUID | None = None
    matched_line_number: int | None = None
    matched_by: str | None = None
    matched_at: datetime | None = None
    match_reason: str | None = None


class ManualMatchIn(_Body):
    """A person's decision: which billed claim (and line) this is, and why (who decided is the
    access token's subject, never a field of the body)."""

    claim_id: UUID
    line_number: Annotated[int, Field(ge=1, le=999)] | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ManualMatchOut(BaseModel):
    item: UnmatchedItemOut
    open_items_left: int
    remittance: TransactionOut | None = Field(
        default=None, description="When this was the last open item: the remittance posted again")


class JournalEntryOut(BaseModel):
    journal_id: UUID
    remittance_id: UUID
    line_number: int | None
    account: str
    group_code: str | None
    reason_code: str | None
    amount: Money = Field(description="debit positive, credit negative; each journal sums to 0")


class ClaimLedgerOut(BaseModel):
    claim_id: UUID
    payments: list[PostedClaimOut]
    entries: list[JournalEntryOut]
    balances: dict[str, Money] = Field(description="Sum per account over every posting of the claim")
