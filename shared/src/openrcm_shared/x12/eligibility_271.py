"""271 Health Care Eligibility Benefit Response (ASC X12 005010X279A1): streaming parser and
normalized model.

`parse_271(source)` yields one `EligibilityResponse` per inquiry answered: one per subscriber loop
(2000C) that carries its own answer (a TRN, an EB or an AAA, or no dependents under it) and one per
dependent loop (2000D); a transaction set answered only at the payer or receiver level (an AAA in
2100A/2100B: "provider ineligible for inquiries") still yields one response, with no member.

Read, by loop:
- 2000A/2100A information source (payer): NM1 name and id, AAA; 2000B/2100B information receiver
  (provider): NM1, REF, PRV, AAA;
- 2000C/2100C subscriber and 2000D/2100D dependent: TRN (trace numbers echoed from the 270), NM1,
  REF (plan number 18, group number 6P with the group name, ...), N3/N4, DMG, INS, HI, MPI,
  DTP (291 plan, 346/347 plan begin/end, 356/357 eligibility begin/end, and the other plan dates),
  AAA;
- 2110C/D eligibility or benefit information: every EB element (EB01 kind, EB02 coverage level,
  EB03 service types (repeating), EB04 insurance type, EB05 plan description, EB06 time period,
  EB07 amount, EB08 percent, EB09/EB10 quantity, EB11 authorization required, EB12 in plan network,
  EB13 procedure), HSD, REF, DTP, AAA, MSG, III;
- 2120C/D benefit related entities between LS and LE: NM1 (another payer primary, the primary care
  provider, ...), N3/N4, PER, PRV.

Normalized: each EB becomes one `Benefit` per service type it lists (a benefit without EB03
applies to the plan, service type "30"); EB08 is a fraction in the 271 (0.2) and a percentage here
(20); AAA codes carry their meaning, whether asking again later can help, and what a person should
do. Money is `Decimal` as sent. Unknown code values pass through as sent (a payer's newer code list
must not make its answer unreadable); an EB01 we cannot read, a bad amount, percent, quantity or
date, a missing required element, or a segment out of place raise an `X12Error` naming the segment
number and element (messages never carry element values: a 271 is protected health information).

The model is read-only once parsed: values that answers repeat are shared between them rather than
built again (a batch answer holds thousands of members of a few plans, and a process parses
answer after answer). A `Benefit` read from the same EB segment as an earlier one is that
benefit; one followed by the same MSG, DTP or REF segments as an earlier one is that benefit with
those details, or with the same 2120 NM1 (a PER in that loop makes it a copy that this answer
owns). An EB that differs from an
earlier one only in its amount (EB07: what is left of a member's deductible) is built from it with
its own amount, read and checked. Payers and receivers (`Party`), DTP dates (`DateRange`),
amounts, percents and dates are shared the same way. The caches are bounded (4,096 entries each,
then emptied); an EB equal to the one the previous answer had at the same place (under the same
repetition separator) is found by comparing the two rather than by looking it up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from openrcm_shared.x12 import eligibility_codes as codes
from openrcm_shared.x12.reader import (
    Delimiters, X12DataError, X12Error, X12Reader, X12Source, X12StructureError, element,
)

__all__ = [
    "Benefit", "DateRange", "EligibilityError", "EligibilityResponse", "Member", "Party", "Plan",
    "RelatedEntity", "ServiceSummary", "TraceNumber", "parse_271", "split_271",
]

_HUNDRED = Decimal(100)
_NO_ITEMS: tuple = ()
_DEFAULT_DELIMITERS = Delimiters()


class _NoEntries(Mapping):
    """The shared, read-only empty mapping of a benefit's dates and references until one arrives
    (hashable, as a dataclass default must be)."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0


_NO_ENTRIES = _NoEntries()
_COVERAGE_LEVELS, _TIME_PERIODS, _NETWORKS = codes.COVERAGE_LEVELS, codes.TIME_PERIODS, codes.NETWORKS
_QUANTITY_QUALIFIERS, _BENEFIT_KINDS = codes.QUANTITY_QUALIFIERS, codes.BENEFIT_KINDS
_AUTHORIZATION = {"Y": True, "N": False}  # EB11; U (unknown) and absent read as None
_DATES: dict[str, date] = {}
_DECIMALS: dict[str, Decimal] = {}
_PERCENTS: dict[str, Decimal] = {}
_CACHE_LIMIT = 4096
# Benefits by their EB segment (and the repetition separator that split EB03): members of one plan
# get the same EBs (the plan, the copays, the coinsurance), so an answer's benefits are shared with
# earlier answers that carried the same EB; with a MSG, DTP or REF after it, by the EB's key and
# that segment (`_benefit_detail`); a 2120 loop makes the benefit the answer's own (`_own_benefit`).
# Bounded like the value caches. Each entry holds the benefit and its `_status_rank`.
_SHARED_BENEFITS: dict[tuple, tuple[Benefit, int]] = {}
# The same benefits by their EB segment without EB07, for EBs that carry an amount: members of one
# plan get the same deductible and out-of-pocket EBs, each with what is left of its own.
_BENEFITS_BUT_AMOUNT: dict[tuple, tuple[Benefit, int]] = {}
# The shared EB read last at each place of a member's benefits (the 1st EB, the 2nd, ...), with its
# segment: answer after answer of one plan repeats its EBs in the same order, and comparing the
# segment with the previous answer's is cheaper than building and hashing its key.
_LAST_EBS: list[tuple[list[str], str | None, tuple, Benefit, int] | None] = []
_LAST_EBS_LIMIT = 64
_SHARED_PARTIES: dict[tuple, Party] = {}
_LAST_PARTIES: dict[str | None, tuple[list[str], Party]] = {}  # the NM1 read last in 2100A and 2100B  # payers and receivers (2100A/2100B NM1), never changed once read
_SHARED_RANGES: dict[tuple[str, str], DateRange] = {}  # DTP dates by format and text, never changed once read


