"""access events about people without a Thai national ID, kept by passport

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 15:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_passport", sa.String(length=24), nullable=True))
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=True)
        batch_op.create_index(batch_op.f("ix_access_events_subject_passport"), ["subject_passport"], unique=False)


def downgrade():
    op.execute("DELETE FROM access_events WHERE subject_pid IS NULL")
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_events_subject_passport"))
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=False)
        batch_op.drop_column("subject_passport")
