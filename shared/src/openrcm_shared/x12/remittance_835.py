"""835 Health Care Claim Payment/Advice (ASC X12 005010X221A1): typed model and streaming parser.

Two ways in, one parser underneath:

- `parse_835(source)` yields one `Remittance835` per transaction set (ST..SE) with its claims and
  provider-level adjustments in memory: the file is never held whole, one transaction at a time is.
- `stream_835(source)` yields one `RemittanceStream` per transaction set whose header is parsed and
  whose claims come one at a time from ``stream.claims``; nothing accumulates, so a single
  transaction of 100,000 claims reads in flat memory. Balance it with `RemittanceBalancer` while
  streaming (see balancing.py), and post nothing until the transaction level has balanced.

Money is `Decimal` exactly as sent (no float, no rounding). Dates are `datetime.date`.

What the parser refuses (an `X12Error` subclass naming segment and element): a transaction set that
is not an 835, segments outside their loop (an SVC before any CLP, a CLP after PLB, an unknown
segment), required elements that are missing (CLP01-CLP04, BPR01-BPR04, CAS amounts, ...),
amounts, quantities and dates that do not read as their X12 type, and date or name qualifiers
the guide does not define for the loop (the meaning of such a value is unknown, so it cannot be
posted). What it does not police: code-set values (CARC, RARC, CLP02 statuses), identifier check
digits, or anything else pyx12 and the posting rules check; and it does not balance (balancing.py).
A few elements the guide requires but posting can do without are optional in the model and None
when absent (BPR16 payment date, CLP06 filing indicator, CLP07 payer claim control number).

Objects are lean on purpose: slotted dataclasses, collections that stay a shared empty tuple until
the first item arrives, and repeated values (amounts, dates, procedure composites) shared between
claims, because one transaction may carry a hundred thousand claims. The small records created per
segment (Adjustment, Reference, ...) are not frozen: a frozen dataclass costs four times as much to
build, and the parser builds millions. Treat parsed objects as read-only; the shared ones
(`ProcedureCode`) are frozen.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import chain
from operator import length_hint

from openrcm_shared.x12.reader import (
    Delimiters, X12DataError, X12Error, X12Reader, X12Source, X12StructureError, X12TruncatedError, element,
)

__all__ = [
    "Adjustment",
    "AmountReference",
    "ClaimFragment",
    "ClaimPayment",
    "Contact",
    "EntityName",
    "InpatientAdjudication",
    "OutpatientAdjudication",
    "Party",
    "PartyAddress",
    "PaymentInformation",
    "ProcedureCode",
    "ProviderAdjustment",
    "QuantityReference",
    "ReassociationTrace",
    "Reference",
    "RemarkCode",
    "Remittance835",
    "RemittanceStream",
    "ServiceLine",
    "parse_835",
    "parse_claim_fragment",
    "stream_835",
    "stream_835_fragments",
]

_NONE: tuple = ()  # the shared "no items yet" value of every collection field


# ---------------------------------------------------------------------------------------------- model


@dataclass(slots=True)
class Adjustment:
    """One CAS triplet: group code (CO/OA/PI/PR), CARC, amount (positive reduces payment), quantity."""

    group_code: str
    reason_code: str  # CARC
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class Reference:
    """REF: qualifier (REF01) and identifier (REF02)."""

    qualifier: str
    value: str


@dataclass(slots=True)
class AmountReference:
    """AMT: qualifier (AMT01, e.g. AU coverage amount, I interest, B6 allowed) and amount (AMT02)."""

    qualifier: str
    amount: Decimal


@dataclass(slots=True)
class QuantityReference:
    """QTY: qualifier (QTY01, e.g. CA covered days, ZK federal units) and quantity (QTY02)."""

    qualifier: str
    quantity: Decimal


@dataclass(slots=True)
class RemarkCode:
    """LQ: code list qualifier (HE = RARC, RX = NCPDP reject/payment code) and the code."""

    qualifier: str
    code: str


@dataclass(frozen=True, slots=True)
class ProcedureCode:
    """A C003 composite (SVC01, SVC06): qualifier (HC, AD, NU, N4, ...), code, up to 4 modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()
    description: str | None = None  # C003-07


@dataclass(slots=True)
class EntityName:
    """NM1: who a claim is about or was adjudicated for (patient, insured, rendering provider...)."""

    entity_identifier_code: str  # NM101: QC patient, IL insured, 74 corrected patient, 82 rendering ...
    entity_type_qualifier: str  # NM102: 1 person, 2 non-person
    last_name: str = field(default="", repr=False)  # or organisation name
    first_name: str = field(default="", repr=False)
    middle_name: str = field(default="", repr=False)
    suffix: str = field(default="", repr=False)
    identification_qualifier: str = ""  # NM108: MI member id, HN, XX NPI, ...
    identifier: str = field(default="", repr=False)  # NM109


@dataclass(frozen=True, slots=True)
class InpatientAdjudication:
    """MIA (loop 2100): inpatient adjudication information, as Medicare Part A reports it."""

    covered_days_or_visits: Decimal | None = None  # MIA01
    pps_operating_outlier_amount: Decimal | None = None  # MIA02
    lifetime_psychiatric_days: Decimal | None = None  # MIA03
    claim_drg_amount: Decimal | None = None  # MIA04
    disproportionate_share_amount: Decimal | None = None  # MIA06
    msp_pass_through_amount: Decimal | None = None  # MIA07
    pps_capital_amount: Decimal | None = None  # MIA08
    pps_capital_fsp_drg_amount: Decimal | None = None  # MIA09
    pps_capital_hsp_drg_amount: Decimal | None = None  # MIA10
    pps_capital_dsh_drg_amount: Decimal | None = None  # MIA11
    old_capital_amount: Decimal | None = None  # MIA12
    pps_capital_ime_amount: Decimal | None = None  # MIA13
    pps_operating_hospital_specific_drg_amount: Decimal | None = None  # MIA14
    cost_report_day_count: Decimal | None = None  # MIA15
    pps_operating_federal_specific_drg_amount: Decimal | None = None  # MIA16
    pps_capital_outlier_amount: Decimal | None = None  # MIA17
    indirect_teaching_amount: Decimal | None = None  # MIA18
    nonpayable_professional_component_amount: Decimal | None = None  # MIA19
    pps_capital_exception_amount: Decimal | None = None  # MIA24
    remark_codes: tuple[str, ...] = ()  # MIA05, MIA20-MIA23 (RARC)


