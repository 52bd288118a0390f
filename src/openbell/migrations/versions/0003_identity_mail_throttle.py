"""identity mail throttle, pending users by age

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_mail_throttle",
        sa.Column(
            "recipient_hash",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the address",
        ),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("recipient_hash", name=op.f("pk_identity_mail_throttle")),
        comment="When each recipient was last sent a verification or recovery mail.",
    )
    with op.batch_alter_table("identity_mail_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_mail_throttle_sent_at"), ["sent_at"], unique=False
        )
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_users_status_created_at", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_users_status_created_at")
    with op.batch_alter_table("identity_mail_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_mail_throttle_sent_at"))
    op.drop_table("identity_mail_throttle")
