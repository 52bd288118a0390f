"""TOTP (RFC 6238) with pyotp: 6 digits, 30-second steps, SHA-1 as authenticator apps expect."""

import hmac

import pyotp

_DIGITS = 6
_INTERVAL = 30
_DRIFT_STEPS = 1


class PyotpTotp:
    def new_secret(self) -> str:
        return pyotp.random_base32(length=32)  # 160 bits

    def matching_step(self, secret: str, code: str, now_seconds: int) -> int | None:
        if len(code) != _DIGITS or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=_DIGITS, interval=_INTERVAL)
        step = now_seconds // _INTERVAL
        found = None
        # Check every candidate, so the time taken does not say which step matched.
        for candidate in range(step - _DRIFT_STEPS, step + _DRIFT_STEPS + 1):
            expected = totp.generate_otp(candidate)
            if hmac.compare_digest(expected, code) and found is None:
                found = candidate
        return found

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        totp = pyotp.TOTP(secret, digits=_DIGITS, interval=_INTERVAL)
        return totp.provisioning_uri(name=account, issuer_name=issuer)
