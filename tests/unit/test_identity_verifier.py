"""The access token verifier refuses every forged, altered, misdirected or stale token."""

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt

from openbell.identity.adapters.jwt import JoseTokenSigner, JwtAccessTokenVerifier
from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.domain.keys import PrivateKey, PublicKey
from openbell.platform.auth import InvalidTokenError, Principal
from openbell.platform.settings import Settings
from openbell.shared.time import FixedClock

SECOND = 1_000_000_000
ISSUER = "https://id.openbell.test"
AUDIENCE = "openbell-test"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
async def identity(tmp_path, clock):
    settings = Settings(
        data_dir=tmp_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        token_leeway_seconds=5,
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
    )
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32))
    await identity.start()
    return identity


@pytest.fixture
async def token(identity):
    issued = await identity.clients.create_client(
        name="bot", scopes=["read", "trade"], account_id=9
    )
    access = await identity.tokens.grant(
        TokenRequest("client_credentials", issued.client_id, issued.client_secret)
    )
    return access.token


@pytest.fixture
def verifier(identity):
    return identity.verifier


def now(clock: FixedClock) -> int:
    return clock.now_ns() // SECOND


def claims(clock, **changes) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "obc_x",
        "client_id": "obc_x",
        "scope": "read trade",
        "acct": 3,
        "iat": now(clock),
        "nbf": now(clock),
        "exp": now(clock) + 300,
        "jti": "token-1",
    }
    return {name: value for name, value in (base | changes).items() if value is not None}


def signed(identity, body: dict[str, Any], **header) -> str:
    key = identity.keys.signing_key()
    full_header = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"} | header
    full_header = {name: value for name, value in full_header.items() if value is not None}
    return JoseTokenSigner().sign(full_header, body, key)


async def assert_refused(verifier, token: str) -> None:
    with pytest.raises(InvalidTokenError):
        await verifier.verify(token)


async def test_a_genuine_token_verifies_to_its_principal(verifier, token, clock):
    principal = await verifier.verify(token)
    assert isinstance(principal, Principal)
    assert principal.subject == principal.client_id
    assert principal.subject.startswith("obc_")
    assert principal.account_id == 9
    assert principal.scopes == {"read", "trade"}
    assert principal.expires_at == now(clock) + 600
    assert principal.token_id


async def test_alg_none_is_refused(verifier, token):
    header, payload, _ = token.split(".")
    kid = json.loads(unb64(header))["kid"]
    for alg in ("none", "None", "NONE"):
        forged_header = encode_json({"alg": alg, "kid": kid, "typ": "at+jwt"})
        await assert_refused(verifier, f"{forged_header}.{payload}.")
        await assert_refused(verifier, f"{forged_header}.{payload}")


async def test_hs256_signed_with_the_public_key_is_refused(verifier, identity, token):
    header, payload, _ = token.split(".")
    kid = json.loads(unb64(header))["kid"]
    (public,) = await identity.keys.public_keys()
    jwk_x = b64(public.public_key).encode()
    for secret in (public.public_key, jwk_x):
        forged_header = encode_json({"alg": "HS256", "kid": kid, "typ": "at+jwt"})
        signing_input = f"{forged_header}.{payload}".encode()
        signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        await assert_refused(verifier, f"{forged_header}.{payload}.{signature}")


async def test_a_tampered_signature_is_refused(verifier, token):
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[10] ^= 0x01
    await assert_refused(verifier, f"{header}.{payload}.{b64(bytes(raw))}")
    await assert_refused(verifier, f"{header}.{payload}.{b64(bytes(64))}")
    await assert_refused(verifier, f"{header}.{payload}.")


async def test_a_tampered_payload_is_refused(verifier, token):
    header, payload, signature = token.split(".")
    body = json.loads(unb64(payload))
    for change in (
        {"scope": "read trade withdraw admin"},
        {"acct": 1},
        {"exp": body["exp"] + 3600},
    ):
        await assert_refused(verifier, f"{header}.{encode_json(body | change)}.{signature}")


async def test_a_tampered_header_is_refused(verifier, token):
    header, payload, signature = token.split(".")
    changed = json.loads(unb64(header)) | {"typ": "JWT"}
    await assert_refused(verifier, f"{encode_json(changed)}.{payload}.{signature}")


