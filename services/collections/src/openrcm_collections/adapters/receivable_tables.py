"""The insurance receivables read model and the follow-up worklist (collections migration 0007).

`receivable_claims` holds what is known about each claim (its payer, dates, provider, financial
class, where it is in its lifecycle); `receivable_movements` is append-only: every event that moves
a claim's insurance receivable adds one dated row, so the receivable on any past date is the sum of
the rows dated on or before it. A movement carries the claim's reporting facts (payer, patient,
dates, provider, financial class) so an aging report is one scan of this table, not a join.
"""

from __future__ import annotations

import sqlalchemy as sa

receivables_metadata = sa.MetaData()
MONEY = sa.Numeric(12, 2)
ZERO_DEFAULT = sa.text("0")


def _money(name: str) -> sa.Column:
    return sa.Column(name, MONEY, nullable=False, server_default=ZERO_DEFAULT)


receivable_claims = sa.Table(
    "receivable_claims", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("claim_id", sa.Uuid, primary_key=True),
    # Unknown until the claim is billed (a claim held before its first submission is counted).
    sa.Column("patient_id", sa.Text),
    sa.Column("payer_id", sa.Text),
    sa.Column("encounter_id", sa.Text),
    sa.Column("payer_responsibility", sa.String(1)),  # SBR01: P, S, T
    sa.Column("prior_claim_id", sa.Uuid),
    sa.Column("prior_patient_responsibility", MONEY),  # what the previous payer left the patient
    sa.Column("service_date", sa.Date),
    sa.Column("first_billed_on", sa.Date),
    sa.Column("billing_provider_npi", sa.Text),
    sa.Column("rendering_provider_npi", sa.Text),
    sa.Column("financial_class", sa.Text),  # SBR09 claim filing indicator
    _money("billed_amount"),
    # The receivable now (the sum of the claim's movements, kept with each one): the worklist's
    # ranking; reports as of a date sum the movements instead.
    _money("balance"),
    sa.Column("submission_count", sa.Integer, nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("rejection_count", sa.Integer, nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("hold_count", sa.Integer, nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("status", sa.Text),
    sa.Column("status_changed_at", sa.DateTime(timezone=True)),
    sa.Column("accepted_at", sa.DateTime(timezone=True)),
    sa.Column("unacknowledged_since", sa.DateTime(timezone=True)),  # ClaimFlaggedForFollowUp
    sa.Column("first_adjudicated_on", sa.Date),
    sa.Column("first_outcome", sa.Text),
    sa.Column("last_remitted_at", sa.DateTime(timezone=True)),
    # The last claim status inquiry answer (277): STC01-1 category, STC01-2 status code.
    sa.Column("inquiry_category_code", sa.Text),
    sa.Column("inquiry_status_code", sa.Text),
    sa.Column("inquiry_answered_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_receivable_claims_payer", "tenant_id", "payer_id"),
    sa.Index("ix_receivable_claims_first_billed", "tenant_id", "first_billed_on"),
    sa.Index("ix_receivable_claims_first_adjudicated", "tenant_id", "first_adjudicated_on"),
)

receivable_movements = sa.Table(
    "receivable_movements", receivables_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    # billed | rebilled | prior_payer | adjudicated | reversed | denial_held_open
    sa.Column("movement_kind", sa.Text, nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    # The effect on the insurance receivable: billed - paid - contractual - other - to patient
    # - prior payer + denied held open (each component below, signed as it moves the receivable).
    sa.Column("amount", MONEY, nullable=False),
    _money("billed"), _money("paid"), _money("contractual"), _money("other_adjustment"),
    _money("patient_transfer"), _money("prior_payer"), _money("denied"),
    sa.Column("remittance_id", sa.Uuid),
    sa.Column("source_event_id", sa.Uuid, nullable=False),
    # Reporting facts copied from the claim (see the module docstring).
    sa.Column("payer_id", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text, nullable=False),
    sa.Column("service_date", sa.Date),
    sa.Column("first_billed_on", sa.Date),
    sa.Column("financial_class", sa.Text),
    sa.Column("provider_npi", sa.Text),
    sa.Index("ix_receivable_movements_claim", "tenant_id", "claim_id", "id"),
    # With the aging's columns: the movements after a month-end snapshot read by index-only scan.
    sa.Index("ix_receivable_movements_date", "tenant_id", "occurred_on",
             postgresql_include=["amount", "service_date", "first_billed_on", "payer_id", "financial_class",
                                 "provider_npi"]),
)

# Summaries kept with the movements, in the same transactions, so reports over a million claims
# read thousands of rows instead of millions (docs/collections-reports.md, "Performance").
# The aging's cells: the movements' amounts summed by basis date, month moved and group. Unknown
# facts are '' (key columns); a movement without its basis date yet counts on the day it moved.
receivable_rollup = sa.Table(
    "receivable_rollup", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("basis", sa.Text, primary_key=True),  # service_date | first_billed
    sa.Column("basis_date", sa.Date, primary_key=True),
    sa.Column("occurred_month", sa.Date, primary_key=True),  # the first day of the month moved
    sa.Column("payer_id", sa.Text, primary_key=True),
    sa.Column("financial_class", sa.Text, primary_key=True),
    sa.Column("provider_npi", sa.Text, primary_key=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Index("ix_receivable_rollup_month", "tenant_id", "occurred_month"),
)

# Month-end snapshots (migration 0010): each closed month's open aging cells, the balances at the end
# of `month` (its first day names it). Insurance cells by basis date and group, as the rollup's;
# patient cells by basis date and provider (payer and class ''). Closed by the month-end closer
# (receivables.month_end) in order from a practice's first month; a movement dated into a closed
# month later adds to every snapshot from its month on, so each stays the sum of everything dated
# up to its month end.
receivable_month_ends = sa.Table(
    "receivable_month_ends", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("receivable", sa.Text, primary_key=True),  # insurance | patient
    sa.Column("basis", sa.Text, primary_key=True),  # service_date | first_billed
    sa.Column("basis_date", sa.Date, primary_key=True),
    sa.Column("payer_id", sa.Text, primary_key=True),
    sa.Column("financial_class", sa.Text, primary_key=True),
    sa.Column("provider_npi", sa.Text, primary_key=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
)

# The last month closed per practice (its first day): every month from the practice's first
# through it has its snapshot.
receivable_closed_months = sa.Table(
    "receivable_closed_months", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("closed_through", sa.Date, nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
)

# The KPIs' daily sums of the movements (and the charges of the claims remitted that day).
receivable_daily_totals = sa.Table(
    "receivable_daily_totals", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("occurred_on", sa.Date, primary_key=True),
    sa.Column("billed", sa.Numeric(14, 2), nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("paid", sa.Numeric(14, 2), nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("contractual", sa.Numeric(14, 2), nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("denied", sa.Numeric(14, 2), nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("denied_claims", sa.Integer, nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("adjudicated_claims", sa.Integer, nullable=False, server_default=ZERO_DEFAULT),
    sa.Column("adjudicated_charges", sa.Numeric(14, 2), nullable=False, server_default=ZERO_DEFAULT),
)

# A payer's follow-up age (days unpaid before a claim joins the worklist); 45 when unset.
payer_follow_up_settings = sa.Table(
    "payer_follow_up_settings", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("payer_id", sa.Text, primary_key=True),
    sa.Column("follow_up_after_days", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Who works a claim and when it is next looked at (one row per claim on the worklist).
follow_up_assignments = sa.Table(
    "follow_up_assignments", receivables_metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("claim_id", sa.Uuid, primary_key=True),
    sa.Column("assignee", sa.Text),
    sa.Column("next_action_on", sa.Date),
    sa.Column("last_outcome", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Call notes and requested actions, append-only.
follow_up_notes = sa.Table(
    "follow_up_notes", receivables_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    sa.Column("outcome", sa.Text),
    sa.Column("action", sa.Text),  # resubmit | correct | ask_payer
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("next_action_on", sa.Date),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_follow_up_notes_claim", "tenant_id", "claim_id", "id"),
)

RECEIVABLE_TABLES = ("receivable_claims", "receivable_movements", "receivable_rollup", "receivable_daily_totals",
                     "receivable_month_ends", "receivable_closed_months", "payer_follow_up_settings",
                     "follow_up_assignments", "follow_up_notes")