# ---------------------------------------------------------------------------------------------- model


@dataclass(slots=True)
class DateRange:
    """A DTP: a single date (end None) or a range (RD8)."""

    start: date
    end: date | None = None

    @property
    def last_day(self) -> date:
        return self.end or self.start


@dataclass(slots=True)
class EligibilityError:
    """An AAA: the request (or part of it) could not be answered."""

    loop: str  # 2100A payer, 2100B receiver, 2100C/2100D member, 2110C/2110D benefit
    code: str  # AAA03 reject reason
    meaning: str
    request_valid: bool  # AAA01: Y the request was valid, N it was not
    follow_up_action: str | None  # AAA04 code
    follow_up_meaning: str | None
    retryable: bool  # asking again later can help (42, 80)
    human_action: str


@dataclass(slots=True)
class Party:
    """The payer (2100A) or the information receiver (2100B)."""

    entity_code: str
    name: str | None
    identifier_qualifier: str | None
    identifier: str | None


@dataclass(slots=True)
class RelatedEntity:
    """Loop 2120C/D: a party a benefit points to (another payer primary, the PCP, ...)."""

    entity_code: str
    role: str
    name: str | None
    first_name: str | None
    identifier_qualifier: str | None
    identifier: str | None
    contacts: list[str] = field(default_factory=list)  # PER communication numbers


@dataclass(slots=True)
class Benefit:
    """One EB, normalized (see the module docstring); it applies to each of its service types."""

    code: str  # EB01 as sent
    kind: str
    service_types: list[str]  # EB03 repeats; ["30"] (the plan) when the payer sent none
    coverage_level: str | None
    insurance_type: str | None
    plan_description: str | None
    time_period: str | None
    amount: Decimal | None
    percent: Decimal | None
    quantity: Decimal | None
    quantity_qualifier: str | None
    authorization_required: bool | None  # EB11: Y yes, N no, U/absent unknown
    network: str | None  # in, out, any, unknown; None when the payer did not say
    procedure: str | None  # EB13 as sent (composite joined with ":")
    # Filled by the segments of the EB's loop (MSG, DTP, REF, 2120). They start as the shared empty
    # values below and get their own list or dict when the first item arrives: most EBs have none,
    # and a batch answer holds thousands. Treat them as read-only.
    messages: list[str] = _NO_ITEMS  # type: ignore[assignment]
    dates: dict[str, DateRange] = _NO_ENTRIES  # type: ignore[assignment]
    references: dict[str, str] = _NO_ENTRIES  # type: ignore[assignment]
    related_entities: list[RelatedEntity] = _NO_ITEMS  # type: ignore[assignment]

    @property
    def service_type_names(self) -> list[str | None]:
        return [codes.SERVICE_TYPES.get(code) for code in self.service_types]


@dataclass(slots=True)
class Member:
    """The subscriber (2100C) or the dependent (2100D) as the payer has them."""

    entity_code: str  # IL subscriber, 03 dependent
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    member_id: str | None
    birth_date: date | None = None
    gender: str | None = None
    relationship: str | None = None  # INS02 (dependent: 01 spouse, 19 child, ...)
    references: dict[str, str] = field(default_factory=dict)
    reference_names: dict[str, str] = field(default_factory=dict)  # REF03 (6P: the group name)
    dates: dict[str, DateRange] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    name: str | None
    number: str | None
    group_number: str | None
    group_name: str | None
    insurance_type: str | None
    begin: date | None
    end: date | None
    dates: dict[str, DateRange]


@dataclass(slots=True)
class TraceNumber:
    """TRN: type 1 is ours (current), 2 is ours echoed back (referenced); number and its originator."""

    trace_type: str
    number: str
    originator: str | None


@dataclass(slots=True)
class ServiceSummary:
    """What a billing office reads first for one service type, per network ("in"/"out"/"any")."""

    service_type: str
    coverage_active: bool | None = None
    prior_authorization_required: bool | None = None
    copay: dict[str, Decimal] = field(default_factory=dict)
    coinsurance_percent: dict[str, Decimal] = field(default_factory=dict)
    deductible: dict[str, Decimal] = field(default_factory=dict)
    deductible_remaining: dict[str, Decimal] = field(default_factory=dict)
    out_of_pocket: dict[str, Decimal] = field(default_factory=dict)
    out_of_pocket_remaining: dict[str, Decimal] = field(default_factory=dict)
    family_deductible_remaining: dict[str, Decimal] = field(default_factory=dict)
    family_out_of_pocket_remaining: dict[str, Decimal] = field(default_factory=dict)
    non_covered: bool = False
    messages: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EligibilityResponse:
    transaction_set_control_number: str
    reference: str | None  # BHT03
    payer: Party | None
    receiver: Party | None
    subscriber: Member | None
    dependent: Member | None
    trace_numbers: list[TraceNumber]
    benefits: list[Benefit]
    errors: list[EligibilityError]
    status: str = "unknown"  # active, inactive, unknown, error
    plan: Plan | None = None

    @property
    def member(self) -> Member | None:
        """The patient the answer is about: the dependent when there is one."""
        return self.dependent or self.subscriber

    @property
    def member_id(self) -> str | None:
        """The payer's member id: the subscriber's (a dependent is asked for under it)."""
        for member in (self.subscriber, self.dependent):
            if member is not None and member.member_id:
                return member.member_id
        return None

    @property
    def other_payers(self) -> list[RelatedEntity]:
        """Payers named in 2120 loops of EB*R (other or additional payer): the primary among them."""
        return [entity for benefit in self.benefits if benefit.code == "R" for entity in benefit.related_entities
                if entity.entity_code in ("PRP", "SEP", "TTP", "PR")]

    def summary(self) -> dict[str, ServiceSummary]:
        """Benefits rolled up per service type; plan-level (30) values fill what a type leaves out."""
        summaries: dict[str, ServiceSummary] = {}
        for benefit in self.benefits:
            for service_type in benefit.service_types:
                summary = summaries.get(service_type)
                if summary is None:
                    summary = summaries[service_type] = ServiceSummary(service_type)
                _add_to_summary(summary, benefit)
        plan = summaries.get(codes.PLAN_SERVICE_TYPE)
        if plan is not None:
            for service_type, summary in summaries.items():
                if service_type != codes.PLAN_SERVICE_TYPE:
                    _inherit(summary, plan)
        return summaries


