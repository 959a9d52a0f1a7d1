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
    # Rollups count reports by state from now on; none exists yet, so counters already
    # filled stay right. A database whose congresses predate the rollups (0007 leaves them
    # empty) gets them filled here, by the code's definition, which reads every table above.
    bind = op.get_bind()
    has_congresses = bind.execute(sa.text("SELECT 1 FROM congress LIMIT 1")).first()
    has_rollups = bind.execute(sa.text("SELECT 1 FROM progress_rollup LIMIT 1")).first()
    if has_congresses and not has_rollups:
        from models.rollup_check import rebuild_statements

        for statement in rebuild_statements():
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("term") as table:
        table.drop_column("require_children_approved")
    with op.batch_alter_table("milestone_template") as table:
        table.drop_column("required")
    op.drop_table("congress_report")
