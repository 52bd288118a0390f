"""The core's tables: the command journal and state snapshots.

Importing this module registers them on the shared metadata; the adapters
never create tables themselves (`openbell.platform.db.prepare_database` does).
"""

from sqlalchemy import BigInteger, CheckConstraint, Column, Integer, LargeBinary, String, Table

from openbell.platform.db import metadata

core_journal = Table(
    "core_journal",
    metadata,
    # One row per appended batch: one insert per group commit, whatever the batch size.
    Column("first_sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("last_sequence", BigInteger, nullable=False),
    Column("entry_count", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("checksum", BigInteger, nullable=False, comment="CRC-32 of payload"),
    CheckConstraint("first_sequence >= 1", name="first_sequence_positive"),
    CheckConstraint("entry_count >= 1", name="entry_count_positive"),
    CheckConstraint(
        "entry_count = last_sequence - first_sequence + 1",
        name="entry_count_matches_range",
    ),
    comment="Accepted commands, msgpack-encoded by openbell.core.adapters.codec.",
)

core_snapshots = Table(
    "core_snapshots",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("state_hash", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False, comment="nanoseconds since the Unix epoch"),
    Column("payload", LargeBinary, nullable=False),
    comment="The core's state as of a sequence, msgpack-encoded.",
)