@dataclass(frozen=True, slots=True)
class OutpatientAdjudication:
    """MOA (loop 2100): outpatient adjudication information."""

    reimbursement_rate: Decimal | None = None  # MOA01, a fraction
    hcpcs_payable_amount: Decimal | None = None  # MOA02
    esrd_payment_amount: Decimal | None = None  # MOA08
    nonpayable_professional_component_amount: Decimal | None = None  # MOA09
    remark_codes: tuple[str, ...] = ()  # MOA03-MOA07 (RARC)


@dataclass(slots=True)
class ServiceLine:
    """Loop 2110 (SVC and what follows it): one adjudicated service line.

    Every collection field of the model is the shared empty tuple until its first item arrives,
    then a list: compare and read them as sequences."""

    procedure: ProcedureCode  # SVC01
    charge: Decimal  # SVC02, the submitted line charge
    paid: Decimal  # SVC03, the line provider payment
    segment_number: int  # of the SVC in its interchange, to find the line in the file
    revenue_code: str | None = None  # SVC04 (NUBC), institutional claims
    units: Decimal | None = None  # SVC05, units of service paid
    original_procedure: ProcedureCode | None = None  # SVC06, when the payer changed the code
    original_units: Decimal | None = None  # SVC07
    service_date: date | None = None  # DTM*472
    service_start_date: date | None = None  # DTM*150
    service_end_date: date | None = None  # DTM*151
    line_control_number: str | None = None  # REF*6R, echoing the 837's REF*6R
    allowed_amount: Decimal | None = None  # AMT*B6
    adjustments: Sequence[Adjustment] = _NONE  # CAS, every triplet in order
    references: Sequence[Reference] = _NONE  # REF other than 6R
    amounts: Sequence[AmountReference] = _NONE  # AMT other than B6
    quantities: Sequence[QuantityReference] = _NONE  # QTY
    remark_codes: Sequence[RemarkCode] = _NONE  # LQ


@dataclass(slots=True)
class ClaimPayment:
    """Loop 2100 (CLP and what follows it): the payer's decision on one claim.

    `patient_control_number` echoes the 837's CLM01; it is not unique inside a transaction (a payer
    may split or reprocess a claim), so locate a claim by its position or `segment_number`."""

    patient_control_number: str  # CLP01
    status_code: str  # CLP02: 1 primary, 2 secondary, 3 tertiary, 4 denied, 22 reversal, ...
    charge: Decimal  # CLP03, total claim charge
    paid: Decimal  # CLP04, claim payment amount (negative for a reversal)
    segment_number: int  # of the CLP in its interchange
    patient_responsibility: Decimal | None = None  # CLP05
    claim_filing_indicator: str | None = None  # CLP06: 12 PPO, MA/MB Medicare, MC Medicaid, ...
    payer_claim_control_number: str | None = None  # CLP07, the payer's ICN
    facility_type_code: str | None = None  # CLP08
    frequency_code: str | None = None  # CLP09
    drg_code: str | None = None  # CLP11
    drg_weight: Decimal | None = None  # CLP12
    discharge_fraction: Decimal | None = None  # CLP13
    patient: EntityName | None = None  # NM1*QC
    insured: EntityName | None = None  # NM1*IL
    corrected_patient: EntityName | None = None  # NM1*74
    service_provider: EntityName | None = None  # NM1*82 (rendering provider)
    crossover_carrier: EntityName | None = None  # NM1*TT
    corrected_priority_payer: EntityName | None = None  # NM1*PR
    other_subscriber: EntityName | None = None  # NM1*GB
    inpatient: InpatientAdjudication | None = None  # MIA
    outpatient: OutpatientAdjudication | None = None  # MOA
    statement_from: date | None = None  # DTM*232
    statement_to: date | None = None  # DTM*233
    coverage_expiration: date | None = None  # DTM*036
    received_date: date | None = None  # DTM*050
    adjustments: Sequence[Adjustment] = _NONE  # claim-level CAS
    references: Sequence[Reference] = _NONE
    amounts: Sequence[AmountReference] = _NONE
    quantities: Sequence[QuantityReference] = _NONE
    service_lines: Sequence[ServiceLine] = _NONE


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB adjustment pair: a provider-level amount not tied to one claim (interest, recoupment,
    forward balance). A positive amount reduces the payment, a negative one increases it."""

    provider_identifier: str  # PLB01
    fiscal_period_date: date  # PLB02
    reason_code: str  # PLB03-1 etc. (e.g. WO, L6 interest, CV capital passthru, FB forward balance)
    amount: Decimal  # PLB04 etc.
    reference: str | None = None  # PLB03-2, e.g. the payer claim control number being recouped


@dataclass(frozen=True, slots=True)
class PaymentInformation:
    """BPR: the money movement this transaction explains."""

    transaction_handling_code: str  # BPR01: C payment+advice, I advice only, H notification, ...
    amount: Decimal  # BPR02, total actual provider payment
    credit_debit_flag: str  # BPR03: C credit, D debit
    payment_method: str  # BPR04: ACH, CHK, BOP, FWT, NON
    payment_format: str | None = None  # BPR05: CCP, CTX
    sender_dfi_qualifier: str | None = None  # BPR06
    sender_dfi_number: str | None = field(default=None, repr=False)  # BPR07
    sender_account_qualifier: str | None = None  # BPR08
    sender_account_number: str | None = field(default=None, repr=False)  # BPR09
    payer_identifier: str | None = None  # BPR10
    payer_supplemental_code: str | None = None  # BPR11
    receiver_dfi_qualifier: str | None = None  # BPR12
    receiver_dfi_number: str | None = field(default=None, repr=False)  # BPR13
    receiver_account_qualifier: str | None = None  # BPR14
    receiver_account_number: str | None = field(default=None, repr=False)  # BPR15
    payment_date: date | None = None  # BPR16, check issue or EFT effective date

    @property
    def signed_amount(self) -> Decimal:
        """BPR02 as money into the provider's account: negative when BPR03 is D (a debit)."""
        return -self.amount if self.credit_debit_flag == "D" else self.amount


@dataclass(frozen=True, slots=True)
class ReassociationTrace:
    """TRN: ties the 835 to its payment (the check or EFT trace number)."""

    trace_type_code: str  # TRN01
    trace_number: str  # TRN02: check or EFT trace number
    payer_identifier: str | None = None  # TRN03: "1" + payer TIN, or another payer id
    originating_company_supplemental_code: str | None = None  # TRN04


@dataclass(frozen=True, slots=True)
class PartyAddress:
    """N3/N4 of a payer or payee."""

    line1: str = field(default="", repr=False)
    line2: str | None = field(default=None, repr=False)
    city: str = ""
    state: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    country_subdivision: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """PER: contact function (CX business, BL technical, IC web site), name and numbers."""

    function_code: str
    name: str | None = None
    communications: tuple[tuple[str, str], ...] = ()  # (qualifier TE/EM/FX/UR/EX, number)


@dataclass(slots=True)
class Party:
    """Loop 1000A (payer, N1*PR) or 1000B (payee, N1*PE)."""

    entity_identifier_code: str  # N101
    name: str  # N102
    identification_qualifier: str | None = None  # N103: XX NPI, FI TIN, XV plan id, ...
    identifier: str | None = None  # N104
    address: PartyAddress | None = None
    references: Sequence[Reference] = _NONE  # 1000A: 2U, EO, HI, NF; 1000B: TJ, PQ, 0B, D3, ...
    contacts: Sequence[Contact] = _NONE  # 1000A PER


@dataclass(slots=True)
class Remittance835:
    """One 835 transaction set (ST..SE): one payment and the claims it pays."""

    transaction_set_control_number: str  # ST02
    implementation_convention_reference: str | None  # ST03
    interchange_control_number: str  # ISA13
    interchange_sender_id: str  # ISA06, trimmed
    interchange_receiver_id: str  # ISA08, trimmed
    group_control_number: str  # GS06
    application_sender_code: str  # GS02
    application_receiver_code: str  # GS03
    version: str  # GS08, e.g. 005010X221A1
    payment: PaymentInformation
    trace: ReassociationTrace
    payer: Party
    payee: Party
    currency_code: str | None = None  # CUR02; amounts are in this currency (USD when absent)
    receiver_identifier: str | None = None  # REF*EV
    version_identification: str | None = None  # REF*F2
    production_date: date | None = None  # DTM*405
    claims: list[ClaimPayment] = field(default_factory=list)  # empty while streaming
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)  # PLB pairs in order

    @property
    def total_claim_payment(self) -> Decimal:
        """Sum of CLP04 over the claims held."""
        return sum((claim.paid for claim in self.claims), Decimal(0))

    @property
    def total_provider_adjustment(self) -> Decimal:
        """Sum of the PLB amounts (positive reduces the payment)."""
        return sum((adjustment.amount for adjustment in self.provider_adjustments), Decimal(0))


class RemittanceStream:
    """One 835 transaction set being read: its header now (`remittance`), its claims one by one.

    `claims` is a one-shot iterator. Once it is exhausted, `remittance.provider_adjustments` is filled
    and `finished` is True; `remittance.claims` stays empty (nothing accumulates). Advancing
    `stream_835` to the next transaction set first reads (and discards) unread claims of this one.
    """

    __slots__ = ("remittance", "claims", "finished")

    def __init__(self, remittance: Remittance835, claims: Iterator[ClaimPayment]) -> None:
        self.remittance = remittance
        self.claims = claims
        self.finished = False


# --------------------------------------------------------------------------------------------- parser

# X12.6 "R" (decimal number) type: optional minus sign, digits with an optional decimal point. No
# exponent, no plus sign, no blanks (Decimal() alone would accept "1E3", "+5", " 5" and "NaN").
_DECIMAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)\Z")
# 005010X221A1 Appendix B.1.1.3.1.2: a monetary amount (data element 782) is at most ten digits,
# the cents included (99999999.99 is the largest), and US dollars are precise to the cent.
_MAX_MONEY = Decimal("99999999.99")
_CENT = Decimal("0.01")
_CACHE_LIMIT = 16_384  # distinct amount/date/procedure strings remembered per parser
_BLANK_ELEMENTS = [""] * 32  # pads a segment whose trailing empty elements the sender left out
# Code values (CAS group and reason, qualifiers, statuses) repeat on every claim: one shared string
# each instead of a fresh copy per segment keeps a held transaction about a quarter smaller.
_shared = sys.intern

# Claim-level NM1 (loop 2100) by NM101.
_CLAIM_NAME_ROLES = {
    "QC": "patient", "IL": "insured", "74": "corrected_patient", "82": "service_provider",
    "TT": "crossover_carrier", "PR": "corrected_priority_payer", "GB": "other_subscriber",
}
_CLAIM_DATES = {"232": "statement_from", "233": "statement_to", "036": "coverage_expiration", "050": "received_date"}
# Element positions of MIA and MOA (loop 2100), shared with the 835 writer.
MIA_AMOUNTS = {
    2: "pps_operating_outlier_amount", 4: "claim_drg_amount", 6: "disproportionate_share_amount",
    7: "msp_pass_through_amount", 8: "pps_capital_amount", 9: "pps_capital_fsp_drg_amount",
    10: "pps_capital_hsp_drg_amount", 11: "pps_capital_dsh_drg_amount", 12: "old_capital_amount",
    13: "pps_capital_ime_amount", 14: "pps_operating_hospital_specific_drg_amount",
    16: "pps_operating_federal_specific_drg_amount", 17: "pps_capital_outlier_amount",
    18: "indirect_teaching_amount", 19: "nonpayable_professional_component_amount",
    24: "pps_capital_exception_amount",
}
MIA_QUANTITIES = {1: "covered_days_or_visits", 3: "lifetime_psychiatric_days", 15: "cost_report_day_count"}
MIA_REMARKS = (5, 20, 21, 22, 23)
MOA_AMOUNTS = {2: "hcpcs_payable_amount", 8: "esrd_payment_amount", 9: "nonpayable_professional_component_amount"}
MOA_REMARKS = (3, 4, 5, 6, 7)
# Segments of loop 2000 (LX header) that carry provider summary statistics, not money to post.
_PROVIDER_SUMMARY_IDS = frozenset({"TS3", "TS2"})


