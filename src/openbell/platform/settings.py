"""One typed settings object, read from OPENBELL_* environment variables and validated at start."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    """Base64 of 32 bytes that encrypt signing keys at rest; generated into `data_dir` in development."""

    max_batch: int = Field(default=4096, ge=1)
    snapshot_every_commands: int = Field(default=100_000, ge=1)
    snapshot_interval_seconds: float = Field(default=300.0, gt=0)
    snapshots_kept: int = Field(default=3, ge=1)
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

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
