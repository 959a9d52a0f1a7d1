"""The change feed wakes the live hubs: every transaction that appends feed rows sends one
NOTIFY on the channel "change_feed" at its commit (PostgreSQL; graph/live/wakeups.py).

The notification only wakes a worker's reader, the feed stays the truth. PostgreSQL folds
identical notifications of one transaction into one and delivers it at commit, never for a
rollback. SQLite needs nothing: the hubs watch PRAGMA data_version.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As 0008 (models/change_feed.py FEED_LOCK_KEY); a revision never changes once applied.
FEED_LOCK_KEY = 7_300_002
# As graph/live/wakeups.py CHANNEL.
CHANNEL = "change_feed"


def _position_function(notify: str) -> str:
    # 0008's body (the feed's turn, then the position), with `notify` before the RETURN.
    return (
        "CREATE OR REPLACE FUNCTION change_feed_position() RETURNS trigger AS $$ "
        f"BEGIN PERFORM pg_advisory_xact_lock({FEED_LOCK_KEY}); "
        f"NEW.position := nextval('change_feed_position_seq'); {notify}RETURN NEW; END; "
        "$$ LANGUAGE plpgsql"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_position_function(f"PERFORM pg_notify('{CHANNEL}', ''); "))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_position_function(""))
