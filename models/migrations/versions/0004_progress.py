"""Congress progress: events, derived milestone and result state, idempotency records.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from models.migrations.append_only import append_only, drop_append_only

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("congress") as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="not_started")
        )
        batch_op.add_column(sa.Column("held_on", sa.Date(), nullable=True))
    with op.batch_alter_table("milestone_template") as batch_op:
        batch_op.add_column(
            sa.Column("marks_held", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE milestone_template SET marks_held = true WHERE code = 'congress_held'")
    op.create_table(
        "congress_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("congress_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_subject", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["congress_id"], ["congress.id"], name="fk_congress_event_congress_id_congress"),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"], ["app_user.id"], name="fk_congress_event_recorded_by_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_congress_event"),
        sa.UniqueConstraint("congress_id", "version", name="uq_congress_event_congress_id_version"),
    )
    append_only("congress_event")
    op.create_table(
        "congress_milestone",
        sa.Column("congress_id", sa.Integer(), nullable=False),
        sa.Column("milestone_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by_subject", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["congress_id"], ["congress.id"], name="fk_congress_milestone_congress_id_congress"
        ),
        sa.PrimaryKeyConstraint("congress_id", "milestone_code", name="pk_congress_milestone"),
    )
    op.create_table(
        "congress_result",
        sa.Column("congress_id", sa.Integer(), nullable=False),
        sa.Column("delegates_expected", sa.Integer(), nullable=False),
        sa.Column("delegates_present", sa.Integer(), nullable=False),
        sa.Column("members_elected", sa.Integer(), nullable=False),
        sa.Column("women", sa.Integer(), nullable=False),
        sa.Column("under_40", sa.Integer(), nullable=False),
        sa.Column("ethnic_minority", sa.Integer(), nullable=False),
        sa.Column("secretary_directly_elected", sa.Boolean(), nullable=False),
        sa.Column("delegates_to_higher_congress", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by_subject", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["congress_id"], ["congress.id"], name="fk_congress_result_congress_id_congress"),
        sa.PrimaryKeyConstraint("congress_id", name="pk_congress_result"),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name="fk_idempotency_record_user_id_app_user"),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_record"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_record")
    op.drop_table("congress_result")
    op.drop_table("congress_milestone")
    drop_append_only("congress_event")
    op.drop_table("congress_event")
    with op.batch_alter_table("milestone_template") as batch_op:
        batch_op.drop_column("marks_held")
    with op.batch_alter_table("congress") as batch_op:
        batch_op.drop_column("held_on")
        batch_op.drop_column("status")
        batch_op.drop_column("version")
