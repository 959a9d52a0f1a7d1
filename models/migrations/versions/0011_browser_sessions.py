"""Browser sign-ins (models/browser_sessions.py): sessions and OpenID Connect attempts.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_session",
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_browser_session_user_id_app_user"
        ),
        sa.PrimaryKeyConstraint("secret_digest", name="pk_browser_session"),
    )
    op.create_index("ix_browser_session_user_id", "browser_session", ["user_id"])
    op.create_index("ix_browser_session_expires_at", "browser_session", ["expires_at"])
    op.create_table(
        "sign_in_attempt",
        sa.Column("state_digest", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("return_to", sa.String(512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_digest", name="pk_sign_in_attempt"),
    )
    op.create_index("ix_sign_in_attempt_expires_at", "sign_in_attempt", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempt")
    op.drop_table("browser_session")