_SUMMARY_AMOUNTS = {"B": "copay", "G": "out_of_pocket", "C": "deductible"}


def _add_to_summary(summary: ServiceSummary, benefit: Benefit) -> None:
    network = benefit.network or "any"
    if benefit.kind == "active_coverage":
        summary.coverage_active = True
    elif benefit.kind == "inactive" and summary.coverage_active is None:
        summary.coverage_active = False
    elif benefit.kind == "non_covered":
        summary.non_covered = True
    if benefit.authorization_required is not None:
        summary.prior_authorization_required = bool(summary.prior_authorization_required) or \
            benefit.authorization_required
    summary.messages.extend(m for m in benefit.messages if m not in summary.messages)
    if benefit.code == "A" and benefit.percent is not None:
        summary.coinsurance_percent.setdefault(network, benefit.percent)
        return
    target = _SUMMARY_AMOUNTS.get(benefit.code)
    if target is None or benefit.amount is None:
        return
    remaining = benefit.time_period in ("remaining", "lifetime_remaining")
    family = benefit.coverage_level == "family"
    if target == "copay":
        summary.copay.setdefault(network, benefit.amount)
    elif family:
        if remaining:
            getattr(summary, f"family_{target}_remaining").setdefault(network, benefit.amount)
    else:
        getattr(summary, f"{target}_remaining" if remaining else target).setdefault(network, benefit.amount)


def _inherit(summary: ServiceSummary, plan: ServiceSummary) -> None:
    if summary.coverage_active is None:
        summary.coverage_active = plan.coverage_active
    for name in ("copay", "coinsurance_percent", "deductible", "deductible_remaining", "out_of_pocket",
                 "out_of_pocket_remaining", "family_deductible_remaining", "family_out_of_pocket_remaining"):
        mine = getattr(summary, name)
        for network, amount in getattr(plan, name).items():
            mine.setdefault(network, amount)


# --------------------------------------------------------------------------------------------- parsing


def parse_271(source: X12Source, **reader_options) -> Iterator[EligibilityResponse]:
    """Yield every answer of every 271 transaction set in `source`, in file order.

    A transaction set's answers are yielded only after its SE has been read and its envelope counts
    checked. Raises an `X12Error` subclass naming the segment (and element) at the first problem;
    answers yielded before it came from complete, counted transaction sets.
    """
    return _Parser271(X12Reader(source, **reader_options)).responses()


_MEMBER_LOOPS = {"22": "C", "23": "D"}
_GROUP_ENVELOPE = frozenset({"GS", "GE", "IEA"})
_BENEFIT_DETAIL = frozenset({"MSG", "DTP", "REF", "HSD", "III"})
_KEPT_BENEFIT_DETAIL = frozenset({"MSG", "DTP", "REF"})
_MEMBER_SEGMENTS = frozenset({"TRN", "REF", "DMG", "DTP", "INS"})
_KNOWN_SEGMENTS = frozenset({"TRN", "NM1", "N3", "N4", "PER", "PRV", "REF", "AAA", "DMG", "INS", "HI", "DTP", "MPI",
                             "EB", "HSD", "MSG", "III", "LS", "LE"})


@dataclass(slots=True)
class _MemberLoop:
    level: str  # "C" subscriber, "D" dependent
    member: Member | None = None
    traces: list[TraceNumber] = field(default_factory=list)
    benefits: list[Benefit] = field(default_factory=list)
    errors: list[EligibilityError] = field(default_factory=list)
    has_dependents: bool = False
    answered: bool = False  # yielded already
    status_rank: int = 0  # the highest `_status_rank` of its benefits


