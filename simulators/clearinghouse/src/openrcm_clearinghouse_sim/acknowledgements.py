"""Composing the answers to one received file: a 999 per interchange, then one 277CA for the file.

- 999 (005010X231A1): one per received interchange, addressed back to its sender, one 999
  transaction set per claim functional group (GS01=HC; other groups are not ours to acknowledge),
  one AK2 loop per 837 transaction set with pyx12's findings.
- 277CA (005010X214): one interchange for the file, one 277 per 837 transaction set the 999
  accepted, every claim of it reported: A2:20 (WQ) with a payer claim control number (REF*1K), or
  the status of the first rejection rule that catches it (action U). Every claim carries the
  clearinghouse trace number (REF*D9). A file whose transaction sets were all rejected gets no 277CA.
  The claims accepted for adjudication (A2) are kept, with their payer claim control numbers and
  the interchange they came in, for the simulated payer to adjudicate (adjudication.py).
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from openrcm_shared.x12.ack_999 import (
    AcknowledgmentCode,
    FunctionalGroupAcknowledgment,
    TransactionSetAcknowledgment,
    build_999,
)
from openrcm_shared.x12.claim_ack_277ca import (
    ACCEPTED_BY_CLEARINGHOUSE,
    ACCEPTED_FOR_ADJUDICATION,
    ActionCode,
    BillingProviderAcknowledgment,
    ClaimAcknowledgment,
    ClaimAcknowledgmentReport,
    StatusInformation,
    build_277ca,
)
from openrcm_shared.x12.acknowledgment_envelope import InterchangeEnvelope
from openrcm_shared.x12.reader import Delimiters
from openrcm_clearinghouse_sim.adjudication import AcceptedClaim
from openrcm_clearinghouse_sim.intake import (
    BillingProviderParty,
    ReceivedClaim,
    ReceivedGroup,
    ReceivedInterchange,
    ReceivedTransactionSet,
)
from openrcm_clearinghouse_sim.rules import RejectionRule, rejection_for
from openrcm_clearinghouse_sim.validation import GroupFindings, TransactionSetFindings

VERSION_NOT_SUPPORTED = "2"  # AK905: functional group version not supported
IMPLEMENTATION_NOT_SUPPORTED = "I6"  # IK502: implementation convention not supported
IMPLEMENTATION_ONE_OR_MORE_SEGMENTS_IN_ERROR = "I5"  # IK502
CLAIM_FUNCTIONAL_ID = "HC"


class ControlNumbers:
    """ISA13/GS06 for what the simulator sends: increasing, seeded from the clock so a restart does
    not reuse recent numbers (X12 wants them unique per sender for a long time)."""

    def __init__(self, start: int | None = None) -> None:
        first = start if start is not None else int(time.time()) % 900_000_000 + 1
        self._numbers = itertools.count(first)

    def next(self) -> int:
        return next(self._numbers) % 999_999_999 or 1


@dataclass(frozen=True)
class ClaimOutcome:
    patient_control_number: str
    transaction_set_control_number: str
    status: str  # accepted | rejected | not_acknowledged (its transaction set was rejected by the 999)
    claim_status: str | None = None  # STC01 as category:status[:entity]
    payer_claim_control_number: str | None = None
    clearinghouse_trace_number: str | None = None


@dataclass
class InterchangeCheck:
    """pyx12's findings for one received interchange, one entry per functional group in file order
    (None: pyx12 did not validate that group, having no map for it or failing on it)."""

    groups: list[GroupFindings | None]
    interchange_errors: list[str] = field(default_factory=list)  # ISA/IEA (TA1-level) findings


@dataclass
class FileAcknowledgements:
    acknowledgements_999: list[str] = field(default_factory=list)  # one per received interchange
    claim_acknowledgement_277ca: str | None = None
    claims: list[ClaimOutcome] = field(default_factory=list)
    accepted_claims: list[AcceptedClaim] = field(default_factory=list)  # A2 in the 277CA: the payer's to decide


def random_payer_claim_control_number() -> str:
    """REF*1K: the payer's claim number, as payers print it (julian date + a sequence-like number)."""
    return f"{time.strftime('%y%j')}{secrets.randbelow(10**10):010d}"


@dataclass(frozen=True)
class ClearinghouseIdentity:
    name: str  # 2100A NM103 of the 277CA
    control_numbers: ControlNumbers
    new_payer_claim_control_number: Callable[[], str] = random_payer_claim_control_number


