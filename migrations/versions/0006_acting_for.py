"""acting for a company: mandates and acting-for on the session, company subjects on requests and certificates

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mandates", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("mandates_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("mandates_unavailable", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("acting_for", sa.String(length=13), nullable=True))

    with op.batch_alter_table("document_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_kind", sa.String(length=16), server_default="person", nullable=False)
        )
        batch_op.add_column(sa.Column("subject_id", sa.String(length=13), nullable=True))
        batch_op.add_column(sa.Column("acting_for_name_th", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("acting_for_name_en", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("mandate", sa.JSON(), nullable=True))
    op.execute("UPDATE document_requests SET subject_id = subject_pid")
    with op.batch_alter_table("document_requests", schema=None) as batch_op:
        batch_op.alter_column("subject_id", existing_type=sa.String(length=13), nullable=False)
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=True)
        batch_op.create_index(batch_op.f("ix_document_requests_subject_id"), ["subject_id"], unique=False)

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("holder_kind", sa.String(length=16), server_default="person", nullable=False)
        )
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=True)


def downgrade():
    # Company documents have no person to fall back on: their rows cannot go back to a schema
    # where every request and certificate names a person.
    op.execute("DELETE FROM certificates WHERE subject_pid IS NULL")
    op.execute(
        "DELETE FROM access_events WHERE request_id IN "
        "(SELECT id FROM document_requests WHERE subject_pid IS NULL)"
    )
    op.execute("DELETE FROM document_requests WHERE subject_pid IS NULL")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=False)
        batch_op.drop_column("holder_kind")

    with op.batch_alter_table("document_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_requests_subject_id"))
        batch_op.alter_column("subject_pid", existing_type=sa.String(length=13), nullable=False)
        batch_op.drop_column("mandate")
        batch_op.drop_column("acting_for_name_en")
        batch_op.drop_column("acting_for_name_th")
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_kind")

    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("acting_for")
        batch_op.drop_column("mandates_unavailable")
        batch_op.drop_column("mandates_checked_at")
        batch_op.drop_column("mandates")