async def test_a_correctly_signed_token_passes(verifier, identity, clock):
    principal = await verifier.verify(signed(identity, claims(clock)))
    assert principal.account_id == 3


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "someone-else"},
        {"aud": ["someone-else"]},
        {"iss": "https://evil.example"},
        {"iss": ISSUER + "/"},
    ],
)
async def test_a_token_for_another_audience_or_issuer_is_refused(verifier, identity, clock, change):
    await assert_refused(verifier, signed(identity, claims(clock, **change)))


async def test_an_expired_token_is_refused(verifier, identity, clock):
    await assert_refused(verifier, signed(identity, claims(clock, exp=now(clock) - 6)))


async def test_expiry_has_a_small_leeway(verifier, identity, clock):
    await verifier.verify(signed(identity, claims(clock, exp=now(clock) - 3)))


async def test_a_not_yet_valid_token_is_refused(verifier, identity, clock):
    await assert_refused(verifier, signed(identity, claims(clock, nbf=now(clock) + 60)))
    await assert_refused(verifier, signed(identity, claims(clock, iat=now(clock) + 60)))


@pytest.mark.parametrize(
    "missing", ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "client_id", "scope"]
)
async def test_a_token_missing_a_required_claim_is_refused(verifier, identity, clock, missing):
    await assert_refused(verifier, signed(identity, claims(clock, **{missing: None})))


@pytest.mark.parametrize(
    "change", [{"acct": True}, {"acct": "3"}, {"scope": ["read"]}, {"exp": "soon"}, {"sub": 5}]
)
async def test_a_token_with_mistyped_claims_is_refused(verifier, identity, clock, change):
    await assert_refused(verifier, signed(identity, claims(clock, **change)))


async def test_a_token_of_another_type_is_refused(verifier, identity, clock):
    await assert_refused(verifier, signed(identity, claims(clock), typ="JWT"))
    await assert_refused(verifier, signed(identity, claims(clock), typ=None))


async def test_an_unknown_kid_is_refused(verifier, identity, clock):
    await assert_refused(verifier, signed(identity, claims(clock), kid="not-a-key"))
    stranger = Ed25519PrivateKey.generate()
    foreign_key = PrivateKey(identity.keys.signing_key().kid, "EdDSA", stranger.private_bytes_raw())
    header = {"alg": "EdDSA", "kid": foreign_key.kid, "typ": "at+jwt"}
    await assert_refused(verifier, JoseTokenSigner().sign(header, claims(clock), foreign_key))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c",
        "...",
        "e30.e30.",
        "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
        "\u00e9.\u00e9.\u00e9",
        "x" * 10_000,
    ],
)
async def test_garbage_is_refused(verifier, garbage):
    await assert_refused(verifier, garbage)


async def test_a_header_without_kid_is_refused(verifier, token):
    _, payload, signature = token.split(".")
    await assert_refused(
        verifier, f"{encode_json({'alg': 'EdDSA', 'typ': 'at+jwt'})}.{payload}.{signature}"
    )