def parse_835(source: X12Source, **reader_options) -> Iterator[Remittance835]:
    """Yield each 835 transaction set of `source`, in file order, with all its claims and PLBs.

    Holds one transaction set in memory at a time. A transaction set is yielded only after its SE
    has been read and its envelope counts checked. Raises an `X12Error` subclass (naming segment
    and element) at the first problem; transaction sets yielded before it were complete and valid.
    `reader_options` go to `X12Reader` (chunk_size, encoding).
    """
    for stream in stream_835(source, **reader_options):
        stream.remittance.claims = list(stream.claims)
        yield stream.remittance


def stream_835(source: X12Source, **reader_options) -> Iterator[RemittanceStream]:
    """Yield each 835 transaction set as a `RemittanceStream`: header parsed, claims lazily.

    Memory stays flat however many claims a transaction set holds. Claims are yielded as each one
    ends (at the next CLP, LX, PLB or SE); PLBs are read after the last claim. The SE counts are
    checked before the claim iterator ends, so treat streamed claims as provisional until then
    (and until the transaction balances: see `balancing.RemittanceBalancer`).
    """
    return _Parser835(X12Reader(source, **reader_options)).remittances()


@dataclass(frozen=True, slots=True)
class ClaimFragment:
    """Some consecutive claims of a transaction set, as X12 text not yet parsed (whole segments,
    joined by `delimiters.segment`), with where they sit: the segment number of the first segment
    in its interchange, and how many claims of the transaction come before them. Cheap to send to
    another process, which parses it with `parse_claim_fragment`."""

    text: str
    delimiters: Delimiters
    first_segment_number: int
    claims_before: int
    claim_count: int
    interchange_number: int


def stream_835_fragments(source: X12Source, batch_size: int, **reader_options) -> Iterator[RemittanceStream]:
    """Like `stream_835`, but each stream's `claims` yields `ClaimFragment`s of up to `batch_size`
    claims instead of parsed claims: the envelope, the header and the PLBs are read and checked
    here; the claims' own segments are only cut into pieces. For parsing claims in parallel."""
    return _Parser835(X12Reader(source, **reader_options)).remittances(batch_size)


class _FragmentInput:
    """Stands in for the reader under `_Parser835` when it parses a fragment: one run of segments."""

    def __init__(self, fragment: ClaimFragment) -> None:
        separator = fragment.delimiters.element
        self._run = [piece.split(separator) for piece in fragment.text.split(fragment.delimiters.segment) if piece]
        self._run.append(["SE"])  # ends the claim loop after the fragment's last claim
        self._first = fragment.first_segment_number
        self.delimiters = fragment.delimiters
        self.interchange_number = fragment.interchange_number

    def runs(self) -> Iterator[tuple[list[list[str]], int]]:
        return iter(((self._run, self._first),))


def parse_claim_fragment(fragment: ClaimFragment) -> list[ClaimPayment]:
    """The claims of a fragment, parsed and checked by the same claim loop as `stream_835`, with the
    segment numbers they have in the file."""
    parser = _Parser835(_FragmentInput(fragment))  # type: ignore[arg-type]
    parser.component = fragment.delimiters.component
    first = parser._next()
    stream = RemittanceStream(None, iter(()))  # type: ignore[arg-type]
    return list(parser._claims(stream, first))