class _Parser271:
    """The loop state machine of X279 over the reader's runs of segments.

    One loop over plain lists with the most frequent segments (EB and what follows it) tested
    first: a batch answer holds thousands of members of ~25 segments each, and per-segment calls
    are most of the cost in Python. Segment numbers are kept by counting, for the errors."""

    __slots__ = ("reader", "delimiters", "repetition", "number", "dates", "decimals", "percents", "benefits")

    def __init__(self, reader: X12Reader) -> None:
        self.reader = reader
        self.delimiters = _DEFAULT_DELIMITERS
        self.repetition = _DEFAULT_DELIMITERS.repetition  # part of every EB's key
        self.number = 0  # of the segment being read, in its interchange
        # Values by their text, shared by every parser of the process (answers repeat the same few
        # amounts, percents and dates, and a real-time 271 is parsed on its own); each is bounded.
        self.dates, self.decimals, self.percents = _DATES, _DECIMALS, _PERCENTS
        self.benefits = _SHARED_BENEFITS

    # -- errors ---------------------------------------------------------------------------------------

    def _error(self, kind: type[X12Error], segment: list[str], position: int | None, reason: str) -> X12Error:
        return kind(reason, segment_number=self.number, segment_id=segment[0], element_position=position,
                    interchange_number=self.reader.interchange_number)

    def _required(self, segment: list[str], position: int, what: str) -> str:
        value = segment[position] if position < len(segment) else ""
        if not value:
            raise self._error(X12DataError, segment, position, f"{what} is required")
        return value

    # -- the loop -------------------------------------------------------------------------------------

    def responses(self) -> Iterator[EligibilityResponse]:
        state: _TransactionState | None = None
        for run, first in self.reader.runs(envelopes_in_runs=True):
            for self.number, segment in enumerate(run, first):
                segment_id = segment[0]
                if state is None:
                    if segment_id not in _GROUP_ENVELOPE:  # GS, GE, IEA: the reader checked them
                        state = self._outside_transaction(segment)
                elif segment_id == "EB":
                    self._eb(state, segment)
                elif state.in_benefit and segment_id in _BENEFIT_DETAIL and not state.in_related:
                    self._benefit_detail(state, segment)
                elif segment_id == "HL":
                    self._hierarchy(state, segment)
                # The member's own segments straight to their handlers (what `_detail` would do).
                elif segment_id == "NM1" and state.level is not None:
                    self._nm1(state, segment)
                elif segment_id in _MEMBER_SEGMENTS and state.current is not None and not state.in_benefit \
                        and not state.in_related:
                    self._member_detail(state.current, segment)
                elif segment_id == "SE":
                    state.close_member()
                    if not state.answers:
                        state.answers.append(state.response(None, None))
                    yield from state.answers
                    state = None
                elif segment_id == "BHT":
                    if state.level is not None or state.reference is not None:
                        raise self._error(X12StructureError, segment, None, "BHT after the first HL")
                    state.reference = segment[3] if len(segment) > 3 else ""
                elif segment_id in _KNOWN_SEGMENTS:
                    if state.level is None:
                        raise self._error(X12StructureError, segment, None, "segment before the first HL")
                    self._detail(state, segment)
                else:
                    raise self._error(X12StructureError, segment, None, "segment not used in a 271")

    def _outside_transaction(self, segment: list[str]) -> _TransactionState | None:
        segment_id = segment[0]
        if segment_id == "ST":
            if segment[1] != "271":
                raise self._error(X12StructureError, segment, 1, "transaction set is not a 271")
            return _TransactionState(segment[2], None)
        if segment_id == "ISA":
            self.delimiters = self.reader.delimiters or _DEFAULT_DELIMITERS
            self.repetition = self.delimiters.repetition
        else:
            raise self._error(X12StructureError, segment, None, "segment outside a transaction set")
        return None

    # -- loops ----------------------------------------------------------------------------------------

    def _hierarchy(self, state: _TransactionState, hl: list[str]) -> None:
        if len(hl) < 5:
            hl = _padded(hl, 4)
        level = hl[3] or self._required(hl, 3, "HL03 hierarchical level code")
        if level == "23" and state.subscriber is not None:
            state.subscriber.has_dependents = True
        if state.current is not None:
            state.close_member()
        if level == "20":
            state.level, state.source_errors, state.payer = "A", _NO_ITEMS, None
        elif level == "21":
            state.level, state.receiver_errors, state.receiver = "B", _NO_ITEMS, None
        elif level in _MEMBER_LOOPS:
            loop_level = _MEMBER_LOOPS[level]
            if loop_level == "D":
                if state.subscriber is None:
                    raise self._error(X12StructureError, hl, 3, "dependent level without a subscriber level")
                state.answer_subscriber_if_asked()
            state.level = loop_level
            # HL04 1: dependents follow, so the subscriber loop may hold no answer of its own.
            state.current = _MemberLoop(loop_level, has_dependents=hl[4] == "1")
            if loop_level == "C":
                state.subscriber = state.current
            state.in_benefit = state.in_related = False
        else:
            raise self._error(X12DataError, hl, 3, "hierarchical level code not used in a 271")

    def _detail(self, state: _TransactionState, segment: list[str]) -> None:
        segment_id = segment[0]
        loop = state.current
        if segment_id == "AAA":
            self._aaa(state, segment)
        elif segment_id == "NM1":
            self._nm1(state, segment)
        elif loop is None:
            if segment_id not in ("REF", "PRV", "PER", "N3", "N4"):
                raise self._error(X12StructureError, segment, None, "segment not used in loop 2000A/2000B")
        elif segment_id == "LS":
            if not state.in_benefit:
                raise self._error(X12StructureError, segment, None, "LS (loop 2120) outside a benefit loop 2110")
            state.in_related, state.related = True, None  # a PER is for this loop's NM1
        elif segment_id == "LE":
            if not state.in_related:
                raise self._error(X12StructureError, segment, None, "LE without LS")
            state.in_related = False
        elif state.in_related:
            if segment_id == "PER" and state.related is not None:
                _own_related_entity(state).contacts.extend(v for v in segment[4::2] if v)
            elif segment_id not in ("N3", "N4", "PRV", "PER"):
                raise self._error(X12StructureError, segment, None, "segment not used in loop 2120")
        elif state.in_benefit:
            self._benefit_detail(state, segment)
        else:
            self._member_detail(loop, segment)

    def _member_detail(self, loop: _MemberLoop, segment: list[str]) -> None:
        segment_id = segment[0]
        if len(segment) < 4:
            segment = _padded(segment, 3)
        if segment_id == "TRN":
            if not segment[1] or not segment[2]:
                self._required(segment, 1, "TRN01 trace type")
                self._required(segment, 2, "TRN02 trace number")
            loop.traces.append(TraceNumber(segment[1], segment[2], segment[3] or None))
            return
        member = loop.member
        if member is None:
            raise self._error(X12StructureError, segment, None, f"segment before NM1 in loop 2100{loop.level}")
        if segment_id == "REF":
            qualifier = segment[1] or self._required(segment, 1, "REF01 reference qualifier")
            member.references[qualifier] = segment[2]
            if segment[3]:
                member.reference_names[qualifier] = segment[3]
        elif segment_id == "DMG":
            if segment[2]:
                if segment[1] != "D8":
                    raise self._error(X12DataError, segment, 1, "date of birth format must be D8")
                member.birth_date = self._date(segment, 2, segment[2])
            member.gender = segment[3] or None
        elif segment_id == "INS":
            member.relationship = segment[2] or None
        elif segment_id == "DTP":
            qualifier, dates = self._dtp(segment)
            member.dates[codes.PLAN_DATE_QUALIFIERS.get(qualifier, qualifier)] = dates
        elif segment_id not in ("N3", "N4", "PRV", "HI", "MPI"):
            raise self._error(X12StructureError, segment, None, f"segment not used in loop 2100{loop.level}")

    def _benefit_detail(self, state: _TransactionState, segment: list[str]) -> None:
        segment_id = segment[0]
        if segment_id not in _KEPT_BENEFIT_DETAIL:
            if segment_id not in ("HSD", "III"):
                raise self._error(X12StructureError, segment, None, "segment not used in loop 2110")
            return
        if segment_id == "MSG" and not element(segment, 1):
            return  # an empty message says nothing
        if not state.benefit_shared:
            self._add_detail(state.benefit, segment)
            return
        # Answers that repeat an EB mostly repeat what follows it: the benefit with this detail is
        # shared too, by the EB's key and the detail segment.
        key = (state.benefit_key, *segment)
        shared = self.benefits.get(key)
        if shared is None:
            benefit = _copy(state.benefit)
            self._add_detail(benefit, segment)
            if len(self.benefits) >= _CACHE_LIMIT:
                self.benefits.clear()
            shared = self.benefits[key] = (benefit, _status_rank(benefit))
        state.benefit = state.current.benefits[-1] = shared[0]  # details follow their EB directly
        state.benefit_key = key

    def _add_detail(self, benefit: Benefit, segment: list[str]) -> None:
        """MSG, DTP or REF added to a benefit no other answer holds (yet)."""
        segment_id = segment[0]
        if segment_id == "MSG":
            benefit.messages = [*benefit.messages, segment[1]]
        elif segment_id == "DTP":
            qualifier, dates = self._dtp(segment)
            benefit.dates = {**benefit.dates, codes.BENEFIT_DATE_QUALIFIERS.get(qualifier, qualifier): dates}
        else:
            qualifier = self._required(segment, 1, "REF01 reference qualifier")
            benefit.references = {**benefit.references, qualifier: element(segment, 2)}

    # -- segments -------------------------------------------------------------------------------------

    def _nm1(self, state: _TransactionState, segment: list[str]) -> None:
        if len(segment) < 10:
            segment = _padded(segment, 9)
        entity = segment[1]
        if not entity:
            raise self._error(X12DataError, segment, 1, "NM101 entity identifier code is required")
        if state.in_related:
            if state.benefit_shared:
                self._shared_related_entity(state, segment)
                return
            state.related = _related_entity(segment)
            benefit = state.benefit
            benefit.related_entities = [*benefit.related_entities, state.related]
            return
        if state.current is None:
            # An answer's payer and receiver are those of the answer before it, mostly.
            last = _LAST_PARTIES.get(state.level)
            if last is not None and last[0] == segment:
                party = last[1]
            else:
                key = tuple(segment)
                party = _SHARED_PARTIES.get(key)
                if party is None:
                    party = Party(entity, segment[3] or None, segment[8] or None, segment[9] or None)
                    if len(_SHARED_PARTIES) >= _CACHE_LIMIT:
                        _SHARED_PARTIES.clear()
                    _SHARED_PARTIES[key] = party
                _LAST_PARTIES[state.level] = (segment, party)
            if state.level == "A":
                state.payer = party
            else:
                state.receiver = party
            return
        if state.in_benefit:
            raise self._error(X12StructureError, segment, None, "NM1 in loop 2110 outside LS/LE")
        state.current.member = Member(entity, segment[3] or None, segment[4] or None, segment[5] or None,
                                      segment[9] or None)

    def _shared_related_entity(self, state: _TransactionState, nm1: list[str]) -> None:
        """A 2120 NM1 after a shared benefit: answers of one plan name the same party there (another
        payer primary), so the benefit with it is shared too, by the EB's key and the NM1 (a PER
        after it makes both the answer's own: `_own_related_entity`)."""
        key = (state.benefit_key, *nm1)
        shared = self.benefits.get(key)
        if shared is None:
            benefit = _copy(state.benefit)
            benefit.related_entities = [*benefit.related_entities, _related_entity(nm1)]
            if len(self.benefits) >= _CACHE_LIMIT:
                self.benefits.clear()
            shared = self.benefits[key] = (benefit, _status_rank(benefit))
        state.benefit = state.current.benefits[-1] = shared[0]  # the 2120 loop follows its EB directly
        state.benefit_key = key
        state.related = shared[0].related_entities[-1]

    def _aaa(self, state: _TransactionState, segment: list[str]) -> None:
        valid = self._required(segment, 1, "AAA01 valid request indicator")
        code = self._required(segment, 3, "AAA03 reject reason code")
        follow_up = element(segment, 4) or None
        meaning, retryable, action = codes.REJECT_REASONS.get(
            code, (f"reject reason {code}", False, "contact the payer: the reason is not in the 5010 code list"))
        if state.current is None:
            loop = "2100" + (state.level or "A")
        else:
            loop = ("2110" if state.in_benefit else "2100") + state.current.level
        error = EligibilityError(loop, code, meaning, valid == "Y", follow_up,
                                 codes.FOLLOW_UP_ACTIONS.get(follow_up) if follow_up else None, retryable, action)
        if state.current is not None:
            state.current.errors.append(error)
        elif state.level == "A":
            state.source_errors = [*state.source_errors, error]
        else:
            state.receiver_errors = [*state.receiver_errors, error]

    def _eb(self, state: _TransactionState, segment: list[str]) -> None:
        loop = state.current
        if loop is None:
            raise self._error(X12StructureError, segment, None, "EB outside a subscriber or dependent loop")
        if loop.member is None:
            raise self._error(X12StructureError, segment, None, f"EB before NM1 in loop 2000{loop.level}")
        position = len(loop.benefits)
        last = _LAST_EBS[position] if position < len(_LAST_EBS) else None
        if last is not None and last[0] == segment and last[1] == self.repetition:
            # The EB the previous answer had at this place: compared, not hashed.
            _, _, key, benefit, rank = last
            state.benefit_shared = True
        else:
            key = (self.repetition, *segment)
            shared = self.benefits.get(key)
            if shared is not None:  # read before: valid, and the same benefit
                benefit, rank = shared
                state.benefit_shared = True
            else:
                benefit, rank, state.benefit_shared = self._read_benefit(key, segment)
            if state.benefit_shared and position < _LAST_EBS_LIMIT:
                if position >= len(_LAST_EBS):
                    _LAST_EBS.extend([None] * (position + 1 - len(_LAST_EBS)))
                _LAST_EBS[position] = (segment, self.repetition, key, benefit, rank)
        state.benefit_key = key
        state.in_benefit, state.in_related = True, False
        state.benefit = benefit
        loop.benefits.append(benefit)
        if rank > loop.status_rank:
            loop.status_rank = rank

    def _read_benefit(self, key: tuple, segment: list[str]) -> tuple[Benefit, int, bool]:
        """An EB not read before: (its benefit, its `_status_rank`, whether the benefit is shared).

        An EB that differs from one read before only in its amount (what is left of a member's
        deductible) is that benefit with the amount read: an answer's own, not shared."""
        amount = segment[7] if len(segment) > 7 else ""
        if amount:
            like_key = key[:8] + key[9:]  # the key without EB07 (key[0] is the repetition separator)
            like = _BENEFITS_BUT_AMOUNT.get(like_key)
            if like is not None:
                model, rank = like
                return Benefit(model.code, model.kind, model.service_types, model.coverage_level,
                               model.insurance_type, model.plan_description, model.time_period,
                               self._decimal(segment, 7, "amount"), model.percent, model.quantity,
                               model.quantity_qualifier, model.authorization_required, model.network,
                               model.procedure), rank, False
        benefit, rank = self._new_benefit(segment)
        if len(self.benefits) >= _CACHE_LIMIT:
            self.benefits.clear()
        self.benefits[key] = (benefit, rank)
        if amount:
            if len(_BENEFITS_BUT_AMOUNT) >= _CACHE_LIMIT:
                _BENEFITS_BUT_AMOUNT.clear()
            _BENEFITS_BUT_AMOUNT[like_key] = (benefit, rank)
        return benefit, rank, True

    def _new_benefit(self, segment: list[str]) -> tuple[Benefit, int]:
        code = segment[1] if len(segment) > 1 else ""
        kind = _BENEFIT_KINDS.get(code)
        if kind is None:
            if not code:
                raise self._error(X12DataError, segment, 1, "EB01 eligibility or benefit information code is required")
            raise self._error(X12DataError, segment, 1, "eligibility or benefit information code not in X279")
        if len(segment) < 14:
            segment = segment + [""] * (14 - len(segment))
        (_, _, level, service_types, insurance_type, plan_description, period, amount, percent, quantity_qualifier,
         quantity, authorization, network, procedure) = segment[:14]
        benefit = Benefit(
            code, kind, self.delimiters.repetitions(service_types) if service_types else [codes.PLAN_SERVICE_TYPE],
            _COVERAGE_LEVELS.get(level, level) if level else None, insurance_type or None, plan_description or None,
            _TIME_PERIODS.get(period, period) if period else None,
            self._decimal(segment, 7, "amount") if amount else None, self._percent(segment) if percent else None,
            self._decimal(segment, 10, "quantity") if quantity else None,
            _QUANTITY_QUALIFIERS.get(quantity_qualifier, quantity_qualifier) if quantity_qualifier else None,
            _AUTHORIZATION.get(authorization), _NETWORKS.get(network, network) if network else None,
            procedure or None)
        return benefit, _status_rank(benefit)

    # -- values ---------------------------------------------------------------------------------------

    def _decimal(self, segment: list[str], position: int, what: str) -> Decimal:
        text = segment[position]
        cached = self.decimals.get(text)
        if cached is not None:
            return cached
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self._error(X12DataError, segment, position, f"{what} is not a number") from None
        if not value.is_finite():
            raise self._error(X12DataError, segment, position, f"{what} is not a number")
        if len(self.decimals) < _CACHE_LIMIT:
            self.decimals[text] = value
        return value

    def _percent(self, segment: list[str]) -> Decimal:
        cached = self.percents.get(segment[8])
        if cached is not None:
            return cached
        fraction = self._decimal(segment, 8, "percent")
        if not 0 <= fraction <= 1:
            raise self._error(X12DataError, segment, 8, "percent must be a fraction between 0 and 1")
        percent = fraction * _HUNDRED
        percent = percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent.normalize()
        if len(self.percents) < _CACHE_LIMIT:
            self.percents[segment[8]] = percent
        return percent

    def _date(self, segment: list[str], position: int, text: str) -> date:
        cached = self.dates.get(text)
        if cached is not None:
            return cached
        if len(text) != 8 or not text.isdigit():
            raise self._error(X12DataError, segment, position, "date must be CCYYMMDD")
        try:
            value = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise self._error(X12DataError, segment, position, "not a calendar date") from None
        if len(self.dates) < _CACHE_LIMIT:
            self.dates[text] = value
        return value

    def _dtp(self, segment: list[str]) -> tuple[str, DateRange]:
        if len(segment) > 3 and segment[1] and segment[2] and segment[3]:
            _, qualifier, date_format, text = segment[:4]
        else:
            qualifier = self._required(segment, 1, "DTP01 date qualifier")
            date_format = self._required(segment, 2, "DTP02 date format")
            text = self._required(segment, 3, "DTP03 date")
        shared = _SHARED_RANGES.get((date_format, text))
        if shared is not None:
            return qualifier, shared
        if date_format == "D8":
            dates = DateRange(self._date(segment, 3, text))
        elif date_format == "RD8":
            start, _, end = text.partition("-")
            first, last = self._date(segment, 3, start), self._date(segment, 3, end)
            if last < first:
                raise self._error(X12DataError, segment, 3, "date range ends before it starts")
            dates = DateRange(first, last)
        else:
            raise self._error(X12DataError, segment, 2, "date format must be D8 or RD8")
        if len(_SHARED_RANGES) >= _CACHE_LIMIT:
            _SHARED_RANGES.clear()
        _SHARED_RANGES[date_format, text] = dates
        return qualifier, dates


