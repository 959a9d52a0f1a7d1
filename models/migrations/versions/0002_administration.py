"""Administration: closed and merged committees, searchable users, the append-only audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from models.migrations.append_only import append_only, drop_append_only
from models.text import search_key

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def upgrade() -> None:
    with op.batch_alter_table("committee") as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_committee_merged_into_id_committee", "committee", ["merged_into_id"], ["id"]
        )
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(
            sa.Column("search_name", sa.String(255), nullable=False, server_default="")
        )
    # Accounts made before this revision become searchable too.
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, display_name FROM app_user")).all()
    for user_id, display_name in users:
        connection.execute(
            sa.text("UPDATE app_user SET search_name = :key WHERE id = :id"),
            {"key": search_key(display_name), "id": user_id},
        )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_subject", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=True),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["app_user.id"], name="fk_audit_log_actor_user_id_app_user"
        ),
        sa.ForeignKeyConstraint(
            ["committee_id"], ["committee.id"], name="fk_audit_log_committee_id_committee"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_committee_id_id", "audit_log", ["committee_id", "id"])
    append_only("audit_log")


def downgrade() -> None:
    drop_append_only("audit_log")
    op.drop_index("ix_audit_log_committee_id_id", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_column("search_name")
    with op.batch_alter_table("committee") as batch_op:
        batch_op.drop_constraint("fk_committee_merged_into_id_committee", type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        batch_op.drop_column("closed_at")
