"""Identity's composition root: settings and a database in, wired services and verifier out.

The application root mounts the routers of `openbell.identity.entrypoints` and hands
`identity.verifier` to `create_app(token_verifier=...)`; it awaits `identity.start()` and
`identity.close()`, and passes an `AccountOpener` so verified traders get an account.
Each CLI command opens it with `open_identity` at the bottom. The database schema must exist
already (the migrations make it).
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.identity.adapters.crypto import (
    AesGcmKeyCipher,
    Ed25519KeyPairGenerator,
    Sealer,
    decode_key_encryption_key,
    load_or_create_key_encryption_key,
)
from openbell.identity.adapters.events import AuthEventCounter
from openbell.identity.adapters.hashing import Argon2SecretHasher, HmacSecretDigest
from openbell.identity.adapters.jwt import JoseTokenSigner, JwtAccessTokenVerifier
from openbell.identity.adapters.mail import MemoryMailer, OutboxMailer, SmtpRelay
from openbell.identity.adapters.memory import (
    InMemoryClientRepository,
    InMemoryGrantRepository,
    InMemoryMailThrottle,
    InMemoryMfaRepository,
    InMemoryOneTimeTokenRepository,
    InMemoryRevocationStore,
    InMemorySigningKeyRepository,
    InMemoryThrottleStore,
    InMemoryUserRepository,
)
from openbell.identity.adapters.passwords import common_passwords
from openbell.identity.adapters.redis import RedisRevocationStore, RedisThrottleStore
from openbell.identity.adapters.sql import SqlClientRepository, SqlSigningKeyRepository
from openbell.identity.adapters.sql_grants import SqlGrantRepository, SqlRevocationStore
from openbell.identity.adapters.sql_users import (
    SqlMailThrottle,
    SqlMfaRepository,
    SqlOneTimeTokenRepository,
    SqlUserRepository,
    highest_referenced_account,
)
from openbell.identity.adapters.totp import PyotpTotp
from openbell.identity.application.authorize import AuthorizationService
from openbell.identity.application.client_tokens import ClientTokenService
from openbell.identity.application.clients import ClientService
from openbell.identity.application.keys import KeyService
from openbell.identity.application.login import LoginService, Throttles
from openbell.identity.application.logout import LogoutService
from openbell.identity.application.mfa import MfaService
from openbell.identity.application.ports import (
    AccountOpener,
    ClientRepository,
    GrantRepository,
    Mailer,
    MailThrottle,
    MfaRepository,
    OneTimeTokenRepository,
    RevocationStore,
    SigningKeyRepository,
    ThrottleStore,
    UserRepository,
)
from openbell.identity.application.revocation import RevocationService
from openbell.identity.application.tokens import TokenPolicy, TokenService
from openbell.identity.application.users import AccountMailPolicy, UserService
from openbell.identity.domain.passwords import PasswordPolicy
from openbell.identity.domain.throttle import NANOSECONDS, ThrottlePolicy
from openbell.platform.db import create_engine
from openbell.platform.settings import Settings
from openbell.shared.time import Clock, SystemClock

__all__ = [
    "Identity",
    "build_identity",
    "build_in_memory_identity",
    "open_identity",
]

OUTBOX_DIRECTORY = "outbox"
KEY_SYNC_SECONDS = 10
logger = logging.getLogger("openbell.identity")


@dataclass(frozen=True, slots=True)
class Stores:
    clients: ClientRepository
    keys: SigningKeyRepository
    users: UserRepository
    one_time_tokens: OneTimeTokenRepository
    mfa: MfaRepository
    grants: GrantRepository
    revocations: RevocationStore
    throttle: ThrottleStore
    mailer: Mailer
    mail_throttle: MailThrottle


@dataclass(frozen=True, slots=True)
class Identity:
    """The identity context, wired: services for use cases, a verifier for every service."""

    settings: Settings
    clients: ClientService
    keys: KeyService
    tokens: TokenService
    verifier: JwtAccessTokenVerifier
    users: UserService
    login: LoginService
    mfa: MfaService
    authorization: AuthorizationService
    client_tokens: ClientTokenService
    logout: LogoutService
    revocations: RevocationService
    events: AuthEventCounter
    login_sealer: Sealer
    mailer: Mailer
    clock: Clock
    engine: AsyncEngine | None
    owns_engine: bool
    redis: Redis | None = None
    mail_relay: SmtpRelay | None = None
    background: list["asyncio.Task[None]"] = field(default_factory=list)

    async def start(self) -> None:
        """Load the signing key, prime the verifier and hashers, start revocation sync."""
        await self.keys.ensure_active_key()
        await self.verifier.start()
        await self.login.warm_up()
        await self.revocations.start()
        self.background.append(
            asyncio.create_task(self._sync_keys(), name="identity-signing-key-sync")
        )
        if self.mail_relay is not None:
            self.background.append(
                asyncio.create_task(self.mail_relay.run(), name="identity-mail-relay")
            )

    async def _sync_keys(self) -> None:
        # `openbell keys rotate` writes a new key from another process; pick it up.
        while True:
            await asyncio.sleep(KEY_SYNC_SECONDS)
            try:
                await self.keys.sync()
                self.verifier.use_keys(await self.keys.public_keys())
            except Exception:  # the database may blink; the current key still signs
                logger.exception("signing key sync failed; retrying")

    async def close(self) -> None:
        for task in self.background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.background.clear()
        await self.revocations.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.engine is not None and self.owns_engine:
            await self.engine.dispose()

    async def highest_account_reference(self) -> int:
        """The highest trading account id a stored user or API client refers to (0 if none).

        Identity in memory keeps nothing across a restart, so it refers to nothing old.
        """
        if self.engine is None:
            return 0
        return await highest_referenced_account(self.engine)

    async def ready(self) -> bool:
        """Ready when a signing key is loaded, the database answers and revocations are fresh."""
        if not self.keys.has_signing_key:
            return False
        if self.engine is not None:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        if self.redis is not None:
            await self.redis.ping()
        # Polled every fraction of a second: a long silence means the store is unreachable.
        return self.revocations.fresh(max(2.0, 8 * self.settings.revocation_poll_seconds))


def key_encryption_key(settings: Settings) -> bytes:
    """The configured KEK; in development without one, the generated one in `data_dir`."""
    if settings.key_encryption_key is not None:
        return decode_key_encryption_key(settings.key_encryption_key.get_secret_value())
    if settings.environment != "development":
        raise RuntimeError("OPENBELL_KEY_ENCRYPTION_KEY is required outside development")
    return load_or_create_key_encryption_key(settings.data_dir)


def _throttles(settings: Settings) -> Throttles:
    def policy(factor: int, window_seconds: int) -> ThrottlePolicy:
        return ThrottlePolicy(
            failure_factor=factor,
            wait_increment=settings.login_wait_increment_seconds * NANOSECONDS,
            max_wait=settings.login_max_wait_seconds * NANOSECONDS,
            window=window_seconds * NANOSECONDS,
        )

    return Throttles(
        policy(settings.login_failure_factor, settings.login_failure_reset_seconds),
        policy(settings.login_address_failure_factor, settings.login_address_window_seconds),
    )


def _mail_policy(settings: Settings) -> AccountMailPolicy:
    verification = settings.email_verification_ttl_seconds
    return AccountMailPolicy(
        verification_ttl_seconds=verification,
        pending_user_ttl_seconds=settings.pending_user_ttl_seconds or verification,
        recovery_ttl_seconds=settings.recovery_token_ttl_seconds,
        mail_interval_seconds=settings.account_mail_interval_seconds,
        min_response_seconds=settings.account_mail_response_seconds,
    )


def _wire(
    settings: Settings,
    stores: Stores,
    clock: Clock,
    kek: bytes,
    *,
    accounts: AccountOpener | None,
    engine: AsyncEngine | None,
    owns_engine: bool,
    redis: Redis | None,
) -> Identity:
    hasher = Argon2SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=settings.secret_hash_concurrency,
        queue_limit=settings.secret_hash_queue_limit,
    )
    cipher = AesGcmKeyCipher(kek)
    revocations = RevocationService(
        stores.revocations,
        clock,
        retention_seconds=settings.access_token_ttl_seconds,
        leeway_seconds=settings.token_leeway_seconds,
        poll_interval_seconds=settings.revocation_poll_seconds,
    )
    clients = ClientService(
        stores.clients,
        hasher,
        clock,
        digest=HmacSecretDigest(kek),
        revocations=revocations,
        secret_overlap_seconds=settings.client_secret_overlap_seconds,
    )
    keys = KeyService(
        stores.keys,
        Ed25519KeyPairGenerator(),
        cipher,
        clock,
        overlap_seconds=settings.signing_key_overlap_seconds,
    )
    policy = TokenPolicy(
        settings.issuer,
        settings.audience,
        settings.access_token_ttl_seconds,
        code_ttl_seconds=settings.authorization_code_ttl_seconds,
        refresh_idle_seconds=settings.refresh_token_idle_seconds,
        refresh_absolute_seconds=settings.refresh_token_absolute_seconds,
        step_up_max_age_seconds=settings.step_up_max_age_seconds,
        refresh_reuse_grace_seconds=settings.refresh_token_reuse_grace_seconds,
    )
    tokens = TokenService(
        clients,
        keys,
        JoseTokenSigner(),
        clock,
        policy,
        users=stores.users,
        grants=stores.grants,
        revocations=revocations,
    )
    verifier = JwtAccessTokenVerifier(
        keys,
        issuer=settings.issuer,
        audience=settings.audience,
        clock=clock,
        leeway_seconds=settings.token_leeway_seconds,
        cache_size=settings.token_cache_size,
        revocations=revocations,
    )
    mfa = MfaService(stores.mfa, PyotpTotp(), cipher, clock, issuer_name=settings.totp_issuer_name)
    events = AuthEventCounter()
    password_policy = PasswordPolicy(
        settings.password_min_length, settings.password_max_length, common_passwords()
    )
    users = UserService(
        stores.users,
        stores.one_time_tokens,
        stores.grants,
        clients,
        hasher,
        password_policy,
        stores.mailer,
        stores.mail_throttle,
        revocations,
        clock,
        mail_policy=_mail_policy(settings),
        accounts=accounts,
    )
    login = LoginService(
        stores.users, hasher, mfa, stores.throttle, events, clock, _throttles(settings)
    )
    return Identity(
        settings=settings,
        clients=clients,
        keys=keys,
        tokens=tokens,
        verifier=verifier,
        users=users,
        login=login,
        mfa=mfa,
        authorization=AuthorizationService(clients, tokens),
        client_tokens=ClientTokenService(clients, tokens, verifier, revocations),
        logout=LogoutService(clients, verifier, stores.grants, revocations, clock),
        revocations=revocations,
        events=events,
        login_sealer=Sealer(kek, b"login"),
        mailer=stores.mailer,
        clock=clock,
        engine=engine,
        owns_engine=owns_engine,
        redis=redis,
    )


def build_identity(
    settings: Settings,
    database: str | AsyncEngine | None = None,
    *,
    clock: Clock | None = None,
    accounts: AccountOpener | None = None,
) -> Identity:
    """Identity on SQL storage: a URL (its engine is owned and closed), or a shared engine.

    Without `database`, `settings.resolved_database_url` is used. With `settings.redis_url`,
    revocations and lockouts live in Redis; otherwise revocations go through the database
    and lockouts stay in this process.
    """
    if isinstance(database, AsyncEngine):
        engine, owns = database, False
    else:
        engine, owns = create_engine(database or settings.resolved_database_url), True
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    outbox = Path(settings.data_dir) / OUTBOX_DIRECTORY
    stores = Stores(
        clients=SqlClientRepository(engine),
        keys=SqlSigningKeyRepository(engine),
        users=SqlUserRepository(engine),
        one_time_tokens=SqlOneTimeTokenRepository(engine),
        mfa=SqlMfaRepository(engine),
        grants=SqlGrantRepository(engine),
        revocations=RedisRevocationStore(redis) if redis else SqlRevocationStore(engine),
        throttle=RedisThrottleStore(redis) if redis else InMemoryThrottleStore(),
        mailer=OutboxMailer(outbox, sender=settings.mail_sender),
        mail_throttle=SqlMailThrottle(engine),
    )
    identity = _wire(
        settings,
        stores,
        clock or SystemClock(),
        key_encryption_key(settings),
        accounts=accounts,
        engine=engine,
        owns_engine=owns,
        redis=redis,
    )
    if settings.smtp_url is None:
        return identity
    relay = SmtpRelay(
        outbox,
        settings.smtp_url.get_secret_value(),
        require_tls=settings.smtp_require_tls,
        interval_seconds=settings.mail_relay_interval_seconds,
    )
    return dataclasses.replace(identity, mail_relay=relay)


def build_in_memory_identity(
    settings: Settings,
    *,
    clock: Clock | None = None,
    kek: bytes | None = None,
    accounts: AccountOpener | None = None,
) -> Identity:
    """Identity that keeps everything in memory: for tests of other contexts and demos.

    Mail goes to `identity.mailer.sent` (a MemoryMailer).
    """
    stores = Stores(
        clients=InMemoryClientRepository(),
        keys=InMemorySigningKeyRepository(),
        users=InMemoryUserRepository(),
        one_time_tokens=InMemoryOneTimeTokenRepository(),
        mfa=InMemoryMfaRepository(),
        grants=InMemoryGrantRepository(),
        revocations=InMemoryRevocationStore(),
        throttle=InMemoryThrottleStore(),
        mailer=MemoryMailer(),
        mail_throttle=InMemoryMailThrottle(),
    )
    return _wire(
        settings,
        stores,
        clock or SystemClock(),
        kek if kek is not None else key_encryption_key(settings),
        accounts=accounts,
        engine=None,
        owns_engine=False,
        redis=None,
    )


# -- for the CLI: one command, one short-lived identity on the database -----------------


@contextlib.asynccontextmanager
async def open_identity(
    settings: Settings, database: str | AsyncEngine | None = None
) -> AsyncIterator[Identity]:
    """Identity on the database for one command (settings -> engine -> Identity), closed
    after, however the command ends. The schema must exist (`runner.prepare` makes it)."""
    identity = build_identity(settings, database)
    try:
        yield identity
    finally:
        await identity.close()