@dataclass(slots=True)
class _TransactionState:
    control_number: str
    reference: str | None
    level: str | None = None
    payer: Party | None = None
    receiver: Party | None = None
    # The AAAs of the payer's and the receiver's loops (2100A/B): a list of their own once one is read.
    source_errors: list[EligibilityError] = _NO_ITEMS  # type: ignore[assignment]
    receiver_errors: list[EligibilityError] = _NO_ITEMS  # type: ignore[assignment]
    subscriber: _MemberLoop | None = None
    current: _MemberLoop | None = None
    in_benefit: bool = False
    in_related: bool = False
    benefit: Benefit | None = None  # of the open loop 2110
    benefit_shared: bool = False  # `benefit` is shared with other answers (see _SHARED_BENEFITS)
    benefit_key: tuple | None = None  # its key there, when it is shared
    related: RelatedEntity | None = None
    answers: list[EligibilityResponse] = field(default_factory=list)

    def answer_subscriber_if_asked(self) -> None:
        """A subscriber with dependents is an answer of its own only when it carries one."""
        loop = self.subscriber
        if loop is not None and not loop.answered and (loop.traces or loop.benefits or loop.errors):
            loop.answered = True
            self.answers.append(self.response(loop, None))

    def close_member(self) -> None:
        loop = self.current
        if loop is None:
            return
        if loop.level == "D":
            self.answers.append(self.response(self.subscriber, loop))
        elif not loop.answered and (not loop.has_dependents or loop.traces or loop.benefits or loop.errors):
            loop.answered = True
            self.answers.append(self.response(loop, None))
        self.current = None
        self.in_benefit = self.in_related = False
        self.benefit = None

    def response(self, subscriber: _MemberLoop | None, dependent: _MemberLoop | None) -> EligibilityResponse:
        answering = dependent or subscriber
        if answering is not None and not self.source_errors and not self.receiver_errors:
            errors = answering.errors  # the member loop's own list: no other answer holds it
        else:
            errors = [*self.source_errors, *self.receiver_errors, *(answering.errors if answering else ())]
        if answering is None:
            return EligibilityResponse(self.control_number, self.reference, self.payer, self.receiver, None, None,
                                       [], [], errors, "error" if errors else "unknown")
        benefits = answering.benefits
        subscriber_member = subscriber.member if subscriber else None
        dependent_member = dependent.member if dependent else None
        return EligibilityResponse(
            self.control_number, self.reference, self.payer, self.receiver, subscriber_member, dependent_member,
            answering.traces, benefits, errors,
            _STATUS_BY_RANK[answering.status_rank] or ("error" if errors else "unknown"),
            _plan(subscriber_member, dependent_member, benefits))