def acknowledge_file(*, trace_number: str, interchanges: list[ReceivedInterchange], checks: list[InterchangeCheck],
                     rules: list[RejectionRule], identity: ClearinghouseIdentity, received_at: datetime,
                     now: datetime) -> FileAcknowledgements:
    """The 999s and the 277CA for a file whose interchanges pyx12 has checked (`checks[i]` for
    `interchanges[i]`); a claim group pyx12 did not validate is rejected as not supported."""
    result = FileAcknowledgements()
    accepted_sets: list[tuple[ReceivedInterchange, ReceivedTransactionSet]] = []
    for interchange, check in zip(interchanges, checks, strict=True):
        groups = _acknowledge_interchange(interchange, check, accepted_sets, result)
        if groups:  # an interchange holding no claim group (e.g. someone's 999) is owed nothing
            result.acknowledgements_999.append(build_999(reply_envelope(interchange, identity, now), groups))
    if accepted_sets:
        reports = [_report(ts, interchange, trace_number, f"{trace_number}{index:02d}", rules, identity,
                           received_at, now, result)
                   for index, (interchange, ts) in enumerate(accepted_sets, start=1)]
        result.claim_acknowledgement_277ca = build_277ca(reply_envelope(interchanges[0], identity, now), reports)
    return result


def _acknowledge_interchange(interchange: ReceivedInterchange, check: InterchangeCheck,
                             accepted_sets: list[tuple[ReceivedInterchange, ReceivedTransactionSet]],
                             result: FileAcknowledgements) -> list[FunctionalGroupAcknowledgment]:
    """The 999 groups of one interchange; collects the accepted transaction sets for the 277CA and
    records the claims of rejected ones as not acknowledged."""
    groups = []
    for group, findings in zip(interchange.groups, check.groups, strict=True):
        if group.functional_id != CLAIM_FUNCTIONAL_ID:
            continue
        group_ack = _group_acknowledgment(group, findings)
        groups.append(group_ack)
        for transaction_set, answer in zip(group.transaction_sets, group_ack.transaction_sets, strict=True):
            if answer.status.accepted:
                accepted_sets.append((interchange, transaction_set))
            else:
                result.claims += [ClaimOutcome(claim.patient_control_number, transaction_set.control_number,
                                               "not_acknowledged") for claim in transaction_set.claims]
    return groups


# ----------------------------------------------------------------------------------------- 999


def _group_acknowledgment(group: ReceivedGroup, group_findings: GroupFindings | None) -> FunctionalGroupAcknowledgment:
    if group_findings is None:
        return _unsupported_group(group)
    found = _findings_by_position(group, group_findings)
    transaction_sets = [_transaction_set_acknowledgment(ts, ts_findings)
                        for ts, ts_findings in zip(group.transaction_sets, found, strict=True)]
    return FunctionalGroupAcknowledgment.summarize(
        functional_id=group.functional_id, group_control_number=group.control_number, version=group.version,
        transaction_sets=transaction_sets, transaction_sets_included=group.declared_transaction_sets,
        error_codes=group_findings.error_codes)


def _findings_by_position(group: ReceivedGroup, group_findings: GroupFindings) -> list[TransactionSetFindings | None]:
    # pyx12 lists transaction sets in file order, as the intake does; a control number that does not
    # line up means the two read the group differently, and that transaction set is not vouched for.
    found: list[TransactionSetFindings | None] = list(group_findings.transaction_sets)
    found += [None] * (len(group.transaction_sets) - len(found))
    return [f if f is not None and f.control_number == ts.control_number else None
            for ts, f in zip(group.transaction_sets, found)]


def _transaction_set_acknowledgment(transaction_set: ReceivedTransactionSet,
                                    found: TransactionSetFindings | None) -> TransactionSetAcknowledgment:
    if found is None:
        return TransactionSetAcknowledgment(
            transaction_set.transaction_set_id, transaction_set.control_number, AcknowledgmentCode.REJECTED,
            transaction_set.implementation_reference, error_codes=(IMPLEMENTATION_ONE_OR_MORE_SEGMENTS_IN_ERROR,))
    if found.accepted:
        return TransactionSetAcknowledgment(transaction_set.transaction_set_id, transaction_set.control_number,
                                            AcknowledgmentCode.ACCEPTED, transaction_set.implementation_reference)
    return TransactionSetAcknowledgment(
        transaction_set.transaction_set_id, transaction_set.control_number, AcknowledgmentCode.REJECTED,
        transaction_set.implementation_reference, error_codes=found.error_codes,
        segment_errors=found.segment_errors)


def _unsupported_group(group: ReceivedGroup) -> FunctionalGroupAcknowledgment:
    # A group pyx12 has no implementation guide map for (or not claims at all) is refused whole.
    transaction_sets = [TransactionSetAcknowledgment(ts.transaction_set_id, ts.control_number,
                                                     AcknowledgmentCode.REJECTED, ts.implementation_reference,
                                                     error_codes=(IMPLEMENTATION_NOT_SUPPORTED,))
                        for ts in group.transaction_sets]
    return FunctionalGroupAcknowledgment.summarize(
        functional_id=group.functional_id, group_control_number=group.control_number, version=group.version,
        transaction_sets=transaction_sets, transaction_sets_included=group.declared_transaction_sets,
        error_codes=(VERSION_NOT_SUPPORTED,))


