"""`openbell bench auth`: what a login surge costs, and what token verification costs.

Everything runs in this process against the identity context as the server wires it
(in-memory storage, so only the identity code itself is measured), with the argon2
parameters of the settings (the production defaults unless overridden):

1. argon2: the wall time of one hash at those parameters, serially (the CPU price of
   one password or client-secret check), and hashes per second with
   `secret_hash_concurrency` running at once (the ceiling of a login surge).
2. Login surge: `workers` concurrent password sign-ins by `users` users for `seconds`;
   sign-ins per second and latency percentiles (queueing on the argon2 slots included).
3. Client credentials: `workers` concurrent token requests (argon2 + signing).
4. Refresh: `workers` concurrent refresh-token grants (rotation, no argon2: signing and
   storage), the console's steady state.
5. Verification of access tokens: first sight of a token (signature and claims checked,
   then cached) and a repeated token (cache hit plus the revocation check), per second
   and in microseconds, on one core. The second is what every /v1 request pays.
"""

import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import Identity, build_in_memory_identity
from openbell.identity.domain.users import Role
from openbell.platform.settings import Settings

_PASSWORD = "bench passphrase that is long enough"  # a fixture, not a secret  # noqa: S105  # nosec B105
_REDIRECT = "http://127.0.0.1:9/callback"