def _padded(segment: list[str], last: int) -> list[str]:
    """The segment with the trailing elements its sender left out (X12.6 allows it) as "", up to
    element `last`: read once, instead of a bounds check per element."""
    return segment + [""] * (last + 1 - len(segment)) if len(segment) <= last else segment


def _own_benefit(state: _TransactionState) -> Benefit:
    """The open loop 2110's benefit, made the answer's own before a detail is added to it."""
    benefit = state.benefit
    if state.benefit_shared:
        benefit = _copy(benefit)
        state.current.benefits[-1] = state.benefit = benefit  # details follow their EB directly
        state.benefit_shared = False
    return benefit


def _related_entity(nm1: list[str]) -> RelatedEntity:
    """A 2120 NM1 (padded to NM109, NM101 checked)."""
    entity = nm1[1]
    return RelatedEntity(entity, codes.RELATED_ENTITY_ROLES.get(entity, entity), nm1[3] or None, nm1[4] or None,
                         nm1[8] or None, nm1[9] or None)


def _own_related_entity(state: _TransactionState) -> RelatedEntity:
    """The open 2120 loop's entity, made the answer's own (with its benefit) before a PER adds to it."""
    related = state.related
    if state.benefit_shared:
        benefit = _own_benefit(state)
        entities = list(benefit.related_entities)
        for index, entity in enumerate(entities):
            if entity is related:
                related = entities[index] = RelatedEntity(
                    related.entity_code, related.role, related.name, related.first_name,
                    related.identifier_qualifier, related.identifier, list(related.contacts))
        benefit.related_entities = entities
        state.related = related
    return related