async def test_a_repeated_token_is_verified_once(verifier, token, monkeypatch):
    calls = []
    original = jwt.decode

    def counting_decode(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    first = await verifier.verify(token)
    for _ in range(5):
        assert await verifier.verify(token) == first
    assert len(calls) == 1
    header, payload, signature = token.split(".")
    flipped = "B" if signature[10] == "A" else "A"  # always a different signature
    await assert_refused(verifier, f"{header}.{payload}.{signature[:10]}{flipped}{signature[11:]}")
    assert len(calls) == 2


async def test_a_cached_token_still_expires(verifier, token, clock):
    await verifier.verify(token)
    clock.advance(600 * SECOND + 6 * SECOND)
    await assert_refused(verifier, token)
    assert len(verifier.cache) == 0


async def test_the_cache_is_bounded(identity, clock):
    source = StaticKeys(await identity.keys.public_keys())
    small = JwtAccessTokenVerifier(
        source, issuer=ISSUER, audience=AUDIENCE, clock=clock, leeway_seconds=0, cache_size=2
    )
    await small.start()
    for number in range(5):
        await small.verify(signed(identity, claims(clock, jti=f"t{number}")))
    assert len(small.cache) == 2


async def test_an_evicted_token_id_is_verified_again(verifier, identity, clock, monkeypatch):
    token = signed(identity, claims(clock, jti="revoke-me"))
    await verifier.verify(token)
    verifier.cache.evict_token_id("revoke-me")
    assert len(verifier.cache) == 0
    verifier.cache.put(token, await verifier.verify(token))
    verifier.cache.evict_client("obc_x")
    assert len(verifier.cache) == 0


class StaticKeys:
    def __init__(self, keys):
        self.keys = list(keys)
        self.refreshes = 0

    async def public_keys(self):
        return self.keys

    async def refresh(self):
        self.refreshes += 1
        return self.keys


async def test_an_unknown_kid_reloads_keys_at_most_every_interval(identity, clock):
    source = StaticKeys(await identity.keys.public_keys())
    verifier = JwtAccessTokenVerifier(
        source, issuer=ISSUER, audience=AUDIENCE, clock=clock, leeway_seconds=0, cache_size=10
    )
    await verifier.start()
    for kid in ("x1", "x2", "x3"):
        await assert_refused(verifier, signed(identity, claims(clock), kid=kid))
    assert source.refreshes == 0
    clock.advance(31 * SECOND)
    await assert_refused(verifier, signed(identity, claims(clock), kid="x4"))
    await assert_refused(verifier, signed(identity, claims(clock), kid="x5"))
    assert source.refreshes == 1


async def test_a_rotated_key_is_learned_and_the_old_one_still_verifies(identity, clock, token):
    verifier = identity.verifier
    await identity.keys.rotate()
    clock.advance(31 * SECOND)
    fresh = signed(identity, claims(clock))
    assert (await verifier.verify(fresh)).account_id == 3
    assert (await verifier.verify(token)).account_id == 9


async def test_withdrawing_a_key_forgets_the_tokens_it_verified(identity, clock, token):
    verifier = identity.verifier
    await verifier.verify(token)
    stranger = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    verifier.use_keys([PublicKey("other", "EdDSA", stranger)])
    assert len(verifier.cache) == 0
    await assert_refused(verifier, token)


async def test_a_revoked_token_stays_refused_through_the_expiry_leeway(
    verifier, identity, token, clock
):
    # The verifier accepts a token up to `exp` + leeway, so its revocation must last as long.
    payload = json.loads(unb64(token.split(".")[1]))
    await identity.revocations.revoke("jti", payload["jti"], expires_at=payload["exp"])
    clock.advance((payload["exp"] - now(clock) + 2) * SECOND)
    await identity.revocations.revoke("jti", "another")  # any revocation prunes lapsed ones
    await identity.revocations.sync()
    await assert_refused(verifier, token)
    clock.advance(4 * SECOND)
    await identity.revocations.sync()
    await assert_refused(verifier, token)  # expired by then, revocation or not


async def test_a_revocation_splits_tokens_issued_within_one_second(identity, verifier, clock):
    issued = await identity.clients.create_client(name="bot", scopes=["read"])
    request = TokenRequest("client_credentials", issued.client_id, issued.client_secret)
    before = (await identity.tokens.grant(request)).token
    clock.advance(SECOND // 10)
    await identity.revocations.revoke("cid", issued.client_id)
    clock.advance(SECOND // 10)
    after = (await identity.tokens.grant(request)).token
    await assert_refused(verifier, before)
    assert (await verifier.verify(after)).client_id == issued.client_id


async def test_a_token_without_a_precise_issue_time_counts_from_its_second(
    identity, verifier, clock
):
    # Tokens minted before `iat_ns` existed: a revocation within their second refuses them.
    clock.advance(SECOND // 2)
    await identity.revocations.revoke("cid", "obc_x")
    await assert_refused(verifier, signed(identity, claims(clock)))
    later = clock.now_ns() + 1
    await verifier.verify(signed(identity, claims(clock, iat_ns=later)))
    await assert_refused(verifier, signed(identity, claims(clock, iat_ns=later + 5 * SECOND)))