def run_auth_bench(
    *,
    seconds: float = 3.0,
    workers: int = 64,
    users: int = 20,
    verify_tokens: int = 5_000,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Run every phase and return a JSON-able report (see the module docstring)."""
    if seconds <= 0 or workers < 1 or users < 1 or verify_tokens < 1:
        raise ValueError("seconds, workers, users and verify_tokens must be positive")
    with tempfile.TemporaryDirectory(prefix="openbell-bench-auth-") as scratch:
        base = settings or Settings()
        # A cache big enough that the first-sight phase never evicts what it just verified.
        cache: dict[str, Any] = {"token_cache_size": 1 << 20}
        chosen = base.model_copy(update={"data_dir": Path(scratch), **cache})
        return asyncio.run(_run(chosen, seconds, workers, users, verify_tokens))


async def _run(
    settings: Settings, seconds: float, workers: int, users: int, verify_tokens: int
) -> dict[str, Any]:
    identity = build_in_memory_identity(settings, kek=os.urandom(32))
    await identity.start()
    try:
        emails = [f"bench{number}@example.com" for number in range(users)]
        for email in emails:
            await identity.users.create_user(email=email, password=_PASSWORD, roles=[Role.TRADER])
        report: dict[str, Any] = {
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(terse=True),
            },
            "parameters": {
                "argon2_time_cost": settings.argon2_time_cost,
                "argon2_memory_cost_kib": settings.argon2_memory_cost_kib,
                "argon2_parallelism": settings.argon2_parallelism,
                "secret_hash_concurrency": settings.secret_hash_concurrency,
                "workers": workers,
                "seconds": seconds,
                "users": users,
            },
        }
        report["argon2"] = await _argon2(identity, settings.secret_hash_concurrency)
        report["login_surge"] = await _login_surge(identity, emails, seconds, workers)
        report["client_credentials"] = await _client_credentials(identity, seconds, workers)
        report["refresh"] = await _refresh(identity, emails[0], seconds, workers)
        report["verification"] = await _verification(identity, verify_tokens)
        per_login = report["argon2"]["hash_ms"]
        per_verify = report["verification"]["cached_us"]
        report["summary"] = {
            "logins_per_second": report["login_surge"]["per_second"],
            "argon2_ms_per_login": per_login,
            "client_credentials_tokens_per_second": report["client_credentials"]["per_second"],
            "refresh_tokens_per_second": report["refresh"]["per_second"],
            "verifications_per_second_first_sight": report["verification"]["uncached_per_second"],
            "verifications_per_second_repeat": report["verification"]["cached_per_second"],
            "verify_us_per_request": per_verify,
        }
        return report
    finally:
        await identity.close()


def _hasher(identity: Identity) -> Any:  # noqa: ANN401  # the wired Argon2SecretHasher
    return identity.login._hasher


async def _argon2(identity: Identity, concurrency: int) -> dict[str, Any]:
    hasher = _hasher(identity)
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        await hasher.hash(_PASSWORD)
        samples.append(time.perf_counter() - started)
    count = max(4 * concurrency, 16)
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(_PASSWORD) for _ in range(count)))
    elapsed = time.perf_counter() - started
    return {
        "hash_ms": round(statistics.median(samples) * 1000, 2),
        "parallel_hashes_per_second": round(count / elapsed, 1),
        "concurrency": concurrency,
    }


async def _closed_loop(
    operation: Callable[[int], Awaitable[None]], seconds: float, workers: int
) -> dict[str, Any]:
    """`workers` loops calling `operation` back to back for `seconds`; rate and latency."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        nonlocal errors
        iteration = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await operation(number * 1_000_003 + iteration)
            except Exception:  # noqa: BLE001  # counted and reported, never hidden
                errors += 1
            latencies.append(time.perf_counter() - started)
            iteration += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(number) for number in range(workers)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def percentile(fraction: float) -> float:
        if not ordered:
            return 0.0
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {
        "operations": len(latencies),
        "errors": errors,
        "per_second": round((len(latencies) - errors) / elapsed, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


async def _login_surge(
    identity: Identity, emails: list[str], seconds: float, workers: int
) -> dict[str, Any]:
    async def sign_in(number: int) -> None:
        # Each worker is its own address, as in a surge of real users.
        address = f"10.{number % 250}.{(number // 250) % 250}.1"
        await identity.login.check_password(
            emails[number % len(emails)], _PASSWORD, address=address
        )

    return await _closed_loop(sign_in, seconds, workers)


async def _client_credentials(identity: Identity, seconds: float, workers: int) -> dict[str, Any]:
    issued = await identity.clients.create_client(name="bench", scopes=["read"])

    async def grant(_: int) -> None:
        await identity.tokens.grant(
            TokenRequest("client_credentials", issued.client_id, issued.client_secret)
        )

    return await _closed_loop(grant, seconds, workers)


async def _refresh(identity: Identity, email: str, seconds: float, workers: int) -> dict[str, Any]:
    console = await identity.clients.create_client(
        name="bench console",
        scopes=["openid", "read", "trade"],
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[_REDIRECT],
        public=True,
    )
    user = await identity.login.check_password(email, _PASSWORD, address=None)
    tokens: dict[int, str] = {}
    for number in range(workers):
        tokens[number] = await _first_refresh_token(identity, console.client_id, user)

    async def refresh(number: int) -> None:
        worker = number // 1_000_003
        result = await identity.tokens.grant_tokens(
            TokenRequest("refresh_token", console.client_id, None, refresh_token=tokens[worker])
        )
        if result.refresh_token is None:
            raise RuntimeError("a refresh grant returned no refresh token")
        tokens[worker] = result.refresh_token

    return await _closed_loop(refresh, seconds, workers)


async def _first_refresh_token(identity: Identity, client_id: str, user: Any) -> str:  # noqa: ANN401
    from openbell.identity.domain.grants import pkce_challenge  # noqa: PLC0415

    client = await identity.clients.get(client_id)
    if client is None:
        raise RuntimeError("the bench console client vanished")
    verifier = os.urandom(32).hex()
    code = await identity.tokens.issue_code(
        client=client,
        user=user,
        redirect_uri=_REDIRECT,
        scopes=frozenset({"openid", "read", "trade"}),
        code_challenge=pkce_challenge(verifier),
        nonce=None,
        proof=identity.login.password_proof(),
    )
    result = await identity.tokens.grant_tokens(
        TokenRequest(
            "authorization_code",
            client_id,
            None,
            code=code,
            redirect_uri=_REDIRECT,
            code_verifier=verifier,
        )
    )
    if result.refresh_token is None:
        raise RuntimeError("the console client got no refresh token")
    return result.refresh_token


async def _verification(identity: Identity, count: int) -> dict[str, Any]:
    issued = await identity.clients.create_client(name="bench verify", scopes=["read"])
    request = TokenRequest("client_credentials", issued.client_id, issued.client_secret)
    access = await identity.tokens.grant(request)
    # Distinct tokens for first sight: re-sign the same claims with fresh jti values.
    signer = identity.tokens._signer
    key = identity.keys.signing_key()
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    claims = _claims_of(access.token)
    tokens = [signer.sign(header, {**claims, "jti": f"bench-{n}"}, key) for n in range(count)]
    verifier = identity.verifier
    started = time.perf_counter()
    for token in tokens:
        await verifier.verify(token)
    uncached = time.perf_counter() - started
    repeats = count * 20
    token = tokens[0]
    started = time.perf_counter()
    for _ in range(repeats):
        await verifier.verify(token)
    cached = time.perf_counter() - started
    return {
        "uncached_per_second": round(count / uncached, 1),
        "uncached_us": round(uncached / count * 1e6, 1),
        "cached_per_second": round(repeats / cached, 1),
        "cached_us": round(cached / repeats * 1e6, 2),
    }


def _claims_of(token: str) -> dict[str, Any]:
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded
