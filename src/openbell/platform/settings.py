"""One typed settings object, read from OPENBELL_* environment variables and validated at start."""

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "placeholder"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENBELL_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    """SQLAlchemy-style URL; defaults to SQLite in `data_dir`."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "openbell"
    access_token_ttl_seconds: int = Field(default=600, ge=30, le=900)
    key_encryption_key: SecretStr | None = None
    """Base64 of 32 bytes that encrypt signing keys at rest; made in `data_dir` in development."""

    max_batch: int = Field(default=4096, ge=1)
    snapshot_every_commands: int = Field(default=100_000, ge=1)
    snapshot_interval_seconds: float = Field(default=300.0, gt=0)
    snapshots_kept: int = Field(default=3, ge=1)
    integrity_check_interval_seconds: float = Field(default=300.0, gt=0)
    """How often the running core re-checks its journal (quick_check, continuity, the
    acknowledged mark); /readyz answers not ready while a check fails."""
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_request_head_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    """The request line and headers together; more is refused with 431 before parsing."""
    max_request_headers: int = Field(default=100, ge=8, le=1000)
    request_head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """From accept (or a keep-alive request's first byte) to the end of the headers; then 408."""
    keep_alive_timeout_seconds: int = Field(default=5, ge=1, le=300)
    """An idle keep-alive connection is closed after this long."""
    max_connections: int = Field(default=4096, ge=1)
    """Open connections per server process; more are answered 503 and closed."""
    max_connections_per_client: int = Field(default=256, ge=1)
    """Open connections per client address; behind a proxy, raise it (all share its address)."""

    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    """Comma-separated CIDRs of reverse proxies whose Forwarded / X-Forwarded-For is believed;
    empty, the socket peer is the client (see `platform/web/client_ip.py`)."""

    api_docs_enabled: bool = True
    """Serve the OpenAPI document at /openapi.json and Swagger UI at /docs."""
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

    argon2_time_cost: int = Field(default=2, ge=1, le=20)
    argon2_memory_cost_kib: int = Field(default=19_456, ge=64, le=4_194_304)
    argon2_parallelism: int = Field(default=1, ge=1, le=64)
    """Argon2id parameters for client secrets (and later passwords): OWASP's recommendation.

    RFC 9106's 64 MiB x 3 passes x 4 lanes costs ~5x more CPU per login and gains nothing
    for 256-bit random client secrets; raise it for passwords if logins are rare.
    """
    secret_hash_concurrency: int = Field(default=4, ge=1, le=256)
    """How many argon2 hashes may run at once: each holds `argon2_memory_cost_kib` of memory."""
    secret_hash_queue_limit: int = Field(default=64, ge=1, le=100_000)
    """How many argon2 hashes may run or wait at once; beyond that, sign-ins and anything
    else needing one answer 503 + Retry-After at once instead of queueing for seconds."""
    token_leeway_seconds: int = Field(default=10, ge=0, le=60)
    """Clock skew tolerated when checking a token's exp, nbf and iat."""
    token_cache_size: int = Field(default=10_000, ge=0)
    """Verified access tokens remembered so a repeated token skips signature checks; 0 disables."""
    signing_key_overlap_seconds: int = Field(default=3_600, ge=900)
    """How long a retired signing key stays in the JWKS, so tokens it signed still verify."""

    redis_url: str | None = None
    """redis://... shared by every process: revocations and login lockouts. Without it,
    revocations travel through the database and lockouts stay per process."""
    password_min_length: int = Field(default=12, ge=8, le=64)
    password_max_length: int = Field(default=128, ge=64, le=1024)
    authorization_code_ttl_seconds: int = Field(default=60, ge=5, le=60)
    refresh_token_idle_seconds: int = Field(default=900, ge=60, le=86_400)
    """A refresh token unused this long dies (ASVS L3: 15 minutes of inactivity)."""
    refresh_token_absolute_seconds: int = Field(default=43_200, ge=300, le=2_592_000)
    """No refresh token family outlives its sign-in by more than this (ASVS L3: 12 hours)."""
    refresh_token_reuse_grace_seconds: int = Field(default=5, ge=0, le=60)
    """The same client replaying a refresh token this soon (a lost answer) gets fresh tokens
    instead of having the whole family revoked; later, or by another client, it is revoked."""
    step_up_max_age_seconds: int = Field(default=300, ge=30, le=3_600)
    """How recent a second factor must be for sensitive actions and the withdraw scope."""
    client_secret_overlap_seconds: int = Field(default=86_400, ge=0, le=2_592_000)
    """After a client secret rotation the previous secret keeps working this long."""
    email_verification_ttl_seconds: int = Field(default=86_400, ge=300, le=604_800)
    pending_user_ttl_seconds: int | None = Field(default=None, ge=300, le=604_800)
    """An unverified registration lapses after this and frees its address; unset, it lives
    as long as its verification token (`email_verification_ttl_seconds`)."""
    recovery_token_ttl_seconds: int = Field(default=3_600, ge=300, le=86_400)
    """How long a mailed account recovery (password reset) token works."""
    account_mail_interval_seconds: int = Field(default=60, ge=0, le=86_400)
    """At most one verification or recovery mail per recipient within this many seconds;
    requests within it answer as usual and send nothing."""
    account_mail_response_seconds: float = Field(default=0.25, ge=0, le=5)
    """Registration and recovery answer no sooner than this whichever path they took, so
    their timing does not tell whether an address has an account."""
    mail_sender: str = "openbell <no-reply@openbell.invalid>"
    smtp_url: SecretStr | None = None
    """smtp://[user:password@]host[:port] (STARTTLS) or smtps://...; unset, mail stays in the
    outbox directory for another agent to deliver."""
    smtp_require_tls: bool = True
    """Refuse to send over smtp:// without STARTTLS; turn off only for a relay on the same host."""
    mail_relay_interval_seconds: float = Field(default=5.0, gt=0, le=3_600)
    revocation_poll_seconds: float = Field(default=0.25, gt=0, le=1.0)
    """How often each process fetches revocations made elsewhere (so all refuse within 1 s)."""
    login_failure_factor: int = Field(default=30, ge=1)
    login_wait_increment_seconds: int = Field(default=60, ge=1)
    login_max_wait_seconds: int = Field(default=900, ge=1)
    login_failure_reset_seconds: int = Field(default=43_200, ge=60)
    """Keycloak's brute-force defaults: failures per account (and per account at one address)
    counted over this window; the factor-th locks for the increment, more for longer."""
    login_address_failure_factor: int = Field(default=100, ge=1)
    login_address_window_seconds: int = Field(default=900, ge=60)
    """Failures from one address (any accounts) counted over this window."""
    totp_issuer_name: str = Field(default="openbell", min_length=1, max_length=64)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        # A typo here would silently trust nobody (or everybody): refuse it at start.
        if isinstance(value, str):
            return tuple(ip_network(cidr.strip()) for cidr in value.split(",") if cidr.strip())
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'openbell.db').resolve()}"

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> "Settings":
        if self.environment == "production":
            key = self.key_encryption_key
            if key is None or key.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("production needs a real OPENBELL_KEY_ENCRYPTION_KEY")
            if not self.database_url:
                raise ValueError("production needs OPENBELL_DATABASE_URL")
        return self

    @model_validator(mode="after")
    def _refuse_weak_hashing_in_production(self) -> "Settings":
        # OWASP's floor for argon2id: 19 MiB of memory with two passes; tests run below it.
        if self.environment == "production" and (
            self.argon2_memory_cost_kib < 19_456 or self.argon2_time_cost < 2
        ):
            raise ValueError("production needs argon2 memory >= 19456 KiB and time cost >= 2")
        if self.argon2_memory_cost_kib < 8 * self.argon2_parallelism:
            raise ValueError("argon2 memory must be at least 8 KiB per lane of parallelism")
        return self
