"""The expected-denial worklist: claims the payer has that it will likely deny, flagged by the claims
service (ClaimDenialExpected) and settled by the payer's remittance or by a person.

Under the practice policy of row-level security (migration 0009). The claim's facts are copied from
`claim_facts` when the claim is flagged (as billed then), so the worklist reads one table and sorts
by the billed amount on an index.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from openrcm_denials.adapters.appeal_tables import claim_facts

expected_denial_metadata = sa.MetaData()

# The claim's facts an item copies when the claim is flagged, typed as claim_facts keeps them.
COPIED_FACTS = ("patient_id", "patient_name", "member_id", "patient_control_number", "payer_name",
                "billing_provider_npi", "rendering_provider_npi", "service_date_from", "service_date_to")

# The open items only: the worklist's indexes are partial on it, as the case worklist's are on the
# unresolved statuses, and at most one item per claim is open.
OPEN_SQL = "status = 'open'"


def _open_index(name: str, *columns: str, unique: bool = False) -> sa.Index:
    return sa.Index(name, "tenant_id", *columns, unique=unique, postgresql_where=sa.text(OPEN_SQL))


expected_denials = sa.Table(
    "expected_denials", expected_denial_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("claim_id", sa.Uuid, nullable=False),
    sa.Column("payer_id", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),  # coverage_inactive
    # The latest check that flagged the claim, and every one that did (a replayed answer is no news).
    sa.Column("eligibility_check_id", sa.Uuid, nullable=False),
    sa.Column("eligibility_check_ids", pg.ARRAY(sa.Uuid), nullable=False),
    sa.Column("service_date", sa.Date, nullable=False),
    sa.Column("claim_status", sa.Text, nullable=False),  # the claim's status when flagged
    sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_flagged_at", sa.DateTime(timezone=True), nullable=False),
    # The claim as billed (claim_facts, from ClaimSubmitted); 0.00 and nulls while it was not known.
    sa.Column("billed_amount", sa.Numeric(12, 2), nullable=False),
    *[sa.Column(name, claim_facts.c[name].type) for name in COPIED_FACTS],
    # Settling it.
    sa.Column("status", sa.Text, nullable=False),  # open | resolved
    sa.Column("resolution", sa.Text),
    sa.Column("resolution_note", sa.Text),
    sa.Column("resolved_by", sa.Text),  # a person's token subject; null when the remittance settled it
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("denial_case_id", sa.Uuid),
    sa.Column("remittance_id", sa.Uuid),
    sa.Index("ix_expected_denials_claim", "tenant_id", "claim_id"),
    _open_index("uq_expected_denials_open_claim", "claim_id", unique=True),
    _open_index("ix_expected_denials_open_amount", "billed_amount", "id"),
    _open_index("ix_expected_denials_open_age", "flagged_at", "id"),
    _open_index("ix_expected_denials_open_payer_amount", "payer_id", "billed_amount", "id"),
    _open_index("ix_expected_denials_open_payer_age", "payer_id", "flagged_at", "id"),
)