def _copy(benefit: Benefit) -> Benefit:
    """A new benefit equal to `benefit`, sharing its (read-only) lists and mappings."""
    return Benefit(benefit.code, benefit.kind, benefit.service_types, benefit.coverage_level, benefit.insurance_type,
                   benefit.plan_description, benefit.time_period, benefit.amount, benefit.percent, benefit.quantity,
                   benefit.quantity_qualifier, benefit.authorization_required, benefit.network, benefit.procedure,
                   benefit.messages, benefit.dates, benefit.references, benefit.related_entities)


# An answer's status: a plan-level EB (service type 30) decides; otherwise any active or inactive
# EB; else the AAAs ("error") or nothing ("unknown"). Each EB's rank says what it would decide, so
# the answer's status is that of its highest rank, kept as the EBs are read.
_STATUS_BY_RANK = (None, "inactive", "active", "inactive", "active")


def _status_rank(benefit: Benefit) -> int:
    """4 active at plan level, 3 inactive at plan level, 2 active, 1 inactive, 0 neither."""
    plan = codes.PLAN_SERVICE_TYPE in benefit.service_types
    if benefit.code in codes.ACTIVE_CODES:
        return 4 if plan else 2
    if benefit.code in codes.INACTIVE_CODES:
        return 3 if plan else 1
    return 0