class _Parser835:
    """The loop state machine of 005010X221A1 over the reader's runs of segments.

    All loops take segments from one shared cursor, an iterator over the reader's current run, so
    the busy claim loop is a plain ``for`` over a list; the cursor is replaced only once exhausted.
    """

    def __init__(self, reader: X12Reader) -> None:
        self.reader = reader
        self.runs = reader.runs()
        self.run: list[list[str]] = []
        self.run_start = 1  # segment number of run[0]
        self.cursor: Iterator[list[str]] = iter(self.run)
        self.component = ":"
        self.isa: list[str] = []
        self.gs: list[str] = []
        self.decimals: dict[str, Decimal] = {}
        self.monies: dict[str, Decimal] = {}  # texts already read and checked as monetary amounts
        self.dates: dict[str, date] = {}
        self.procedures: dict[str, ProcedureCode] = {}

    # -- envelope level -----------------------------------------------------------------------------

    def remittances(self, batch_size: int | None = None) -> Iterator[RemittanceStream]:
        """With `batch_size`, each stream's `claims` yields `ClaimFragment`s (see stream_835_fragments)."""
        while (segment := self._next_or_none()) is not None:
            segment_id = segment[0]
            if segment_id == "ST":
                if segment[1] != "835":
                    raise self._error(X12StructureError, segment, 1, "transaction set is not an 835")
                remittance, first_detail = self._header(segment)
                stream = RemittanceStream(remittance, iter(()))
                stream.claims = (self._claims(stream, first_detail) if batch_size is None
                                 else self._fragments(stream, first_detail, batch_size))
                yield stream
                for _unread in stream.claims:
                    pass
                if not stream.finished:
                    # The claims stopped at an error the consumer caught: the reader is no longer at a
                    # segment boundary it can continue from, so the rest of the input cannot be trusted.
                    raise X12StructureError("reading stopped at an earlier error in this transaction set",
                                            segment_number=self._position(),
                                            interchange_number=self.reader.interchange_number)
            elif segment_id == "ISA":
                self.isa = segment
                self.component = self.reader.delimiters.component
                self.procedures.clear()  # composites were split with the previous interchange's separator
            elif segment_id == "GS":
                self.gs = segment
            # GE and IEA were checked by the reader; nothing to do.

    # -- header: BPR, TRN, CUR, REF, DTM, loops 1000A and 1000B -------------------------------------

    def _header(self, st: list[str]) -> tuple[Remittance835, list[str]]:
        """Read from BPR up to the first segment of the detail or summary (returned, unconsumed)."""
        bpr = self._next()
        if bpr[0] != "BPR":
            raise self._error(X12StructureError, bpr, None, "an 835 must start with BPR after ST")
        payment = self._payment(bpr)
        trace = None
        header: dict[str, object] = {}
        references: dict[str, str] = {}
        parties: dict[str, Party] = {}
        party: Party | None = None
        while True:
            segment = self._next()
            segment_id = segment[0]
            if segment_id in ("LX", "CLP", "PLB", "SE"):
                break
            if segment_id == "N1":
                party = self._party(segment)
                if party.entity_identifier_code in parties:
                    raise self._error(X12StructureError, segment, 1, "second N1 loop for the same party")
                parties[party.entity_identifier_code] = party
            elif party is not None:
                self._party_detail(party, segment)
            elif segment_id == "TRN":
                trace = ReassociationTrace(self._required(segment, 1), self._required(segment, 2),
                                           element(segment, 3) or None, element(segment, 4) or None)
            elif segment_id == "CUR":
                header["currency_code"] = element(segment, 2) or None
            elif segment_id == "REF":
                qualifier, value = self._required(segment, 1), self._required(segment, 2)
                if qualifier not in ("EV", "F2"):
                    raise self._error(X12DataError, segment, 1, "REF qualifier not used in the 835 header")
                references[qualifier] = value
            elif segment_id == "DTM":
                if self._required(segment, 1) != "405":
                    raise self._error(X12DataError, segment, 1, "DTM qualifier not used in the 835 header")
                header["production_date"] = self._date(segment, 2)
            else:
                raise self._error(X12StructureError, segment, None, "segment not allowed in the 835 header")
        if trace is None:
            raise self._error(X12StructureError, segment, None, "the 835 header has no TRN (reassociation trace)")
        for code, loop in (("PR", "1000A payer"), ("PE", "1000B payee")):
            if code not in parties:
                raise self._error(X12StructureError, segment, None, f"the 835 has no N1*{code} (loop {loop})")
        isa, gs = self.isa, self.gs
        remittance = Remittance835(
            transaction_set_control_number=st[2], implementation_convention_reference=element(st, 3) or None,
            interchange_control_number=isa[13], interchange_sender_id=isa[6].strip(),
            interchange_receiver_id=isa[8].strip(), group_control_number=gs[6], application_sender_code=gs[2],
            application_receiver_code=gs[3], version=element(gs, 8), payment=payment, trace=trace,
            payer=parties["PR"], payee=parties["PE"], receiver_identifier=references.get("EV"),
            version_identification=references.get("F2"), **header)
        return remittance, segment

    def _payment(self, bpr: list[str]) -> PaymentInformation:
        flag = self._required(bpr, 3)
        if flag not in ("C", "D"):
            raise self._error(X12DataError, bpr, 3, "credit/debit flag must be C or D")
        optional = [element(bpr, position) or None for position in range(5, 16)]
        return PaymentInformation(self._required(bpr, 1), self._money(bpr, 2), flag, self._required(bpr, 4),
                                  *optional, payment_date=self._date(bpr, 16) if element(bpr, 16) else None)

    def _party(self, n1: list[str]) -> Party:
        code = self._required(n1, 1)
        if code not in ("PR", "PE"):
            raise self._error(X12DataError, n1, 1, "N1 entity code must be PR (payer) or PE (payee) in an 835")
        return Party(code, element(n1, 2), element(n1, 3) or None, element(n1, 4) or None)

    def _party_detail(self, party: Party, segment: list[str]) -> None:
        segment_id = segment[0]
        if segment_id == "N3":
            address = party.address or PartyAddress()
            party.address = PartyAddress(element(segment, 1), element(segment, 2) or None, address.city,
                                         address.state, address.postal_code, address.country_code,
                                         address.country_subdivision)
        elif segment_id == "N4":
            address = party.address or PartyAddress()
            party.address = PartyAddress(address.line1, address.line2, element(segment, 1),
                                         element(segment, 2) or None, element(segment, 3) or None,
                                         element(segment, 4) or None, element(segment, 7) or None)
        elif segment_id == "REF":
            reference = Reference(self._required(segment, 1), self._required(segment, 2))
            party.references = [*party.references, reference]
        elif segment_id == "PER" and party.entity_identifier_code == "PR":
            numbers = tuple((segment[position], element(segment, position + 1))
                            for position in range(3, len(segment), 2) if segment[position])
            contact = Contact(self._required(segment, 1), element(segment, 2) or None, numbers)
            party.contacts = [*party.contacts, contact]
        elif segment_id == "RDM" and party.entity_identifier_code == "PE":
            pass  # remittance delivery method: how the payer sends paper/web remits; nothing to post
        else:
            loop = "1000A" if party.entity_identifier_code == "PR" else "1000B"
            raise self._error(X12StructureError, segment, None, f"segment not allowed in loop {loop}")

    # -- detail: loops 2000, 2100, 2110; summary: PLB ------------------------------------------------

    def _claims(self, stream: RemittanceStream, first: list[str]) -> Iterator[ClaimPayment]:
        """Yield each claim of the transaction as it ends; then read PLBs and the SE.

        This loop runs once per segment of the detail, so the common shapes of the busiest
        segments (one-triplet CAS, DTM, REF, AMT) are read inline from the caches; anything else
        goes through the general (and validating) helpers."""
        claim: ClaimPayment | None = None
        line: ServiceLine | None = None
        money_of, date_of = self.monies.get, self.dates.get
        amount, money, required = self._amount, self._money, self._required
        segments: Iterator[list[str]] = chain((first,), self.cursor)
        while True:
            for segment in segments:
                segment_id = segment[0]
                size = len(segment)
                # Ordered by how often each segment occurs in a typical 835.
                if segment_id == "CAS":
                    target = line or claim
                    if target is None:
                        raise self._error(X12StructureError, segment, None, "CAS before any CLP")
                    if size == 4 and segment[1] and segment[2]:  # one triplet without quantity
                        value = money_of(segment[3])
                        adjustment = Adjustment(_shared(segment[1]), _shared(segment[2]),
                                                money(segment, 3) if value is None else value)
                        if target.adjustments:
                            target.adjustments.append(adjustment)
                        else:
                            target.adjustments = [adjustment]
                    elif target.adjustments:
                        target.adjustments.extend(self._adjustments(segment))
                    else:
                        target.adjustments = self._adjustments(segment)
                elif segment_id == "DTM":
                    if size != 3 or not segment[1]:
                        self._check_dtm(segment)
                    value = date_of(segment[2])
                    if value is None:
                        value = self._date(segment, 2)
                    qualifier = segment[1]
                    if line is not None:
                        if qualifier == "472":
                            line.service_date = value
                        elif qualifier == "150":
                            line.service_start_date = value
                        elif qualifier == "151":
                            line.service_end_date = value
                        else:
                            raise self._error(X12DataError, segment, 1, "DTM qualifier not used in loop 2110")
                    elif claim is not None:
                        name = _CLAIM_DATES.get(qualifier)
                        if name is None:
                            raise self._error(X12DataError, segment, 1, "DTM qualifier not used in loop 2100")
                        setattr(claim, name, value)
                    else:
                        raise self._error(X12StructureError, segment, None, "DTM outside a claim")
                elif segment_id == "SVC":
                    if claim is None:
                        raise self._error(X12StructureError, segment, None,
                                          "SVC before any CLP (loop 2110 outside 2100)")
                    line = self._service_line(segment)
                    if claim.service_lines:
                        claim.service_lines.append(line)
                    else:
                        claim.service_lines = [line]
                elif segment_id == "REF":
                    target = line or claim
                    if target is None:
                        raise self._error(X12StructureError, segment, None, "REF outside a claim")
                    if size < 3 or not segment[1] or not segment[2]:
                        required(segment, 1), required(segment, 2)  # raises: REF01 and REF02 are required
                    qualifier, value = segment[1], segment[2]
                    if qualifier == "6R" and line is not None:
                        line.line_control_number = value
                    elif target.references:
                        target.references.append(Reference(_shared(qualifier), value))
                    else:
                        target.references = [Reference(_shared(qualifier), value)]
                elif segment_id == "AMT":
                    target = line or claim
                    if target is None:
                        raise self._error(X12StructureError, segment, None, "AMT outside a claim")
                    qualifier = segment[1] if size > 1 and segment[1] else required(segment, 1)
                    value = money_of(segment[2]) if size > 2 else None
                    if value is None:
                        value = money(segment, 2)
                    if qualifier == "B6" and line is not None:
                        line.allowed_amount = value
                    elif target.amounts:
                        target.amounts.append(AmountReference(_shared(qualifier), value))
                    else:
                        target.amounts = [AmountReference(_shared(qualifier), value)]
                elif segment_id == "CLP":
                    if claim is not None:
                        yield claim
                    claim, line = self._claim(segment), None
                elif segment_id == "NM1":
                    if claim is None or line is not None:
                        raise self._error(X12StructureError, segment, None,
                                          "NM1 outside loop 2100 (after CLP, before SVC)")
                    self._claim_name(claim, segment)
                elif segment_id == "LQ":
                    if line is None:
                        raise self._error(X12StructureError, segment, None, "LQ outside loop 2110 (after SVC)")
                    remark = RemarkCode(_shared(required(segment, 1)), _shared(required(segment, 2)))
                    if line.remark_codes:
                        line.remark_codes.append(remark)
                    else:
                        line.remark_codes = [remark]
                elif segment_id == "QTY":
                    target = line or claim
                    if target is None:
                        raise self._error(X12StructureError, segment, None, "QTY outside a claim")
                    quantity = QuantityReference(required(segment, 1), amount(segment, 2))
                    if target.quantities:
                        target.quantities.append(quantity)
                    else:
                        target.quantities = [quantity]
                elif segment_id == "LX":
                    if claim is not None:
                        yield claim
                    claim = line = None
                elif segment_id == "MIA" or segment_id == "MOA":
                    if claim is None or line is not None:
                        raise self._error(X12StructureError, segment, None, f"{segment_id} outside loop 2100")
                    if segment_id == "MIA":
                        claim.inpatient = self._inpatient(segment)
                    else:
                        claim.outpatient = self._outpatient(segment)
                elif segment_id in _PROVIDER_SUMMARY_IDS:
                    if claim is not None:
                        raise self._error(X12StructureError, segment, None, f"{segment_id} inside a claim (loop 2000 "
                                          "provider summary belongs right after LX)")
                elif segment_id == "PER":
                    if claim is None or line is not None:
                        raise self._error(X12StructureError, segment, None, "PER outside loop 2100")
                    # 2100 PER*CX is the payer's claim contact; nothing to post, so it is not kept.
                elif segment_id == "PLB":
                    if claim is not None:
                        yield claim
                    self._summary(stream.remittance, segment)
                    stream.finished = True
                    return
                elif segment_id == "SE":
                    if claim is not None:
                        yield claim
                    stream.finished = True
                    return
                else:
                    raise self._error(X12StructureError, segment, None, "segment not allowed in the 835 detail")
            # The run is used up (only this loop takes from the cursor while it runs): next run.
            if not self._advance():
                raise self._truncated()
            segments = self.cursor

    def _fragments(self, stream: RemittanceStream, first: list[str], batch_size: int) -> Iterator[ClaimFragment]:
        """The detail as text, `batch_size` claims a fragment, for `parse_claim_fragment` to parse
        elsewhere; then PLBs and the SE, as `_claims` reads them. A fragment starts at a CLP (the
        first one at the detail's first segment) and holds whole segments, so LX and provider
        summary segments go with the claims before them."""
        delimiters = self.reader.delimiters
        separator, terminator = delimiters.element, delimiters.segment
        interchange = self.reader.interchange_number
        pieces: list[str] = []
        claims, claims_before, start = 0, 0, self._position()
        segments: Iterator[list[str]] = chain((first,), self.cursor)
        while True:
            for segment in segments:
                segment_id = segment[0]
                if segment_id == "CLP":
                    if claims == batch_size:
                        yield ClaimFragment(terminator.join(pieces), delimiters, start, claims_before, claims,
                                            interchange)
                        pieces, claims_before, claims, start = [], claims_before + claims, 0, self._position()
                    claims += 1
                elif segment_id == "PLB" or segment_id == "SE":
                    if pieces:
                        yield ClaimFragment(terminator.join(pieces), delimiters, start, claims_before, claims,
                                            interchange)
                    if segment_id == "PLB":
                        self._summary(stream.remittance, segment)
                    stream.finished = True
                    return
                pieces.append(separator.join(segment))
            if not self._advance():
                raise self._truncated()
            segments = self.cursor

    def _check_dtm(self, dtm: list[str]) -> None:
        """DTM01 and DTM02 are both required; a DTM carries nothing else in an 835."""
        self._required(dtm, 1)
        self._date(dtm, 2)

    def _claim(self, clp: list[str]) -> ClaimPayment:
        """CLP: the claim's identity and money (CLP01-CLP04 required)."""
        size = len(clp)
        if size < 5:
            clp = clp + _BLANK_ELEMENTS[:5 - size]  # the helpers below then name what is missing
        money_of = self.monies.get
        claim = ClaimPayment(clp[1] or self._required(clp, 1), _shared(clp[2] or self._required(clp, 2)),
                             money_of(clp[3]) or self._money(clp, 3), money_of(clp[4]) or self._money(clp, 4),
                             self._position())
        if size > 5:  # trailing elements are often left out: test the size before each
            if clp[5]:
                claim.patient_responsibility = money_of(clp[5]) or self._money(clp, 5)
            if size > 6 and clp[6]:
                claim.claim_filing_indicator = _shared(clp[6])
            if size > 7 and clp[7]:
                claim.payer_claim_control_number = clp[7]
            if size > 8:
                self._institutional_claim(claim, clp + _BLANK_ELEMENTS[:14 - size] if size < 14 else clp)
        return claim

    def _institutional_claim(self, claim: ClaimPayment, clp: list[str]) -> None:
        """CLP08-CLP13 (facility, frequency, DRG): only institutional claims carry them."""
        if clp[8]:
            claim.facility_type_code = clp[8]
        if clp[9]:
            claim.frequency_code = clp[9]
        if clp[11]:
            claim.drg_code = clp[11]
        if clp[12]:
            claim.drg_weight = self._amount(clp, 12)
        if clp[13]:
            claim.discharge_fraction = self._amount(clp, 13)

    def _service_line(self, svc: list[str]) -> ServiceLine:
        """SVC: the line's procedure and money (SVC01-SVC03 required)."""
        size = len(svc)
        if size < 4:
            svc = svc + _BLANK_ELEMENTS[:4 - size]  # the helpers below then name what is missing
        decimal_of, money_of = self.decimals.get, self.monies.get
        # `or` falls back to the validating helper on a cache miss (and on a zero, harmlessly).
        line = ServiceLine(self.procedures.get(svc[1]) or self._procedure(svc, 1),
                           money_of(svc[2]) or self._money(svc, 2), money_of(svc[3]) or self._money(svc, 3),
                           self._position())
        if size > 4:
            if svc[4]:
                line.revenue_code = svc[4]
            if size > 5 and svc[5]:
                line.units = decimal_of(svc[5]) or self._amount(svc, 5)
            if size > 6 and svc[6]:
                line.original_procedure = self._procedure(svc, 6)
            if size > 7 and svc[7]:
                line.original_units = self._amount(svc, 7)
        return line

    def _adjustments(self, cas: list[str]) -> list[Adjustment]:
        """All CAS triplets (reason, amount, quantity) of one segment, up to six, in order."""
        group = self._required(cas, 1)
        adjustments = []
        count = len(cas)
        if count > 20:  # CAS01 and six triplets, CAS02-CAS19
            raise self._error(X12DataError, cas, 20, "CAS holds at most six adjustments (CAS02-CAS19)")
        for position in range(2, count, 3):
            reason = cas[position]
            if not reason:
                if any(cas[position + 1:position + 3]):
                    raise self._error(X12DataError, cas, position, "CAS amount without a reason code")
                continue
            amount = self._money(cas, position + 1)
            quantity = self._amount(cas, position + 2) if position + 2 < count and cas[position + 2] else None
            adjustments.append(Adjustment(_shared(group), _shared(reason), amount, quantity))
        if not adjustments:
            raise self._error(X12DataError, cas, 2, "CAS without any adjustment")
        return adjustments

    def _claim_name(self, claim: ClaimPayment, nm1: list[str]) -> None:
        role = _CLAIM_NAME_ROLES.get(nm1[1] if len(nm1) > 1 else "")
        if role is None:
            self._required(nm1, 1)
            raise self._error(X12DataError, nm1, 1, "NM1 entity code not used in loop 2100")
        if len(nm1) < 10:
            nm1 = nm1 + _BLANK_ELEMENTS[:10 - len(nm1)]
        # NM106 (name prefix) is not used in the 835.
        setattr(claim, role, EntityName(_shared(nm1[1]), _shared(nm1[2]), nm1[3], nm1[4], nm1[5], nm1[7],
                                        _shared(nm1[8]), nm1[9]))

    def _inpatient(self, mia: list[str]) -> InpatientAdjudication:
        values: dict[str, object] = {}
        for position, name in MIA_AMOUNTS.items():
            if element(mia, position):
                values[name] = self._money(mia, position)
        for position, name in MIA_QUANTITIES.items():
            if element(mia, position):
                values[name] = self._amount(mia, position)
        remarks = tuple(code for code in (element(mia, position) for position in MIA_REMARKS) if code)
        return InpatientAdjudication(remark_codes=remarks, **values)

    def _outpatient(self, moa: list[str]) -> OutpatientAdjudication:
        values: dict[str, object] = {}
        for position, name in MOA_AMOUNTS.items():
            if element(moa, position):
                values[name] = self._money(moa, position)
        if element(moa, 1):
            values["reimbursement_rate"] = self._amount(moa, 1)
        remarks = tuple(code for code in (element(moa, position) for position in MOA_REMARKS) if code)
        return OutpatientAdjudication(remark_codes=remarks, **values)

    def _summary(self, remittance: Remittance835, first_plb: list[str]) -> None:
        """Table 3: PLB segments up to the SE."""
        segment = first_plb
        while segment[0] == "PLB":
            remittance.provider_adjustments.extend(self._provider_adjustments(segment))
            segment = self._next()
        if segment[0] != "SE":
            raise self._error(X12StructureError, segment, None, "only PLB segments may follow the first PLB")

    def _provider_adjustments(self, plb: list[str]) -> list[ProviderAdjustment]:
        """Up to six (reason composite, amount) pairs of one PLB (PLB03/04 ... PLB13/14)."""
        provider, fiscal_period = self._required(plb, 1), self._date(plb, 2)
        if len(plb) > 15:  # PLB01, PLB02 and six pairs, PLB03-PLB14
            raise self._error(X12DataError, plb, 15, "PLB holds at most six adjustments (PLB03-PLB14)")
        adjustments = []
        for position in range(3, len(plb), 2):
            if not plb[position]:
                if element(plb, position + 1):
                    raise self._error(X12DataError, plb, position, "PLB amount without a reason code")
                continue
            reason, _, rest = plb[position].partition(self.component)
            if not reason:
                raise self._error(X12DataError, plb, position, "PLB adjustment without a reason code")
            reference = rest.split(self.component, 1)[0] or None
            adjustments.append(ProviderAdjustment(provider, fiscal_period, reason, self._money(plb, position + 1),
                                                  reference))
        if not adjustments:
            raise self._error(X12DataError, plb, 3, "PLB without any adjustment")
        return adjustments

    # -- elements -----------------------------------------------------------------------------------

    def _advance(self) -> bool:
        """Move the cursor to the reader's next run; False at the end of the input."""
        following = next(self.runs, None)
        if following is None:
            return False
        self.run, self.run_start = following
        self.cursor = iter(self.run)
        return True

    def _next_or_none(self) -> list[str] | None:
        for segment in self.cursor:
            return segment
        while self._advance():
            for segment in self.cursor:
                return segment
        return None

    def _next(self) -> list[str]:
        segment = self._next_or_none()
        if segment is None:
            raise self._truncated()
        return segment

    def _position(self) -> int:
        """Segment number (in its interchange) of the segment last taken from the cursor."""
        return self.run_start + len(self.run) - length_hint(self.cursor) - 1

    def _truncated(self) -> X12Error:
        # The reader raises on any input ending inside an ST; this is a guard, not a path.
        return X12TruncatedError("the input ends inside an 835 transaction set", segment_number=self._position() + 1,
                                 interchange_number=self.reader.interchange_number)

    def _error(self, error_class: type[X12Error], segment: list[str], position: int | None, reason: str) -> X12Error:
        """An error at the segment being parsed (the one last taken from the cursor)."""
        return error_class(reason, segment_number=self._position(), segment_id=segment[0][:3],
                           element_position=position, interchange_number=self.reader.interchange_number)

    def _required(self, segment: list[str], position: int) -> str:
        value = segment[position] if position < len(segment) else ""
        if not value:
            raise self._error(X12DataError, segment, position, "required element is missing")
        return value

    def _amount(self, segment: list[str], position: int) -> Decimal:
        """An X12 R-type number as an exact Decimal (amounts, quantities, rates)."""
        text = segment[position] if position < len(segment) else ""
        value = self.decimals.get(text)
        if value is None:
            if not text:
                raise self._error(X12DataError, segment, position, "required number is missing")
            if not _DECIMAL.match(text):
                raise self._error(X12DataError, segment, position, "not a decimal number")
            value = Decimal(text)
            if len(self.decimals) >= _CACHE_LIMIT:
                self.decimals.clear()
            self.decimals[text] = value
        return value

    def _money(self, segment: list[str], position: int) -> Decimal:
        """A monetary amount (data element 782): an R-type number of whole cents, at most 99999999.99
        either way (the guide's limit, well within what the ledger holds)."""
        text = segment[position] if position < len(segment) else ""
        value = self.monies.get(text)
        if value is None:
            value = self._amount(segment, position)
            # The size first: quantizing a number longer than the decimal context (28 digits) raises.
            if abs(value) > _MAX_MONEY:
                raise self._error(X12DataError, segment, position, "monetary amount beyond 99999999.99")
            if value != value.quantize(_CENT):
                raise self._error(X12DataError, segment, position, "monetary amount in fractions of a cent")
            if len(self.monies) >= _CACHE_LIMIT:
                self.monies.clear()
            self.monies[text] = value
        return value

    def _date(self, segment: list[str], position: int) -> date:
        """A CCYYMMDD (DT) element as a date."""
        text = segment[position] if position < len(segment) else ""
        value = self.dates.get(text)
        if value is None:
            if not text:
                raise self._error(X12DataError, segment, position, "required date is missing")
            try:
                if len(text) != 8 or not text.isdigit():
                    raise ValueError
                value = date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                raise self._error(X12DataError, segment, position, "not a date (CCYYMMDD)") from None
            if len(self.dates) >= _CACHE_LIMIT:
                self.dates.clear()
            self.dates[text] = value
        return value

    def _procedure(self, segment: list[str], position: int) -> ProcedureCode:
        """A C003 procedure composite; shared between lines that bill the same code."""
        text = segment[position] if position < len(segment) else ""
        procedure = self.procedures.get(text)
        if procedure is None:
            if not text:
                raise self._error(X12DataError, segment, position, "procedure composite is missing")
            components = text.split(self.component)
            modifiers = tuple(modifier for modifier in components[2:6] if modifier)
            procedure = ProcedureCode(components[0], components[1] if len(components) > 1 else "", modifiers,
                                      components[6] or None if len(components) > 6 else None)
            if len(self.procedures) >= _CACHE_LIMIT:
                self.procedures.clear()
            self.procedures[text] = procedure
        return procedure
