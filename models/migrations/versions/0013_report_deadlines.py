"""When each level's reports are due in a term (models.congress.ReportDeadline).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_deadline",
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["term_id"], ["term.id"], name="fk_report_deadline_term_id_term"
        ),
        sa.PrimaryKeyConstraint("term_id", "depth", name="pk_report_deadline"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("report_deadline")
