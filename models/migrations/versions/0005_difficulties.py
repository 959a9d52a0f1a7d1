"""Difficulties: the current state of each and its append-only history.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from models.migrations.append_only import append_only, drop_append_only

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "difficulty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("handling_committee_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("raised_by_user_id", sa.Integer(), nullable=True),
        sa.Column("raised_by_subject", sa.String(64), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["committee_id"], ["committee.id"], name="fk_difficulty_committee_id_committee"),
        sa.ForeignKeyConstraint(
            ["handling_committee_id"], ["committee.id"], name="fk_difficulty_handling_committee_id_committee"
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_user_id"], ["app_user.id"], name="fk_difficulty_raised_by_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_difficulty"),
    )
    op.create_index(
        "ix_difficulty_handling_committee_id_status_id",
        "difficulty",
        ["handling_committee_id", "status", "id"],
    )
    op.create_index("ix_difficulty_committee_id_id", "difficulty", ["committee_id", "id"])
    op.create_index(
        "ix_difficulty_status_last_activity_at", "difficulty", ["status", "last_activity_at"]
    )
    op.create_table(
        "difficulty_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("difficulty_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("from_committee_id", sa.Integer(), nullable=True),
        sa.Column("to_committee_id", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_subject", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["difficulty_id"], ["difficulty.id"], name="fk_difficulty_event_difficulty_id_difficulty"
        ),
        sa.ForeignKeyConstraint(
            ["from_committee_id"], ["committee.id"], name="fk_difficulty_event_from_committee_id_committee"
        ),
        sa.ForeignKeyConstraint(
            ["to_committee_id"], ["committee.id"], name="fk_difficulty_event_to_committee_id_committee"
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["app_user.id"], name="fk_difficulty_event_actor_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_difficulty_event"),
    )
    op.create_index(
        "ix_difficulty_event_difficulty_id_id", "difficulty_event", ["difficulty_id", "id"]
    )
    append_only("difficulty_event")


def downgrade() -> None:
    drop_append_only("difficulty_event")
    op.drop_index("ix_difficulty_event_difficulty_id_id", table_name="difficulty_event")
    op.drop_table("difficulty_event")
    op.drop_index("ix_difficulty_status_last_activity_at", table_name="difficulty")
    op.drop_index("ix_difficulty_committee_id_id", table_name="difficulty")
    op.drop_index("ix_difficulty_handling_committee_id_status_id", table_name="difficulty")
    op.drop_table("difficulty")
