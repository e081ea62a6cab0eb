"""The insurance follow-up worklist: which claims someone should chase, biggest and oldest first.

A claim is on the worklist, for the first reason that applies, when it still has a receivable and
  * `no_acknowledgement`: the claims service flagged it (no 999/277CA within the payer's window);
  * `awaiting_payer_acknowledgement`: the clearinghouse took it but the payer's 277CA has not come
    in `AWAITING_PAYER_ACKNOWLEDGEMENT_DAYS`;
  * `accepted_no_remittance`: the payer accepted it (277CA A2) and no 835 came in
    `ACCEPTED_NO_REMITTANCE_DAYS`;
  * `unpaid_past_follow_up_age`: it was first billed longer ago than the payer's follow-up age
    (`payer_follow_up_settings`, 45 days when unset).
Denied claims are left to the denials worklist (their appeal is worked there). A claim whose next
action date (from a call note) is later than today waits until then.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openrcm_collections.adapters.receivable_tables import (
    follow_up_assignments, follow_up_notes, payer_follow_up_settings, receivable_claims,
)

DEFAULT_FOLLOW_UP_DAYS = 45
AWAITING_PAYER_ACKNOWLEDGEMENT_DAYS = 7
ACCEPTED_NO_REMITTANCE_DAYS = 30
NOT_FOLLOWED_UP = ("denied", "voided", "paid")


class CallOutcome(StrEnum):
    """What the payer said about the claim (the coded result of a call or a status inquiry)."""

    PENDING_MEDICAL_REVIEW = "pending_medical_review"
    ADDITIONAL_DOCUMENTATION_REQUESTED = "additional_documentation_requested"
    PAID_TO_ANOTHER_PROVIDER = "paid_to_another_provider"
    IN_PROCESS = "in_process"
    NOT_ON_FILE = "not_on_file"
    DENIED = "denied"


class FollowUpAction(StrEnum):
    """What the claims service is asked to do next: send the claim again as it is, have it
    corrected (a replacement claim after the data is fixed), or ask the payer (X12 276)."""

    RESUBMIT = "resubmit"
    CORRECT = "correct"
    ASK_PAYER = "ask_payer"


class FollowUpReason(StrEnum):
    NO_ACKNOWLEDGEMENT = "no_acknowledgement"
    AWAITING_PAYER_ACKNOWLEDGEMENT = "awaiting_payer_acknowledgement"
    ACCEPTED_NO_REMITTANCE = "accepted_no_remittance"
    UNPAID_PAST_FOLLOW_UP_AGE = "unpaid_past_follow_up_age"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def worklist_query(tenant_id: str, today: date):
    """Claims to follow up on `today`, with their reason, age and assignment (unordered)."""
    rc, fa, ps = receivable_claims.c, follow_up_assignments.c, payer_follow_up_settings.c
    follow_up_days = sa.func.coalesce(ps.follow_up_after_days, DEFAULT_FOLLOW_UP_DAYS)
    age_days = sa.literal(today, sa.Date) - rc.first_billed_on
    reason = sa.case(
        (sa.and_(rc.unacknowledged_since.is_not(None), rc.status == "submitted"), FollowUpReason.NO_ACKNOWLEDGEMENT.value),
        (sa.and_(rc.status == "accepted_by_clearinghouse",
                 rc.status_changed_at < _midnight(today - timedelta(days=AWAITING_PAYER_ACKNOWLEDGEMENT_DAYS))),
         FollowUpReason.AWAITING_PAYER_ACKNOWLEDGEMENT.value),
        (sa.and_(rc.status == "accepted_by_payer", rc.last_remitted_at.is_(None),
                 rc.status_changed_at < _midnight(today - timedelta(days=ACCEPTED_NO_REMITTANCE_DAYS))),
         FollowUpReason.ACCEPTED_NO_REMITTANCE.value),
        (age_days > follow_up_days, FollowUpReason.UNPAID_PAST_FOLLOW_UP_AGE.value),
        else_=None)
    listed = (sa.select(rc.claim_id, rc.patient_id, rc.payer_id, rc.status, rc.balance, rc.billed_amount,
                        rc.service_date, rc.first_billed_on, age_days.label("age_days"), reason.label("reason"),
                        rc.inquiry_category_code, rc.inquiry_status_code, fa.assignee, fa.next_action_on,
                        fa.last_outcome)
              .select_from(receivable_claims
                           .outerjoin(payer_follow_up_settings, sa.and_(ps.tenant_id == rc.tenant_id,
                                                                        ps.payer_id == rc.payer_id))
                           .outerjoin(follow_up_assignments, sa.and_(fa.tenant_id == rc.tenant_id,
                                                                     fa.claim_id == rc.claim_id)))
              .where(rc.tenant_id == tenant_id, rc.balance > 0, rc.first_billed_on.is_not(None),
                     sa.or_(rc.status.is_(None), rc.status.not_in(NOT_FOLLOWED_UP)),
                     sa.or_(fa.next_action_on.is_(None), fa.next_action_on <= today))
              .subquery())
    return sa.select(listed).where(listed.c.reason.is_not(None))


async def set_follow_up_age(conn, tenant_id: str, payer_id: str, days: int) -> None:
    now = datetime.now(timezone.utc)
    await conn.execute(pg_insert(payer_follow_up_settings)
                       .values(tenant_id=tenant_id, payer_id=payer_id, follow_up_after_days=days, updated_at=now)
                       .on_conflict_do_update(index_elements=["tenant_id", "payer_id"],
                                              set_={"follow_up_after_days": days, "updated_at": now}))


async def record_note(conn, tenant_id: str, claim_id, *, author: str, note: str, outcome: CallOutcome | None,
                      action: FollowUpAction | None, next_action_on: date | None, assignee: str | None,
                      assign: bool) -> int:
    """A call note (append-only) and the claim's assignment brought up to date; returns the note's id."""
    now = datetime.now(timezone.utc)
    note_id = (await conn.execute(follow_up_notes.insert().values(
        tenant_id=tenant_id, claim_id=claim_id, outcome=outcome, action=action, note=note,
        next_action_on=next_action_on, author=author, created_at=now).returning(follow_up_notes.c.id))).scalar_one()
    changes = {"next_action_on": next_action_on, "updated_at": now}
    if outcome is not None:
        changes["last_outcome"] = outcome.value
    if assign:
        changes["assignee"] = assignee
    await conn.execute(pg_insert(follow_up_assignments)
                       .values(tenant_id=tenant_id, claim_id=claim_id, **{"assignee": assignee if assign else None,
                                                                           "last_outcome": None, **changes})
                       .on_conflict_do_update(index_elements=["tenant_id", "claim_id"], set_=changes))
    return note_id
