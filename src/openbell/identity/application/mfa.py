"""TOTP enrolment and verification, and recovery codes (shown once, stored as digests)."""

import base64
import secrets
from dataclasses import dataclass, field

from openbell.identity.application.ports import KeyCipher, MfaRepository, TotpAlgorithm
from openbell.identity.domain.errors import MfaError
from openbell.identity.domain.mfa import (
    RECOVERY_CODE_COUNT,
    TotpEnrolment,
    recovery_code_digest,
)
from openbell.identity.domain.users import UserId
from openbell.shared.time import Clock

NANOSECONDS = 1_000_000_000
_RECOVERY_CODE_BYTES = 15  # 120 bits, 24 base32 characters


@dataclass(frozen=True, slots=True)
class TotpSetup:
    """What the user's authenticator app needs: shown once, at enrolment."""

    otpauth_uri: str = field(repr=False)
    secret: str = field(repr=False)


def new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(_RECOVERY_CODE_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


class MfaService:
    def __init__(
        self,
        repository: MfaRepository,
        totp: TotpAlgorithm,
        cipher: KeyCipher,
        clock: Clock,
        *,
        issuer_name: str,
    ) -> None:
        self._repository = repository
        self._totp = totp
        self._cipher = cipher
        self._clock = clock
        self._issuer_name = issuer_name

    def _aad(self, user_id: UserId) -> bytes:
        return b"totp:" + user_id.encode()

    async def enrolled(self, user_id: UserId) -> bool:
        enrolment = await self._repository.totp(user_id)
        return enrolment is not None and enrolment.confirmed

    async def begin_totp(self, user_id: UserId, account_label: str) -> TotpSetup:
        """A new secret, unconfirmed until `confirm_totp`; replaces an unconfirmed one.

        A confirmed enrolment is replaced only after `remove_totp` (which needs step-up).
        """
        existing = await self._repository.totp(user_id)
        if existing is not None and existing.confirmed:
            raise MfaError("TOTP is already enrolled; remove it first")
        secret = self._totp.new_secret()
        encrypted = self._cipher.encrypt(secret.encode("ascii"), self._aad(user_id))
        await self._repository.put_totp(
            TotpEnrolment(user_id, encrypted, created_at=self._clock.now_ns())
        )
        uri = self._totp.provisioning_uri(secret, account=account_label, issuer=self._issuer_name)
        return TotpSetup(uri, secret)

    async def confirm_totp(self, user_id: UserId, code: str) -> list[str]:
        """Turn the enrolment on with a first valid code; return fresh recovery codes, once."""
        enrolment = await self._repository.totp(user_id)
        if enrolment is None or enrolment.confirmed:
            raise MfaError("there is no TOTP enrolment waiting for confirmation")
        step = self._matching_step(enrolment, code)
        if step is None or not await self._repository.use_totp_step(user_id, step):
            raise MfaError("the code is not valid")
        confirmed = TotpEnrolment(
            user_id,
            enrolment.encrypted_secret,
            enrolment.created_at,
            confirmed_at=self._clock.now_ns(),
            last_used_step=step,
        )
        await self._repository.put_totp(confirmed)
        return await self._replace_recovery_codes(user_id)

    async def new_recovery_codes(self, user_id: UserId) -> list[str]:
        """Replace every recovery code with fresh ones; the old ones stop working.

        Only for an enrolled user (MfaError otherwise): codes without a factor recover nothing.
        """
        if not await self.enrolled(user_id):
            raise MfaError("enrol TOTP first")
        return await self._replace_recovery_codes(user_id)

    async def _replace_recovery_codes(self, user_id: UserId) -> list[str]:
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        await self._repository.replace_recovery_codes(
            user_id, [recovery_code_digest(code) for code in codes]
        )
        return codes

    async def remove_totp(self, user_id: UserId) -> None:
        await self._repository.delete_totp(user_id)
        await self._repository.replace_recovery_codes(user_id, [])

    async def remaining_recovery_codes(self, user_id: UserId) -> int:
        return await self._repository.remaining_recovery_codes(user_id)

    async def verify(self, user_id: UserId, code: str) -> bool | None:
        """None if `code` proves nothing; else whether it was a recovery code (used up now)."""
        enrolment = await self._repository.totp(user_id)
        if enrolment is None or not enrolment.confirmed:
            return None
        cleaned = code.strip().replace(" ", "")
        if cleaned.isdigit():
            step = self._matching_step(enrolment, cleaned)
            if step is not None and await self._repository.use_totp_step(user_id, step):
                return False
            return None
        if len(cleaned) > 64:
            return None
        used = await self._repository.use_recovery_code(
            user_id, recovery_code_digest(cleaned), self._clock.now_ns()
        )
        return True if used else None

    def _matching_step(self, enrolment: TotpEnrolment, code: str) -> int | None:
        secret = self._cipher.decrypt(enrolment.encrypted_secret, self._aad(enrolment.user_id))
        now = self._clock.now_ns() // NANOSECONDS
        return self._totp.matching_step(secret.decode("ascii"), code.strip(), now)
