"""Identity's composition root: settings and a database in, wired services and verifier out.

The application root mounts `openbell.identity.entrypoints.http.create_router(identity)`
and hands `identity.verifier` to `create_app(token_verifier=...)`; its lifespan awaits
`identity.start()` and `identity.close()`. The CLI calls the `*_api_client` functions.
The database schema must exist already: import `openbell.identity.adapters.tables`
before `openbell.platform.db.prepare_database` (or run the migrations).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.identity.adapters.crypto import (
    AesGcmKeyCipher,
    Ed25519KeyPairGenerator,
    decode_key_encryption_key,
    load_or_create_key_encryption_key,
)
from openbell.identity.adapters.hashing import Argon2SecretHasher
from openbell.identity.adapters.jwt import JoseTokenSigner, JwtAccessTokenVerifier
from openbell.identity.adapters.memory import (
    InMemoryClientRepository,
    InMemorySigningKeyRepository,
)
from openbell.identity.adapters.sql import SqlClientRepository, SqlSigningKeyRepository
from openbell.identity.application.clients import ClientService, IssuedClient
from openbell.identity.application.keys import KeyService
from openbell.identity.application.ports import ClientRepository, SigningKeyRepository
from openbell.identity.application.tokens import TokenPolicy, TokenService
from openbell.identity.domain.clients import ApiClient
from openbell.platform.db import create_engine
from openbell.platform.settings import Settings
from openbell.shared.time import Clock, SystemClock

__all__ = [
    "Identity",
    "build_identity",
    "build_in_memory_identity",
    "create_api_client",
    "list_api_clients",
    "revoke_api_client",
]


@dataclass(frozen=True, slots=True)
class Identity:
    """The identity context, wired: services for use cases, a verifier for every service."""

    clients: ClientService
    keys: KeyService
    tokens: TokenService
    verifier: JwtAccessTokenVerifier
    engine: AsyncEngine | None
    owns_engine: bool

    async def start(self) -> None:
        """Make sure a signing key exists and is loaded; prime the verifier and the hasher."""
        await self.keys.ensure_active_key()
        await self.verifier.start()
        await self.clients.warm_up()

    async def close(self) -> None:
        if self.engine is not None and self.owns_engine:
            await self.engine.dispose()

    async def ready(self) -> bool:
        """Ready when a signing key is loaded and the database answers."""
        if not self.keys.has_signing_key:
            return False
        if self.engine is not None:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return True


def key_encryption_key(settings: Settings) -> bytes:
    """The configured KEK; in development without one, the generated one in `data_dir`."""
    if settings.key_encryption_key is not None:
        return decode_key_encryption_key(settings.key_encryption_key.get_secret_value())
    if settings.environment != "development":
        raise RuntimeError("OPENBELL_KEY_ENCRYPTION_KEY is required outside development")
    return load_or_create_key_encryption_key(settings.data_dir)


def _wire(
    settings: Settings,
    clients: ClientRepository,
    keys: SigningKeyRepository,
    clock: Clock,
    kek: bytes,
) -> tuple[ClientService, KeyService, TokenService, JwtAccessTokenVerifier]:
    hasher = Argon2SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=settings.secret_hash_concurrency,
    )
    client_service = ClientService(clients, hasher, clock)
    key_service = KeyService(
        keys,
        Ed25519KeyPairGenerator(),
        AesGcmKeyCipher(kek),
        clock,
        overlap_seconds=settings.signing_key_overlap_seconds,
    )
    policy = TokenPolicy(settings.issuer, settings.audience, settings.access_token_ttl_seconds)
    tokens = TokenService(client_service, key_service, JoseTokenSigner(), clock, policy)
    verifier = JwtAccessTokenVerifier(
        key_service,
        issuer=settings.issuer,
        audience=settings.audience,
        clock=clock,
        leeway_seconds=settings.token_leeway_seconds,
        cache_size=settings.token_cache_size,
    )
    return client_service, key_service, tokens, verifier


def build_identity(
    settings: Settings,
    database: str | AsyncEngine | None = None,
    *,
    clock: Clock | None = None,
) -> Identity:
    """Identity on SQL storage: a URL (its engine is owned and closed), or a shared engine.

    Without `database`, `settings.resolved_database_url` is used.
    """
    if isinstance(database, AsyncEngine):
        engine, owns = database, False
    else:
        engine, owns = create_engine(database or settings.resolved_database_url), True
    parts = _wire(
        settings,
        SqlClientRepository(engine),
        SqlSigningKeyRepository(engine),
        clock or SystemClock(),
        key_encryption_key(settings),
    )
    return Identity(*parts, engine=engine, owns_engine=owns)


def build_in_memory_identity(
    settings: Settings, *, clock: Clock | None = None, kek: bytes | None = None
) -> Identity:
    """Identity that keeps everything in memory: for tests of other contexts and demos."""
    parts = _wire(
        settings,
        InMemoryClientRepository(),
        InMemorySigningKeyRepository(),
        clock or SystemClock(),
        kek if kek is not None else key_encryption_key(settings),
    )
    return Identity(*parts, engine=None, owns_engine=False)


async def create_api_client(
    settings: Settings,
    *,
    name: str,
    scopes: Iterable[str],
    account_id: int | None = None,
    database: str | AsyncEngine | None = None,
) -> IssuedClient:
    """Register an API client; print `client_secret` once, it is not stored in the clear."""
    identity = build_identity(settings, database)
    try:
        return await identity.clients.create_client(name=name, scopes=scopes, account_id=account_id)
    finally:
        await identity.close()


async def revoke_api_client(
    settings: Settings, client_id: str, *, database: str | AsyncEngine | None = None
) -> ApiClient:
    """Revoke a client: it can get no new token. Raises NotFoundError for an unknown id.

    Tokens it already holds stay valid until they expire (at most the access token TTL).
    """
    identity = build_identity(settings, database)
    try:
        return await identity.clients.revoke_client(client_id)
    finally:
        await identity.close()


async def list_api_clients(
    settings: Settings, *, database: str | AsyncEngine | None = None
) -> Sequence[ApiClient]:
    identity = build_identity(settings, database)
    try:
        return await identity.clients.list_clients()
    finally:
        await identity.close()
