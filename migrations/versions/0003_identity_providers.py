"""identity providers from configuration: identity audience and attributes, passports,
server-side login sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passport_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('nationality', sa.String(length=3), nullable=True))
        batch_op.create_unique_constraint('uq_users_passport', ['nationality', 'passport_number'])

    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('audience', sa.String(length=16), server_default='citizen', nullable=False)
        )
        batch_op.add_column(sa.Column('attributes', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('user_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id_token', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')

    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('attributes')
        batch_op.drop_column('audience')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_passport', type_='unique')
        batch_op.drop_column('nationality')
        batch_op.drop_column('passport_number')