def reply_envelope(interchange: ReceivedInterchange, identity: ClearinghouseIdentity,
                   now: datetime) -> InterchangeEnvelope:
    """The envelope of a document answering `interchange` (999, 277CA, 835), with fresh control numbers.

    Answers go back the way the file came: our ids are what the sender addressed (ISA08, GS03)."""
    first_group = interchange.groups[0] if interchange.groups else None
    control_number = identity.control_numbers.next()
    return InterchangeEnvelope(
        sender_qualifier=interchange.receiver_qualifier, sender_id=interchange.receiver_id,
        receiver_qualifier=interchange.sender_qualifier, receiver_id=interchange.sender_id,
        application_sender_code=first_group.application_receiver_code if first_group else interchange.receiver_id,
        application_receiver_code=first_group.application_sender_code if first_group else interchange.sender_id,
        interchange_control_number=control_number, group_control_number=control_number, created_at=now,
        usage_indicator=interchange.usage_indicator, delimiters=Delimiters())


# --------------------------------------------------------------------------------------- 277CA


def _report(transaction_set: ReceivedTransactionSet, interchange: ReceivedInterchange, trace_number: str,
            report_trace: str, rules: list[RejectionRule], identity: ClearinghouseIdentity, received_at: datetime,
            now: datetime, result: FileAcknowledgements) -> ClaimAcknowledgmentReport:
    today = now.date()
    providers: dict[tuple[str, str], list[ClaimAcknowledgment]] = {}
    parties = {}
    for index, claim in enumerate(transaction_set.claims, start=1):
        acknowledgment = _claim_acknowledgment(claim, f"{report_trace}{index:05d}", rules, identity, today)
        key = (claim.billing_provider.identifier, claim.billing_provider.last_or_organization_name)
        providers.setdefault(key, []).append(acknowledgment)
        parties[key] = claim.billing_provider
        result.claims.append(_outcome(acknowledgment, transaction_set.control_number))
        if acknowledgment.accepted and acknowledgment.payer_claim_control_number:
            result.accepted_claims.append(AcceptedClaim(claim, acknowledgment.payer_claim_control_number, interchange))
    total = sum((claim.total_charge for claim in transaction_set.claims), Decimal(0))
    return ClaimAcknowledgmentReport(
        reference=report_trace, created_at=now, information_source_name=identity.name,
        information_source_id=interchange.receiver_id,
        source_trace_number=trace_number, receipt_date=received_at.date(), process_date=today,
        receiver_name=transaction_set.submitter_name or "SUBMITTER",
        receiver_id=transaction_set.submitter_id or "UNKNOWN",
        batch_trace_number=transaction_set.reference or transaction_set.control_number,
        receiver_status=StatusInformation(ACCEPTED_BY_CLEARINGHOUSE, ActionCode.ACCEPT, total, effective_date=today),
        providers=tuple(_provider(parties[key], f"{report_trace}P{number:03d}", claims)
                        for number, (key, claims) in enumerate(providers.items(), start=1)))


def _provider(party: BillingProviderParty, trace_number: str,
              claims: list[ClaimAcknowledgment]) -> BillingProviderAcknowledgment:
    total = sum((claim.total_charge for claim in claims), Decimal(0))
    return BillingProviderAcknowledgment(
        last_or_organization_name=party.last_or_organization_name, identifier=party.identifier,
        trace_number=trace_number, claims=tuple(claims), entity_type=party.entity_type,
        first_name=party.first_name, identifier_qualifier=party.identifier_qualifier,
        status=StatusInformation(ACCEPTED_BY_CLEARINGHOUSE, ActionCode.ACCEPT, total))


def _claim_acknowledgment(claim: ReceivedClaim, clearinghouse_trace: str, rules: list[RejectionRule],
                          identity: ClearinghouseIdentity, today: date) -> ClaimAcknowledgment:
    rejection = rejection_for(rules, payer_id=claim.payer_id, member_id=claim.member_id,
                              patient_control_number=claim.patient_control_number)
    if rejection is None:
        status = StatusInformation(ACCEPTED_FOR_ADJUDICATION, ActionCode.ACCEPT, claim.total_charge,
                                   effective_date=today)
    else:
        status = StatusInformation(rejection, ActionCode.REJECT, claim.total_charge, effective_date=today)
    return ClaimAcknowledgment(
        patient_control_number=claim.patient_control_number, patient_last_name=claim.patient_last_name or "UNKNOWN",
        member_id=claim.member_id or "UNKNOWN", statuses=(status,),
        service_date_from=claim.service_date_from or today, service_date_to=claim.service_date_to,
        patient_first_name=claim.patient_first_name,
        payer_claim_control_number=identity.new_payer_claim_control_number() if rejection is None else None,
        clearinghouse_trace_number=clearinghouse_trace, bill_type=claim.bill_type)


def _outcome(acknowledgment: ClaimAcknowledgment, transaction_set_control_number: str) -> ClaimOutcome:
    return ClaimOutcome(
        patient_control_number=acknowledgment.patient_control_number,
        transaction_set_control_number=transaction_set_control_number,
        status="accepted" if acknowledgment.accepted else "rejected",
        claim_status=str(acknowledgment.statuses[0].status),
        payer_claim_control_number=acknowledgment.payer_claim_control_number,
        clearinghouse_trace_number=acknowledgment.clearinghouse_trace_number)
