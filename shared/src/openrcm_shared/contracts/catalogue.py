"""The event catalogue: CloudEvents type -> contract class (and with it topic and key)."""

from __future__ import annotations

from openrcm_shared.contracts.base import IntegrationEvent
from openrcm_shared.contracts.claims import (
    ClaimAcceptedByClearinghouse, ClaimAcceptedByPayer, ClaimCoverageRecorded, ClaimDenialExpected,
    ClaimFilingDeadlineApproaching,
    ClaimFlaggedForFollowUp, ClaimForwardedByPayer, ClaimHeld, ClaimRejected,
    ClaimStatusChanged, ClaimStatusInquiryAnswered, ClaimSubmitted, CoverageRegistered, NextPayerClaimCreated,
)
from openrcm_shared.contracts.collections import (
    ClaimFollowUpRequested, DunningStageChanged, PatientBalanceChanged, PaymentPlanChanged, PayerCreditBalanceChanged,
    StatementIssued,
)
from openrcm_shared.contracts.denials import (
    CorrectedClaimRequested, DenialCaseAssigned, DenialCaseClosed, DenialCaseNoteAdded, DenialCaseOpened,
    DenialCaseRecategorized, DenialCaseSlaBreached, DenialCaseStatusChanged, DenialCaseTaskChanged,
    DenialTransferredToPatient, DenialTrendDetected, DenialWrittenOff, ExpectedDenialOpened, ExpectedDenialReflagged,
    ExpectedDenialReopened, ExpectedDenialResolved, SecondaryBillingRequested,
)
from openrcm_shared.contracts.eligibility import (
    CoverageChanged, CoverageInactive, EligibilityBatchFinished, EligibilityChecked,
)
from openrcm_shared.contracts.remittance import (
    ClaimDenied, ClaimPaymentPosted, ClaimReversed, DepositRecorded, FeeScheduleRatesPublished, FeeScheduleReplaced,
    PaymentVarianceDetected,
    ProviderAdjustmentsPosted, RemittanceHeld, RemittanceReassociated, RemittanceReceived,
)

ALL_EVENTS: tuple[type[IntegrationEvent], ...] = (
    ClaimSubmitted,
    ClaimHeld,
    ClaimAcceptedByClearinghouse,
    ClaimRejected,
    ClaimAcceptedByPayer,
    ClaimFilingDeadlineApproaching,
    ClaimFlaggedForFollowUp,
    ClaimCoverageRecorded,
    ClaimDenialExpected,
    ClaimStatusChanged,
    ClaimForwardedByPayer,
    NextPayerClaimCreated,
    ClaimStatusInquiryAnswered,
    CoverageRegistered,
    EligibilityChecked,
    CoverageInactive,
    CoverageChanged,
    EligibilityBatchFinished,
    RemittanceReceived,
    ClaimPaymentPosted,
    ClaimDenied,
    ClaimReversed,
    PaymentVarianceDetected,
    ProviderAdjustmentsPosted,
    RemittanceHeld,
    DepositRecorded,
    RemittanceReassociated,
    FeeScheduleReplaced,
    FeeScheduleRatesPublished,
    DenialCaseOpened,
    DenialCaseClosed,
    DenialCaseStatusChanged,
    DenialCaseRecategorized,
    DenialCaseAssigned,
    DenialCaseNoteAdded,
    DenialCaseTaskChanged,
    DenialCaseSlaBreached,
    DenialTrendDetected,
    DenialWrittenOff,
    DenialTransferredToPatient,
    SecondaryBillingRequested,
    CorrectedClaimRequested,
    ExpectedDenialOpened,
    ExpectedDenialReflagged,
    ExpectedDenialReopened,
    ExpectedDenialResolved,
    PatientBalanceChanged,
    PayerCreditBalanceChanged,
    PaymentPlanChanged,
    StatementIssued,
    DunningStageChanged,
    ClaimFollowUpRequested,
)

BY_TYPE: dict[str, type[IntegrationEvent]] = {event.event_type: event for event in ALL_EVENTS}


def contract_for(event_type: str) -> type[IntegrationEvent] | None:
    return BY_TYPE.get(event_type)
