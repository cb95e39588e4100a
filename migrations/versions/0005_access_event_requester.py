"""access events: who asked for the document a record was read for (never naming another person)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('on_behalf_of', sa.String(length=300), nullable=True))


def downgrade():
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_column('on_behalf_of')
        batch_op.drop_column('requested_by')
