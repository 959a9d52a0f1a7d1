"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:19:19.546392
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('subject', name=op.f('uq_app_user_subject'))
    )
    op.create_table('committee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('search_name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.Enum('central', 'province', 'district', 'commune', 'grassroots', 'cell', name='committeekind', native_enum=False, length=32), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1024).with_variant(sa.String(length=1024, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['committee.id'], name=op.f('fk_committee_parent_id_committee')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee')),
    sa.UniqueConstraint('code', name=op.f('uq_committee_code')),
    sa.UniqueConstraint('path', name=op.f('uq_committee_path'))
    )
    with op.batch_alter_table('committee', schema=None) as batch_op:
        batch_op.create_index('ix_committee_parent_id_path', ['parent_id', 'path'], unique=False)

    op.create_table('term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_term')),
    sa.UniqueConstraint('code', name=op.f('uq_term_code'))
    )
    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('viewer', 'reporter', 'admin', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_assignment_committee_id_committee')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_assignment_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('user_id', 'committee_id', name=op.f('uq_assignment_user_id_committee_id'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_committee_id'), ['committee_id'], unique=False)

    op.create_table('congress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('term_id', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_congress_committee_id_committee')),
    sa.ForeignKeyConstraint(['term_id'], ['term.id'], name=op.f('fk_congress_term_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_congress')),
    sa.UniqueConstraint('committee_id', 'term_id', name=op.f('uq_congress_committee_id_term_id'))
    )
    with op.batch_alter_table('congress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_congress_term_id'), ['term_id'], unique=False)

    op.create_table('milestone_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('term_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('prerequisite_code', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['term_id'], ['term.id'], name=op.f('fk_milestone_template_term_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_template')),
    sa.UniqueConstraint('term_id', 'code', name=op.f('uq_milestone_template_term_id_code')),
    sa.UniqueConstraint('term_id', 'position', name=op.f('uq_milestone_template_term_id_position'))
    )


def downgrade() -> None:
    op.drop_table('milestone_template')
    with op.batch_alter_table('congress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_congress_term_id'))

    op.drop_table('congress')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_committee_id'))

    op.drop_table('assignment')
    op.drop_table('term')
    with op.batch_alter_table('committee', schema=None) as batch_op:
        batch_op.drop_index('ix_committee_parent_id_path')

    op.drop_table('committee')
    op.drop_table('app_user')
