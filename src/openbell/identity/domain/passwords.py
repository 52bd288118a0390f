"""Password policy (NIST SP 800-63B, OWASP ASVS V2.1): length and a blocklist, no rules
about character classes."""

import unicodedata
from collections.abc import Container
from dataclasses import dataclass

from openbell.identity.domain.errors import WeakPasswordError


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int
    max_length: int
    common_passwords: Container[str]
    """Lower-cased passwords seen in breaches; any of them is refused whatever its case."""

    def check(self, password: str, *, email: str | None = None) -> str:
        """The password to hash (NFKC-normalised, as ASVS 2.1.x asks), or WeakPasswordError."""
        normalized = normalize_password(password)
        length = len(normalized)
        if length < self.min_length:
            raise WeakPasswordError(f"a password needs at least {self.min_length} characters")
        if length > self.max_length:
            raise WeakPasswordError(f"a password has at most {self.max_length} characters")
        if not normalized.isprintable() and not all(
            char.isprintable() or char == " " for char in normalized
        ):
            raise WeakPasswordError("a password cannot contain control characters")
        lowered = normalized.lower()
        if lowered in self.common_passwords or lowered.strip() in self.common_passwords:
            raise WeakPasswordError("this password is too common; it appears in breach lists")
        if len(set(lowered)) <= 2:
            raise WeakPasswordError("a password needs more than two distinct characters")
        if email is not None and _contains_email(lowered, email.lower()):
            raise WeakPasswordError("a password must not contain the email address")
        return normalized


def normalize_password(password: str) -> str:
    """NFKC, applied when a password is set and whenever one is checked: otherwise the same
    password typed on another keyboard (composed or decomposed, full-width) would not match."""
    return unicodedata.normalize("NFKC", password)


def _contains_email(password: str, email: str) -> bool:
    local = email.partition("@")[0]
    return email in password or (len(local) >= 4 and local in password)
