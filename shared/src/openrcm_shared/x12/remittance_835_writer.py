"""835 Health Care Claim Payment/Advice (ASC X12 005010X221A1) writer: the parser's model back to X12.

`write_835(envelope, remittances)` renders one interchange (ISA/GS*HP .. GE/IEA) holding one 835
transaction set per `Remittance835`, from the same model classes `parse_835` returns, so that
`parse_835(write_835(envelope_for(r, ...), [r]))` gives `r` back (segment numbers aside, which the
parser counts in the file it reads).

Guarantees:
- Pure: no I/O, no clock; the same inputs give the same text.
- All or nothing, fail closed: every transaction set is checked before anything is returned. The
  first problem raises `Remittance835WriteError` (a `ValueError`) naming the field, e.g.
  `remittances[0].claims[2].service_lines[0].paid`. Checked here:
  - balancing at line, claim and transaction level (005010X221A1 section 1.10.2, via
    `balancing.balance_remittance`): `UnbalancedRemittanceError`, with every difference;
  - what the TR3 requires and the parser's model leaves optional: BPR16 payment date, the payer's
    address (1000A N3/N4) and PER*BL contact, the payee's identifier (1000B N103/N104), CLP06,
    CLP07 and the patient (NM1*QC) on every claim;
  - BPR02 is never negative (an 835 is not issued for less than zero dollars: the payer carries a
    negative balance forward with PLB instead), BPR01 H (notification only) pays exactly zero, and
    an ACH payment carries the bank routing of BPR05-BPR15;
  - money has at most two decimal places (a sub-cent amount cannot be posted); X12 has no escape
    character, so text holding a delimiter is refused, never rewritten.
- Code values (CARC, RARC, CLP02) are written as given: pyx12 and the code sets judge those.

Layout choices (all within the TR3):
- ST03 is not written (the 835 does not use it; pyx12's X221A1 map refuses it), so a parsed ST03
  comes back as None; GS08 is always 005010X221A1;
- one LX (2000) loop per transaction set, LX01 = 1, followed by TS3 when a `ProviderSummary` is given
  for it (TS304/TS305, claim count and total charge, are computed from the claims);
- CAS: consecutive adjustments of one group code share a segment (at most six per segment), so the
  order of `adjustments` survives a round trip;
- REF, PER and DTM segments are written in the TR3's order within their loop (REF*6R between the
  service identification and the rendering provider REFs), keeping the model's order inside each;
- PLB: consecutive adjustments with the same provider and fiscal period share a segment, six pairs
  at most (the TR3 repeats PLB; pyx12 4.0 wrongly flags a second one, so callers that must pass
  pyx12 keep to six pairs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from openrcm_shared.x12.acknowledgment_envelope import (
    Element,
    InterchangeEnvelope,
    Segment,
    TransactionSetBody,
    UnsafeElement,
    format_amount,
    format_date,
    render_interchange,
    render_segment,
)
from openrcm_shared.x12.balancing import BalancingDifference, BalancingLevel, balance_remittance
from openrcm_shared.x12.reader import Delimiters
from openrcm_shared.x12.remittance_835 import (  # MIA/MOA positions: written back where the parser reads them
    MIA_AMOUNTS,
    MIA_QUANTITIES,
    MIA_REMARKS,
    MOA_AMOUNTS,
    MOA_REMARKS,
    Adjustment,
    ClaimPayment,
    Contact,
    EntityName,
    InpatientAdjudication,
    OutpatientAdjudication,
    Party,
    PaymentInformation,
    ProcedureCode,
    ProviderAdjustment,
    Reference,
    Remittance835,
    ServiceLine,
)

__all__ = [
    "FUNCTIONAL_ID_835",
    "IMPLEMENTATION_GUIDE",
    "ProviderSummary",
    "Remittance835WriteError",
    "UnbalancedRemittanceError",
    "envelope_for",
    "write_835",
]

IMPLEMENTATION_GUIDE = "005010X221A1"
FUNCTIONAL_ID_835 = "HP"  # GS01: health care claim payment/advice

_CENT = Decimal("0.01")
_AMOUNT_LIMIT = Decimal(10) ** 16  # X12 data element 782 (monetary amount) is R 1/18: 16 digits and cents
_MAX_TRIPLETS_PER_CAS = 6  # CAS02-CAS19
_MAX_PAIRS_PER_PLB = 6  # PLB03-PLB14
_MAX_COMMUNICATIONS_PER_PER = 3  # PER03-PER08
_T = TypeVar("_T")
_NOTIFICATION_ONLY = "H"  # BPR01: no money moves with this 835
_ACH = "ACH"

# TR3 order of the REF segments inside a loop (loop 2100, loop 2110): each qualifier's rank is its
# segment's position in the loop; qualifiers the TR3 does not list sort last, in the model's order.
_CLAIM_REFERENCE_RANK = {
    **dict.fromkeys(("1L", "1W", "28", "6P", "9A", "9C", "BB", "CE", "EA", "F8", "G1", "G3", "IG", "SY"), 0),
    **dict.fromkeys(("0B", "1A", "1B", "1C", "1D", "1G", "1H", "1J", "D3", "G2", "LU"), 1),
}
_LINE_REFERENCE_RANK = {  # REF*6R (rank 1) is the line control number, written between these
    **dict.fromkeys(("1S", "APC", "BB", "E9", "G1", "G3", "LU", "RB"), 0),
    **dict.fromkeys(("0B", "1A", "1B", "1C", "1D", "1G", "1H", "1J", "D3", "G2", "HPI", "SY", "TJ"), 2),
    "0K": 3,
}
_PAYER_CONTACT_RANK = {"CX": 0, "BL": 1, "IC": 2}  # 1000A PER: CX, then BL (required), then IC
# Loop 2100 NM1s in TR3 order: model attribute and the NM101 it is written with.
_CLAIM_NAMES = (("patient", "QC"), ("insured", "IL"), ("corrected_patient", "74"), ("service_provider", "82"),
                ("crossover_carrier", "TT"), ("corrected_priority_payer", "PR"), ("other_subscriber", "GB"))
_CLAIM_DATES = (("statement_from", "232"), ("statement_to", "233"), ("coverage_expiration", "036"),
                ("received_date", "050"))


class Remittance835WriteError(ValueError):
    """The model cannot be written as a valid 835: `field` names where (`remittances[0].claims[1].paid`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UnbalancedRemittanceError(Remittance835WriteError):
    """A transaction set does not balance (TR3 section 1.10.2); `differences` holds every equation
    that fails, and `field` names the first."""

    def __init__(self, field: str, problem: str, differences: Sequence[BalancingDifference]) -> None:
        super().__init__(field, problem)
        self.differences = tuple(differences)


@dataclass(frozen=True, slots=True)
class ProviderSummary:
    """TS3 (loop 2000): the provider summary Medicare Part A payers send; optional elsewhere.

    Claim count (TS304) and total claim charge (TS305) are computed from the claims written."""

    provider_identifier: str  # TS301, e.g. the payee's NPI
    facility_type_code: str  # TS302: place of service or the first two positions of the bill type
    fiscal_period_end: date  # TS303: last day of the provider's fiscal year


def envelope_for(remittance: Remittance835, *, created_at: datetime, sender_qualifier: str = "ZZ",
                 receiver_qualifier: str = "ZZ", usage_indicator: str = "P",
                 delimiters: Delimiters = Delimiters()) -> InterchangeEnvelope:
    """The envelope a parsed `remittance` arrived in, so that writing it again keeps ISA06/ISA08/ISA13
    and GS02/GS03/GS06. What the model does not keep (qualifiers, date, usage) is given here."""
    try:
        interchange_control_number = int(remittance.interchange_control_number)
        group_control_number = int(remittance.group_control_number)
    except ValueError:
        raise Remittance835WriteError("interchange_control_number", "ISA13 and GS06 must be numeric") from None
    return InterchangeEnvelope(
        sender_qualifier=sender_qualifier, sender_id=remittance.interchange_sender_id,
        receiver_qualifier=receiver_qualifier, receiver_id=remittance.interchange_receiver_id,
        application_sender_code=remittance.application_sender_code,
        application_receiver_code=remittance.application_receiver_code,
        interchange_control_number=interchange_control_number, group_control_number=group_control_number,
        created_at=created_at, usage_indicator=usage_indicator, delimiters=delimiters)


def write_835(envelope: InterchangeEnvelope, remittances: Sequence[Remittance835], *,
              provider_summaries: Mapping[str, ProviderSummary] | None = None) -> str:
    """One interchange, one functional group (GS01 HP, GS08 005010X221A1), one 835 per remittance.

    The envelope gives ISA/GS; each remittance gives its ST02 and everything inside ST..SE (its own
    interchange fields are not used). `provider_summaries` maps an ST02 to the TS3 of that
    transaction set. Raises `Remittance835WriteError` (or `UnbalancedRemittanceError`) and returns
    nothing when any transaction set cannot be written balanced and valid."""
    if not remittances:
        raise Remittance835WriteError("remittances", "an interchange needs at least one transaction set")
    summaries = provider_summaries or {}
    bodies = []
    for index, remittance in enumerate(remittances):
        where = f"remittances[{index}]"
        _check_balanced(remittance, where)
        segments = _TransactionWriter(where).segments(remittance,
                                                      summaries.get(remittance.transaction_set_control_number))
        bodies.append(TransactionSetBody(remittance.transaction_set_control_number, segments))
    try:
        text = render_interchange(envelope, functional_id=FUNCTIONAL_ID_835, transaction_set_id="835",
                                  version=IMPLEMENTATION_GUIDE, transaction_sets=bodies)
    except UnsafeElement as exc:
        _locate_unsafe_element(bodies, envelope.delimiters)
        raise Remittance835WriteError("envelope", str(exc)) from None  # ISA/GS: nothing inside ST..SE
    return _without_st03(text, bodies, envelope.delimiters)


def _without_st03(text: str, bodies: Sequence[TransactionSetBody], delimiters: Delimiters) -> str:
    """Drop ST03: the 835 TR3 marks it not used (pyx12's X221A1 map refuses it), while the shared
    envelope writer always sends it. Each ST is matched as a whole segment, terminator to terminator."""
    terminator = delimiters.segment
    for body in bodies:
        with_reference = render_segment("ST", ["835", body.control_number, IMPLEMENTATION_GUIDE], delimiters)
        without = render_segment("ST", ["835", body.control_number], delimiters)
        text = text.replace(terminator + with_reference, terminator + without, 1)
    return text


# ------------------------------------------------------------------------------------ refusals


def _check_balanced(remittance: Remittance835, where: str) -> None:
    differences = balance_remittance(remittance)
    if not differences:
        return
    first = differences[0]
    if first.level is BalancingLevel.SERVICE_LINE:
        field = f"{where}.claims[{first.claim_index - 1}].service_lines[{first.line_index - 1}].paid"
        problem = f"SVC03 is {first.actual} but SVC02 - CAS is {first.expected} (line balancing)"
    elif first.level is BalancingLevel.CLAIM:
        field = f"{where}.claims[{first.claim_index - 1}].paid"
        problem = f"CLP04 is {first.actual} but CLP03 - CAS is {first.expected} (claim balancing)"
    else:
        field = f"{where}.payment.amount"
        problem = f"BPR02 is {first.actual} but sum(CLP04) - sum(PLB) is {first.expected} (transaction balancing)"
    raise UnbalancedRemittanceError(field, f"{problem}; {len(differences)} difference(s) in all", differences)


def _locate_unsafe_element(bodies: Sequence[TransactionSetBody], delimiters: Delimiters) -> None:
    """Raise for the first segment holding a delimiter, naming its transaction set and position
    (rendering refused the interchange; this pass, on that path only, says where)."""
    for index, body in enumerate(bodies):
        for position, (segment_id, elements) in enumerate(body.segments, start=2):  # ST is segment 1
            try:
                render_segment(segment_id, elements, delimiters)
            except UnsafeElement as exc:
                raise Remittance835WriteError(f"remittances[{index}] (segment {position}, {segment_id})",
                                              str(exc)) from None


def _required(value: object, field: str, what: str) -> None:
    if value is None or value == "":
        raise Remittance835WriteError(field, f"{what} is required by 005010X221A1")


def _money(value: Decimal | None, field: str) -> str:
    """An amount (X12 R): exact to the cent, never rounded; negative zero is written as 0."""
    if value is None:
        return ""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise Remittance835WriteError(field, f"{value!r} is not a finite Decimal amount")
    if abs(value) >= _AMOUNT_LIMIT:
        raise Remittance835WriteError(field, f"{value} does not fit X12 R 1/18 with cents")
    if value != value.quantize(_CENT):
        raise Remittance835WriteError(field, f"{value} has more than two decimal places")
    return format_amount(value) if value else "0"


def _quantity(value: Decimal | None, field: str) -> str:
    """A quantity, rate or weight (X12 R): every digit given, no exponent, no trailing zeros."""
    if value is None:
        return ""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise Remittance835WriteError(field, f"{value!r} is not a finite Decimal")
    if not value:
        return "0"
    return f"{value.normalize():f}"


def _date(value: date | None) -> str:
    return format_date(value) if value is not None else ""


# ------------------------------------------------------------------------------------ segments


class _TransactionWriter:
    """The segments between ST and SE of one transaction set, in TR3 order."""

    def __init__(self, where: str) -> None:
        self.where = where

    def segments(self, remittance: Remittance835, summary: ProviderSummary | None) -> list[Segment]:
        segments = [self._bpr(remittance.payment), self._trn(remittance)]
        if remittance.currency_code:
            segments.append(("CUR", ["PR", remittance.currency_code]))  # CUR01 PR: the payer's currency
        if remittance.receiver_identifier:
            segments.append(("REF", ["EV", remittance.receiver_identifier]))
        if remittance.version_identification:
            segments.append(("REF", ["F2", remittance.version_identification]))
        if remittance.production_date:
            segments.append(("DTM", ["405", _date(remittance.production_date)]))
        segments += self._payer(remittance.payer)
        segments += self._payee(remittance.payee)
        if remittance.claims:
            segments.append(("LX", ["1"]))
            if summary is not None:
                segments.append(self._ts3(summary, remittance.claims))
            for index, claim in enumerate(remittance.claims):
                segments += self._claim(claim, f"{self.where}.claims[{index}]")
        elif summary is not None:
            raise Remittance835WriteError(f"{self.where}.claims", "a provider summary (TS3) needs claims")
        segments += self._provider_adjustments(remittance.provider_adjustments)
        return segments

    # -- header -----------------------------------------------------------------------------------

    def _bpr(self, payment: PaymentInformation) -> Segment:
        field = f"{self.where}.payment"
        _required(payment.payment_date, f"{field}.payment_date", "BPR16 (check issue or EFT effective date)")
        if payment.amount < 0:
            raise Remittance835WriteError(f"{field}.amount", "BPR02 cannot be negative: an 835 is not issued for "
                                          "less than zero dollars (carry the balance forward with PLB)")
        if payment.transaction_handling_code == _NOTIFICATION_ONLY and payment.amount != 0:
            raise Remittance835WriteError(f"{field}.amount", "BPR01 H (notification only) moves no money: BPR02 "
                                          "must be 0")
        if payment.payment_method == _ACH:
            # TR3 BPR05-BPR15: required when BPR04 is ACH (the banks and accounts of the transfer).
            for name in ("payment_format", "sender_dfi_qualifier", "sender_dfi_number", "sender_account_qualifier",
                         "sender_account_number", "payer_identifier", "receiver_dfi_qualifier",
                         "receiver_dfi_number", "receiver_account_qualifier", "receiver_account_number"):
                _required(getattr(payment, name), f"{field}.{name}", "bank routing of an ACH payment")
        return ("BPR", [payment.transaction_handling_code, _money(payment.amount, f"{field}.amount"),
                        payment.credit_debit_flag, payment.payment_method, payment.payment_format,
                        payment.sender_dfi_qualifier, payment.sender_dfi_number, payment.sender_account_qualifier,
                        payment.sender_account_number, payment.payer_identifier, payment.payer_supplemental_code,
                        payment.receiver_dfi_qualifier, payment.receiver_dfi_number,
                        payment.receiver_account_qualifier, payment.receiver_account_number,
                        _date(payment.payment_date)])

    def _trn(self, remittance: Remittance835) -> Segment:
        trace = remittance.trace
        _required(trace.payer_identifier, f"{self.where}.trace.payer_identifier", "TRN03 (originating company id)")
        return ("TRN", [trace.trace_type_code, trace.trace_number, trace.payer_identifier,
                        trace.originating_company_supplemental_code])

    def _payer(self, payer: Party) -> list[Segment]:
        field = f"{self.where}.payer"
        if payer.entity_identifier_code != "PR":
            raise Remittance835WriteError(f"{field}.entity_identifier_code", "the payer is N1*PR (loop 1000A)")
        if payer.address is None or not payer.address.line1 or not payer.address.city:
            raise Remittance835WriteError(f"{field}.address", "the payer's N3/N4 address is required (loop 1000A)")
        contacts = sorted(payer.contacts, key=lambda contact: _PAYER_CONTACT_RANK.get(contact.function_code, 3))
        if not any(contact.function_code == "BL" for contact in contacts):
            raise Remittance835WriteError(f"{field}.contacts", "PER*BL (payer technical contact) is required")
        segments = self._party(payer)
        segments += [("REF", [reference.qualifier, reference.value]) for reference in payer.references]
        segments += [self._per(contact, f"{field}.contacts") for contact in contacts]
        return segments

    def _payee(self, payee: Party) -> list[Segment]:
        field = f"{self.where}.payee"
        if payee.entity_identifier_code != "PE":
            raise Remittance835WriteError(f"{field}.entity_identifier_code", "the payee is N1*PE (loop 1000B)")
        _required(payee.identification_qualifier, f"{field}.identification_qualifier", "N103 (XX NPI, FI, XV)")
        _required(payee.identifier, f"{field}.identifier", "N104 (the payee's identifier)")
        return self._party(payee) + [("REF", [reference.qualifier, reference.value]) for reference in payee.references]

    @staticmethod
    def _party(party: Party) -> list[Segment]:
        segments: list[Segment] = [("N1", [party.entity_identifier_code, party.name, party.identification_qualifier,
                                           party.identifier])]
        address = party.address
        if address is not None:
            segments.append(("N3", [address.line1, address.line2]))
            segments.append(("N4", [address.city, address.state, address.postal_code, address.country_code, None,
                                    None, address.country_subdivision]))
        return segments

    @staticmethod
    def _per(contact: Contact, field: str) -> Segment:
        if len(contact.communications) > _MAX_COMMUNICATIONS_PER_PER:
            raise Remittance835WriteError(field, "PER holds at most three communication numbers")
        numbers: list[Element] = [part for pair in contact.communications for part in pair]
        return ("PER", [contact.function_code, contact.name, *numbers])

    # -- detail -----------------------------------------------------------------------------------

    @staticmethod
    def _ts3(summary: ProviderSummary, claims: Sequence[ClaimPayment]) -> Segment:
        total_charge = sum((claim.charge for claim in claims), Decimal(0))
        return ("TS3", [summary.provider_identifier, summary.facility_type_code, _date(summary.fiscal_period_end),
                        str(len(claims)), _money(total_charge, "provider_summary.total_charge")])

    def _claim(self, claim: ClaimPayment, field: str) -> list[Segment]:
        _required(claim.patient_control_number, f"{field}.patient_control_number", "CLP01")
        _required(claim.claim_filing_indicator, f"{field}.claim_filing_indicator", "CLP06")
        _required(claim.payer_claim_control_number, f"{field}.payer_claim_control_number", "CLP07")
        _required(claim.patient, f"{field}.patient", "the patient (NM1*QC)")
        segments: list[Segment] = [("CLP", [
            claim.patient_control_number, claim.status_code, _money(claim.charge, f"{field}.charge"),
            _money(claim.paid, f"{field}.paid"),
            _money(claim.patient_responsibility, f"{field}.patient_responsibility"),
            claim.claim_filing_indicator, claim.payer_claim_control_number, claim.facility_type_code,
            claim.frequency_code, None, claim.drg_code, _quantity(claim.drg_weight, f"{field}.drg_weight"),
            _quantity(claim.discharge_fraction, f"{field}.discharge_fraction")])]
        segments += _cas_segments(claim.adjustments, f"{field}.adjustments")
        for attribute, code in _CLAIM_NAMES:
            name = getattr(claim, attribute)
            if name is not None:
                segments.append(_nm1(name, code, f"{field}.{attribute}"))
        if claim.inpatient is not None:
            segments.append(_mia(claim.inpatient, f"{field}.inpatient"))
        if claim.outpatient is not None:
            segments.append(_moa(claim.outpatient, f"{field}.outpatient"))
        segments += [("REF", [reference.qualifier, reference.value])
                     for reference in _in_rank_order(claim.references, _CLAIM_REFERENCE_RANK)]
        segments += [("DTM", [code, _date(getattr(claim, attribute))])
                     for attribute, code in _CLAIM_DATES if getattr(claim, attribute) is not None]
        segments += [("AMT", [amount.qualifier, _money(amount.amount, f"{field}.amounts")]) for amount in claim.amounts]
        segments += [("QTY", [quantity.qualifier, _quantity(quantity.quantity, f"{field}.quantities")])
                     for quantity in claim.quantities]
        for index, line in enumerate(claim.service_lines):
            segments += self._service_line(line, f"{field}.service_lines[{index}]")
        return segments

    @staticmethod
    def _service_line(line: ServiceLine, field: str) -> list[Segment]:
        segments: list[Segment] = [("SVC", [
            _composite(line.procedure), _money(line.charge, f"{field}.charge"), _money(line.paid, f"{field}.paid"),
            line.revenue_code, _quantity(line.units, f"{field}.units"),
            _composite(line.original_procedure) if line.original_procedure else None,
            _quantity(line.original_units, f"{field}.original_units")])]
        for code, day in (("150", line.service_start_date), ("151", line.service_end_date),
                          ("472", line.service_date)):
            if day is not None:
                segments.append(("DTM", [code, _date(day)]))
        segments += _cas_segments(line.adjustments, f"{field}.adjustments")
        references = [(_LINE_REFERENCE_RANK.get(reference.qualifier, 4), reference.qualifier, reference.value)
                      for reference in line.references]
        if line.line_control_number:
            references.append((1, "6R", line.line_control_number))
        references.sort(key=lambda reference: reference[0])  # stable: the model's order within a rank
        segments += [("REF", [qualifier, value]) for _, qualifier, value in references]
        if line.allowed_amount is not None:
            segments.append(("AMT", ["B6", _money(line.allowed_amount, f"{field}.allowed_amount")]))
        segments += [("AMT", [amount.qualifier, _money(amount.amount, f"{field}.amounts")]) for amount in line.amounts]
        segments += [("QTY", [quantity.qualifier, _quantity(quantity.quantity, f"{field}.quantities")])
                     for quantity in line.quantities]
        segments += [("LQ", [remark.qualifier, remark.code]) for remark in line.remark_codes]
        return segments

    # -- summary ----------------------------------------------------------------------------------

    def _provider_adjustments(self, adjustments: Sequence[ProviderAdjustment]) -> list[Segment]:
        segments: list[Segment] = []
        for start, run in _runs(adjustments, lambda a: (a.provider_identifier, a.fiscal_period_date),
                                _MAX_PAIRS_PER_PLB):
            first = run[0]
            elements: list[Element] = [first.provider_identifier, _date(first.fiscal_period_date)]
            for offset, adjustment in enumerate(run):
                field = f"{self.where}.provider_adjustments[{start + offset}]"
                _required(adjustment.reason_code, f"{field}.reason_code", "PLB03-1 (adjustment reason)")
                elements += [(adjustment.reason_code, adjustment.reference or ""), _money(adjustment.amount, field)]
            segments.append(("PLB", elements))
        return segments


def _cas_segments(adjustments: Sequence[Adjustment], field: str) -> list[Segment]:
    """CAS: each run of consecutive adjustments with one group code in one segment (six at most)."""
    segments: list[Segment] = []
    for start, run in _runs(adjustments, lambda adjustment: adjustment.group_code, _MAX_TRIPLETS_PER_CAS):
        elements: list[Element] = [run[0].group_code]
        for offset, adjustment in enumerate(run):
            where = f"{field}[{start + offset}]"
            _required(adjustment.reason_code, f"{where}.reason_code", "CAS reason code (CARC)")
            elements += [adjustment.reason_code, _money(adjustment.amount, f"{where}.amount"),
                         _quantity(adjustment.quantity, f"{where}.quantity")]
        segments.append(("CAS", elements))
    return segments


def _runs(items: Sequence[_T], key: Callable[[_T], object], limit: int) -> Iterator[tuple[int, list[_T]]]:
    """Consecutive items sharing `key`, at most `limit` per run, with each run's start index."""
    run: list[_T] = []
    start = 0
    for index, item in enumerate(items):
        if run and (key(item) != key(run[0]) or len(run) == limit):
            yield start, run
            run, start = [], index
        run.append(item)
    if run:
        yield start, run


def _in_rank_order(references: Iterable[Reference], ranks: Mapping[str, int]) -> list[Reference]:
    return sorted(references, key=lambda reference: ranks.get(reference.qualifier, len(ranks)))


def _nm1(name: EntityName, code: str, field: str) -> Segment:
    if name.entity_identifier_code != code:
        raise Remittance835WriteError(f"{field}.entity_identifier_code", f"this name is written as NM1*{code}")
    # NM106 (name prefix) is not used in the 835.
    return ("NM1", [code, name.entity_type_qualifier, name.last_name, name.first_name, name.middle_name, None,
                    name.suffix, name.identification_qualifier, name.identifier])


def _composite(procedure: ProcedureCode) -> tuple[str, ...]:
    """C003: qualifier, code, modifiers 1-4, description (C003-07)."""
    modifiers = (*procedure.modifiers, "", "", "", "")[:4]
    return (procedure.qualifier, procedure.code, *modifiers, procedure.description or "")


def _mia(inpatient: InpatientAdjudication, field: str) -> Segment:
    _required(inpatient.covered_days_or_visits, f"{field}.covered_days_or_visits", "MIA01")
    elements: list[Element] = [""] * 24
    for position, name in MIA_QUANTITIES.items():
        elements[position - 1] = _quantity(getattr(inpatient, name), f"{field}.{name}")
    for position, name in MIA_AMOUNTS.items():
        elements[position - 1] = _money(getattr(inpatient, name), f"{field}.{name}")
    _place_remarks(elements, inpatient.remark_codes, MIA_REMARKS, f"{field}.remark_codes")
    return ("MIA", elements)


def _moa(outpatient: OutpatientAdjudication, field: str) -> Segment:
    elements: list[Element] = [""] * 9
    elements[0] = _quantity(outpatient.reimbursement_rate, f"{field}.reimbursement_rate")
    for position, name in MOA_AMOUNTS.items():
        elements[position - 1] = _money(getattr(outpatient, name), f"{field}.{name}")
    _place_remarks(elements, outpatient.remark_codes, MOA_REMARKS, f"{field}.remark_codes")
    return ("MOA", elements)


def _place_remarks(elements: list[Element], remarks: Sequence[str], positions: Sequence[int], field: str) -> None:
    if len(remarks) > len(positions):
        raise Remittance835WriteError(field, f"at most {len(positions)} remark codes fit")
    for position, remark in zip(positions, remarks):
        elements[position - 1] = remark
