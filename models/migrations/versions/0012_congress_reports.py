"""Reports up the tree (models/reports.py): a report per congress, which milestones a
report needs done, and whether a term waits for the children's reports.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "congress_report",
        sa.Column("congress_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft", "submitted", "approved", "returned", "reopened",
                name="reportstate", native_enum=False, length=16,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["congress_id"], ["congress.id"], name="fk_congress_report_congress_id_congress"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_user_id"],
            ["app_user.id"],
            name="fk_congress_report_submitted_by_user_id_app_user",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["app_user.id"],
            name="fk_congress_report_decided_by_user_id_app_user",
        ),
        sa.PrimaryKeyConstraint("congress_id", name="pk_congress_report"),
    )  # fmt: skip
    with op.batch_alter_table("milestone_template") as table:
        table.add_column(
            sa.Column("required", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("term") as table:
        table.add_column(
            sa.Column(
                "require_children_approved",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("term") as table:
        table.drop_column("require_children_approved")
    with op.batch_alter_table("milestone_template") as table:
        table.drop_column("required")
    op.drop_table("congress_report")
