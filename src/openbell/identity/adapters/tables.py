"""Identity's tables on the shared metadata: migrations create them, adapters never do."""

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from openbell.platform.db import metadata

api_clients = Table(
    "identity_api_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("scopes", String(255), nullable=False, comment="space-separated"),
    Column("account_id", BigInteger, nullable=True, index=True),
    Column("created_at", BigInteger, nullable=False, comment="ns since the Unix epoch"),
    Column("revoked_at", BigInteger, nullable=True),
    Column(
        "grant_types",
        String(100),
        nullable=False,
        server_default="client_credentials",
        comment="space-separated",
    ),
    Column("redirect_uris", Text, nullable=False, server_default="", comment="one per line"),
    Column("owner_user_id", String(40), nullable=True, index=True),
    Column("previous_secret_hash", String(255), nullable=True),
    Column("previous_secret_expires_at", BigInteger, nullable=True),
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

users = Table(
    "identity_users",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("email", String(254), nullable=False, unique=True, comment="PII, normalised"),
    Column("name", String(200), nullable=False, comment="PII"),
    Column("password_hash", String(255), nullable=False),
    Column("roles", String(100), nullable=False, comment="space-separated"),
    Column("status", String(16), nullable=False),
    Column("account_id", BigInteger, nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("email_verified_at", BigInteger, nullable=True),
    Column("password_changed_at", BigInteger, nullable=True),
    Column("disabled_at", BigInteger, nullable=True),
    Index("ix_identity_users_status_created_at", "status", "created_at"),
    comment="The only table holding users' PII (email, name).",
)

one_time_tokens = Table(
    "identity_one_time_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True, comment="SHA-256 of the token"),
    Column("user_id", String(40), nullable=False, index=True),
    Column("purpose", String(32), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)

mail_throttle = Table(
    "identity_mail_throttle",
    metadata,
    Column("recipient_hash", String(64), primary_key=True, comment="SHA-256 of the address"),
    Column("sent_at", BigInteger, nullable=False, index=True),
    comment="When each recipient was last sent a verification or recovery mail.",
)

totp_enrolments = Table(
    "identity_totp",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column(
        "encrypted_secret",
        LargeBinary,
        nullable=False,
        comment="AES-256-GCM under the key-encryption key, bound to the user",
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger, nullable=True),
    Column("last_used_step", BigInteger, nullable=True),
)

recovery_codes = Table(
    "identity_recovery_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True, comment="SHA-256 of a 120-bit code"),
    Column("user_id", String(40), nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),
)

authorization_codes = Table(
    "identity_authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True, comment="SHA-256 of the code"),
    Column("grant_id", String(40), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("redirect_uri", String(2000), nullable=False),
    Column("scopes", String(255), nullable=False),
    Column("code_challenge", String(43), nullable=False),
    Column("nonce", String(256), nullable=True),
    Column("acr", String(64), nullable=False),
    Column("amr", String(64), nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),
)

grants = Table(
    "identity_grants",
    metadata,
    Column("grant_id", String(40), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("user_id", String(40), nullable=False, index=True),
    Column("scopes", String(255), nullable=False),
    Column("acr", String(64), nullable=False),
    Column("amr", String(64), nullable=False),
    Column("auth_time", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    comment="One sign-in's refresh token family.",
)

refresh_tokens = Table(
    "identity_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True, comment="SHA-256 of the token"),
    Column("grant_id", String(40), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)

revocations = Table(
    "identity_revocations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False),
    Column("revoked_at", BigInteger, nullable=False, comment="ns since the Unix epoch"),
    Column("expires_at", BigInteger, nullable=False, comment="ns since the Unix epoch"),
    Index("ix_identity_revocations_expires_at", "expires_at"),
    comment="Revoked tokens, grants, users and clients; processes poll it by seq.",
)
