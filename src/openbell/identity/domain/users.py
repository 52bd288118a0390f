"""Users: people who sign in (traders, operators, auditors), their roles and their status."""

import re
import unicodedata
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, NewType

from openbell.identity.domain.errors import InvalidUserDefinitionError
from openbell.identity.domain.scopes import ADMIN, AUDIT, EMAIL, OPS, PROFILE, READ, TRADE, WITHDRAW

UserId = NewType("UserId", str)

USER_ID_PREFIX = "usr_"
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
MAX_LOCAL_PART_LENGTH = 64
MIN_DOMAIN_LABELS = 2
_ATEXT = r"[A-Za-z0-9#$&'*+/=?^_`{|}~-]"
"""RFC 5322 atext less `!` and `%`: bang paths and the percent hack still route mail
elsewhere on some servers, so an address using them may not belong to its domain."""
_LOCAL_PART = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ENCODED_WORD_START = "=?"


class Role(StrEnum):
    TRADER = "trader"
    OPS = "ops"
    ADMIN = "admin"
    AUDITOR = "auditor"


ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.TRADER: frozenset({READ, TRADE, WITHDRAW}),
    Role.OPS: frozenset({READ, OPS}),
    Role.ADMIN: frozenset({READ, ADMIN}),
    Role.AUDITOR: frozenset({READ, AUDIT}),
}
"""Least privilege: no role implies another; an admin who also runs operations holds both."""


class UserStatus(StrEnum):
    PENDING = "pending"
    """Registered; the email address is not verified yet, so the user cannot sign in."""
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class User:
    """A person. Email and name are PII: only the user repository stores them."""

    user_id: UserId
    email: str = field(repr=False)
    name: str = field(repr=False)
    password_hash: str = field(repr=False)
    roles: frozenset[Role]
    status: UserStatus
    created_at: int
    account_id: int | None = None
    email_verified_at: int | None = None
    password_changed_at: int | None = None
    disabled_at: int | None = None

    @property
    def active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope the user's roles allow; a token gets at most these."""
        granted: frozenset[str] = frozenset()
        for role in self.roles:
            granted |= ROLE_SCOPES[role]
        return granted

    @property
    def needs_account(self) -> bool:
        return Role.TRADER in self.roles and self.account_id is None

    def verify_email(self, at: int) -> "User":
        if self.status is not UserStatus.PENDING:
            return self
        return replace(self, status=UserStatus.ACTIVE, email_verified_at=at)

    def with_account(self, account_id: int) -> "User":
        return replace(self, account_id=account_id)

    def with_password_hash(self, password_hash: str, *, changed_at: int | None) -> "User":
        if changed_at is None:  # a rehash with new parameters, not a change
            return replace(self, password_hash=password_hash)
        return replace(self, password_hash=password_hash, password_changed_at=changed_at)

    def disable(self, at: int) -> "User":
        if self.status is UserStatus.DISABLED:
            return self
        return replace(self, status=UserStatus.DISABLED, disabled_at=at)

    def enable(self) -> "User":
        if self.status is not UserStatus.DISABLED:
            return self
        verified = self.email_verified_at is not None
        return replace(
            self, status=UserStatus.ACTIVE if verified else UserStatus.PENDING, disabled_at=None
        )


def normalize_email(email: str) -> str:
    """A plain address (dot-atom@host.name) as stored and looked up, lower-cased.

    Anything a mail parser could read as more than one mailbox is refused: encoded words,
    groups, comments, quoted strings, display names, IP literals, control characters and
    non-ASCII look-alikes. Surrounding spaces are trimmed; the local part is lower-cased
    too, since mailbox providers treat it case-insensitively in practice and two accounts
    differing only in case invite confusion and takeover.
    """
    if not email.isascii():  # before lower(): it maps some non-ASCII letters to ASCII
        raise InvalidUserDefinitionError("not a valid email address")
    cleaned = email.strip(" ").lower()
    local_part, at, domain = cleaned.rpartition("@")
    if not (
        at
        and len(cleaned) <= MAX_EMAIL_LENGTH
        and _plain_local_part(local_part)
        and _host_name(domain)
    ):
        raise InvalidUserDefinitionError("not a valid email address")
    return cleaned


def email_lookup_key(email: str) -> str:
    """How a sign-in finds its user: the address as earlier versions stored it, unjudged.

    Only registration and recovery apply the plain-address rule of `normalize_email`; an
    account made before that rule (its address NFKC-normalised, trimmed and lower-cased)
    must still be able to sign in. Looking an address up finds only what is stored.
    """
    return unicodedata.normalize("NFKC", email).strip().lower()[: MAX_EMAIL_LENGTH + 1]


def _plain_local_part(local_part: str) -> bool:
    return (
        len(local_part) <= MAX_LOCAL_PART_LENGTH
        and _ENCODED_WORD_START not in local_part
        and _LOCAL_PART.fullmatch(local_part) is not None
    )


def _host_name(domain: str) -> bool:
    """Two or more LDH labels whose last is not all digits (so never an IPv4 address)."""
    labels = domain.split(".")
    return (
        len(labels) >= MIN_DOMAIN_LABELS
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def clean_name(name: str) -> str:
    cleaned = unicodedata.normalize("NFKC", name).strip()
    if len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidUserDefinitionError(
            f"a name is at most {MAX_NAME_LENGTH} printable characters"
        )
    return cleaned


def parse_roles(roles: object) -> frozenset[Role]:
    words = roles.split() if isinstance(roles, str) else list(roles)  # type: ignore[call-overload]
    try:
        chosen = frozenset(Role(word) for word in words)
    except ValueError:
        raise InvalidUserDefinitionError(
            "roles are " + ", ".join(role.value for role in Role)
        ) from None
    if not chosen:
        raise InvalidUserDefinitionError("a user needs at least one role")
    return chosen


def userinfo_claims(user: User, scopes: frozenset[str]) -> dict[str, Any]:
    """OIDC Core §5.4: `sub` always; email and name only as the token's scopes allow."""
    claims: dict[str, Any] = {"sub": user.user_id}
    if EMAIL in scopes:
        claims.update(email=user.email, email_verified=user.email_verified_at is not None)
    if PROFILE in scopes:
        claims["name"] = user.name
    return claims
