"""checks of a document counted in Redis and folded into the access log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("times", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "check_folds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_folds")),
    )


def downgrade():
    # A folded row (several checks of a day) becomes one check: the count is not kept.
    op.drop_table("check_folds")
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_column("times")
