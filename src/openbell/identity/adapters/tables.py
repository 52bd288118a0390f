"""Identity's tables on the shared metadata: migrations create them, adapters never do."""

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table

from openbell.platform.db import metadata

api_clients = Table(
    "identity_api_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("scopes", String(255), nullable=False, comment="space-separated"),
    Column("account_id", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False, comment="ns since the Unix epoch"),
    Column("revoked_at", BigInteger, nullable=True),
)

signing_keys = Table(
    "identity_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column(
        "encrypted_private_key",
        LargeBinary,
        nullable=False,
        comment="AES-256-GCM under the key-encryption key, bound to kid",
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
)
