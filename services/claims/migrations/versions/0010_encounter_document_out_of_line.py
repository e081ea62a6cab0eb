"""the encounter document stored out of line (in the claims table's TOAST table): a claim row is
updated three times on its way out (submitted, accepted by the clearinghouse, accepted by the
payer), and each UPDATE writes a whole new row version. A row with its ~2 KB document is just
over PostgreSQL's default toasting threshold (~2 KB), so the document was compressed (pglz) and
kept inline: most of each new version, of its WAL and of what vacuum walks. Out of line, a new
version carries an 18-byte pointer to the unchanged value, which PostgreSQL does not copy again
(WAL per status update 2.1 -> 1.0 KB, docs/benchmarks.md, session 6).

STORAGE EXTERNAL: out of line, uncompressed (no pglz on every intake and every read for an 837).
toast_tuple_target: values move out only of rows longer than this; 512 is above a claim row
without its document (a few hundred bytes), so only the document goes. Both apply to rows
written from now on.

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
