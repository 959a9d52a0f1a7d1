"""Progress rollups: per-subtree counters of congresses, filled from the existing ones.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "progress_rollup",
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("levels_below", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(96), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("committee_id", "term_id", "levels_below", "measure", name="pk_progress_rollup"),
    )
    op.create_table(
        "progress_rollup_day",
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("levels_below", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("committee_id", "term_id", "kind", "day", "levels_below", name="pk_progress_rollup_day"),
    )
    # overdueCongresses: a term's open deadlines in date order.
    op.create_index("ix_congress_term_id_deadline", "congress", ["term_id", "deadline"])
    # recentProgress: a congress's events newest first.
    op.create_index("ix_congress_event_congress_id_id", "congress_event", ["congress_id", "id"])
    # Filled from the congresses already recorded by the last revision that changes what
    # they count (0012, reports), with the code's definition then: the definition reads
    # tables this revision does not have yet.


def downgrade() -> None:
    op.drop_index("ix_congress_event_congress_id_id", table_name="congress_event")
    op.drop_index("ix_congress_term_id_deadline", table_name="congress")
    op.drop_table("progress_rollup_day")
    op.drop_table("progress_rollup")
