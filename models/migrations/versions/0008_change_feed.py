"""The change feed (models/change_feed.py): append-only, positions in commit order.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from models.migrations.append_only import append_only, drop_append_only

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# As models/change_feed.py FEED_LOCK_KEY; a revision never changes once applied.
FEED_LOCK_KEY = 7_300_002


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "change_feed",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=not postgresql,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("committee_path", sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql"), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["committee_id"], ["committee.id"], name="fk_change_feed_committee_id_committee"),
        sa.ForeignKeyConstraint(["term_id"], ["term.id"], name="fk_change_feed_term_id_term"),
        sa.PrimaryKeyConstraint("position", name="pk_change_feed"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    if postgresql:
        op.execute("CREATE SEQUENCE change_feed_position_seq OWNED BY change_feed.position")
        # The feed's turn, then the position: the lock is released only after the commit
        # is visible, so positions are visible in the order they were drawn.
        op.execute(
            "CREATE FUNCTION change_feed_position() RETURNS trigger AS $$ "
            f"BEGIN PERFORM pg_advisory_xact_lock({FEED_LOCK_KEY}); "
            "NEW.position := nextval('change_feed_position_seq'); RETURN NEW; END; "
            "$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER change_feed_position BEFORE INSERT ON change_feed "
            "FOR EACH ROW EXECUTE FUNCTION change_feed_position()"
        )
    append_only("change_feed")


def downgrade() -> None:
    drop_append_only("change_feed")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER change_feed_position ON change_feed")
        op.execute("DROP FUNCTION change_feed_position()")
    op.drop_table("change_feed")