_COVERAGE_KINDS = frozenset({"active_coverage", "inactive"})


def _plan(subscriber: Member | None, dependent: Member | None, benefits: list[Benefit]) -> Plan | None:
    # The dependent's loop may leave the plan dates and group to the subscriber's.
    if subscriber is None or dependent is None:
        member = dependent or subscriber
        if member is None:
            return None
        # The model is read-only: the plan's dates are the member's own.
        dates, references, names = member.dates, member.references, member.reference_names
    else:
        dates, references, names = {**subscriber.dates, **dependent.dates}, \
            {**subscriber.references, **dependent.references}, \
            {**subscriber.reference_names, **dependent.reference_names}
    coverage = name = None
    for benefit in benefits:
        if benefit.kind in _COVERAGE_KINDS:
            coverage = benefit
            break
    for benefit in benefits:
        if benefit.plan_description:
            name = benefit.plan_description
            break
    name = name or names.get("18")
    begin = _first(dates, ("plan_begin", "eligibility_begin", "plan", "eligibility"), start=True)
    end = _first(dates, ("plan_end", "eligibility_end"), start=True) or \
        _first(dates, ("plan", "eligibility"), start=False)
    return Plan(name, references.get("18") or None, references.get("6P") or None, names.get("6P"),
                coverage.insurance_type if coverage else None, begin, end, dates)


def _first(dates: dict[str, DateRange], names: tuple[str, ...], *, start: bool) -> date | None:
    for name in names:
        found = dates.get(name)
        if found is not None:
            if start:
                return found.start
            if found.end is not None:
                return found.end
    return None


# ------------------------------------------------------------------------------------------ splitting


def split_271(source: X12Source, **reader_options) -> list[str]:
    """Each member's answer in the 271s of `source` as a 271 interchange of its own, in file order.

    For a batch 271 answering many inquiries: each part holds the envelope (ISA, GS, ST with their
    control numbers, BHT), the payer (2000A) and receiver (2000B) loops above the member, and the
    subscriber loop (2000C) with its dependent loops (2000D), segments copied as sent, SE, GE and IEA
    counted for the part. `parse_271` reads a part as it reads the whole. A payer or receiver loop
    answered without any member (an AAA at 2100A/2100B) is a part of its own. The whole input is
    read first, envelopes checked, so an `X12Error` is raised before any part is returned.
    """
    reader = X12Reader(source, **reader_options)
    parts: list[str] = []
    header: list[list[str]] = []  # ISA, GS, ST, BHT of the open transaction set
    payer: list[list[str]] = []
    receiver: list[list[str]] = []
    member: list[list[str]] = []
    current = header
    answered = True  # whether the open payer loop has had a part

    def close_member() -> None:
        nonlocal answered
        if member or not answered:
            parts.append(_part(reader.delimiters, header, payer + receiver + member))
            answered = True

    for segment in reader:
        segment_id = segment[0]
        if segment_id == "HL":
            level = element(segment, 3)
            if level in ("20", "21", "22"):
                if member or (level == "20" and payer):
                    close_member()
                member = []
            if level == "20":
                payer = current = [segment]
                receiver, answered = [], False
            elif level == "21":
                receiver = current = [segment]
            elif level == "22":
                member = current = [segment]
            else:
                current.append(segment)
        elif segment_id == "ISA":
            header = [segment]
        elif segment_id in ("GS", "ST", "BHT"):
            header = header[:{"GS": 1, "ST": 2, "BHT": 3}[segment_id]] + [segment]
            current = header
        elif segment_id == "SE":
            close_member()
            payer, receiver, member, answered = [], [], [], True
        elif segment_id not in ("GE", "IEA"):
            current.append(segment)
    return parts


def _part(delimiters: Delimiters | None, header: list[list[str]], body: list[list[str]]) -> str:
    d = delimiters or Delimiters()
    isa, gs, st = header[0], header[1], header[2]
    segments = [*header, *body,
                ["SE", str(len(header) - 2 + len(body) + 1), st[2]], ["GE", "1", gs[6]], ["IEA", "1", isa[13]]]
    return "".join(d.element.join(segment) + d.segment for segment in segments)
