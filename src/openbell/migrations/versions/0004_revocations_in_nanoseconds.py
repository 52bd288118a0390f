"""revocation instants in nanoseconds, clients by account

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:40:00.000000

Revocations were stored in whole seconds; they are now compared in nanoseconds. Rows
written before are converted here, or a revocation made just before the upgrade would
read as one made in 1970 and its tokens would be accepted again until they expire.
Disabling a user revokes every client acting for their account, so clients are looked
up by account.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NANOSECONDS = 1_000_000_000
SECONDS_BEFORE = 100_000_000_000
"""Any instant below this is in seconds (year 5138); one in nanoseconds is above 10^18."""


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE identity_revocations SET revoked_at = revoked_at * :ns, "
            "expires_at = expires_at * :ns WHERE expires_at < :before"
        ).bindparams(ns=NANOSECONDS, before=SECONDS_BEFORE)
    )
    with op.batch_alter_table("identity_revocations", schema=None) as batch_op:
        for column in ("revoked_at", "expires_at"):
            batch_op.alter_column(
                column,
                existing_type=sa.BigInteger(),
                existing_nullable=False,
                comment="ns since the Unix epoch",
                existing_comment="seconds since the Unix epoch",
            )
    with op.batch_alter_table("identity_api_clients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_api_clients_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_api_clients_account_id"))
    with op.batch_alter_table("identity_revocations", schema=None) as batch_op:
        for column in ("revoked_at", "expires_at"):
            batch_op.alter_column(
                column,
                existing_type=sa.BigInteger(),
                existing_nullable=False,
                comment="seconds since the Unix epoch",
                existing_comment="ns since the Unix epoch",
            )
    op.execute(
        sa.text(
            "UPDATE identity_revocations SET revoked_at = revoked_at / :ns, "
            "expires_at = expires_at / :ns WHERE expires_at >= :before"
        ).bindparams(ns=NANOSECONDS, before=SECONDS_BEFORE)
    )
