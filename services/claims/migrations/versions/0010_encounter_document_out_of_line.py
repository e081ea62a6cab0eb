"""the encounter document stored out of line (in the claims table's TOAST table): a claim row is
updated three times on its way out (submitted, accepted by the clearinghouse, accepted by the
payer), and each UPDATE writes a whole new row version. Inline, the ~1.4 KB document was most of
each new version (and of its WAL and of what vacuum walks); out of line, a new version carries an
18-byte pointer to the unchanged value, which PostgreSQL does not copy again.

STORAGE EXTERNAL: out of line without compression (JSON text of this size compresses to about
half, not worth pglz's CPU on every intake and every 837 build). toast_tuple_target: PostgreSQL
moves values out only from rows longer than this (2 KB by default, just above a typical claim
row); 512 is above a claim row without its document (~400 bytes), so only the document goes.
Both apply to rows written from now on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 08:00:00.000000
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE claims ALTER COLUMN encounter_document SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE claims SET (toast_tuple_target = 512)")


def downgrade() -> None:
    op.execute("ALTER TABLE claims RESET (toast_tuple_target)")
    op.execute("ALTER TABLE claims ALTER COLUMN encounter_document SET STORAGE EXTENDED")
