"""Versions on committees and users, for optimistic concurrency (expectedVersion).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("committee", "app_user"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("version", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade() -> None:
    for table in ("committee", "app_user"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("version")
