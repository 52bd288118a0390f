"""Multi-factor authentication: how a sign-in was proven, and what that proof allows."""

import hashlib
from dataclasses import dataclass, field

from openbell.identity.domain.users import UserId

ACR_PASSWORD = "urn:openbell:acr:pwd"  # an acr URI, not a secret  # noqa: S105  # nosec B105
"""Authentication context class of a password-only sign-in."""
ACR_MFA = "urn:openbell:acr:mfa"
"""A sign-in proven with a password and a second factor (TOTP or a recovery code)."""
AMR_PASSWORD = "pwd"  # an RFC 8176 method name, not a secret  # noqa: S105  # nosec B105
AMR_OTP = "otp"
AMR_MFA = "mfa"
AMR_RECOVERY_CODE = "kba"
"""RFC 8176 has no name for a lookup secret; knowledge-based is the nearest."""

RECOVERY_CODE_COUNT = 10


@dataclass(frozen=True, slots=True)
class AuthenticationProof:
    """What the user proved at sign-in and when (OIDC acr, amr and auth_time)."""

    acr: str
    amr: frozenset[str]
    auth_time: int
    """Seconds since the Unix epoch."""

    @property
    def multi_factor(self) -> bool:
        return self.acr == ACR_MFA

    def fresh(self, now: int, max_age_seconds: int) -> bool:
        """A second factor proven no more than `max_age_seconds` ago: a step-up."""
        return self.multi_factor and 0 <= now - self.auth_time <= max_age_seconds


def password_proof(at: int) -> AuthenticationProof:
    return AuthenticationProof(ACR_PASSWORD, frozenset({AMR_PASSWORD}), at)


def mfa_proof(at: int, *, recovery_code: bool) -> AuthenticationProof:
    second = AMR_RECOVERY_CODE if recovery_code else AMR_OTP
    return AuthenticationProof(ACR_MFA, frozenset({AMR_PASSWORD, AMR_MFA, second}), at)


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A user's TOTP secret (encrypted at rest); usable once confirmed with a first code."""

    user_id: UserId
    encrypted_secret: bytes = field(repr=False)
    created_at: int
    confirmed_at: int | None = None
    last_used_step: int | None = None
    """The time step of the last accepted code: a code is never accepted twice (ASVS 2.8.4)."""

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


def recovery_code_digest(code: str) -> str:
    """Recovery codes carry 120 random bits, so a plain SHA-256 resists guessing (ASVS 2.6.2)."""
    normalized = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(normalized.encode("ascii", "replace")).hexdigest()
