"""SQL storage for users (the one home of their PII), email tokens and their throttle, TOTP
and recovery codes."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.identity.adapters.sql import insert_row
from openbell.identity.adapters.tables import (
    api_clients,
    mail_throttle,
    one_time_tokens,
    recovery_codes,
    totp_enrolments,
    users,
)
from openbell.identity.domain.mfa import TotpEnrolment
from openbell.identity.domain.users import Role, User, UserId, UserStatus
from openbell.shared.errors import ConflictError, NotFoundError


def _user_row(user: User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "email": user.email,
        "name": user.name,
        "password_hash": user.password_hash,
        "roles": " ".join(sorted(role.value for role in user.roles)),
        "status": user.status.value,
        "account_id": user.account_id,
        "created_at": user.created_at,
        "email_verified_at": user.email_verified_at,
        "password_changed_at": user.password_changed_at,
        "disabled_at": user.disabled_at,
    }


def _user(row: RowMapping) -> User:
    return User(
        user_id=UserId(row["user_id"]),
        email=row["email"],
        name=row["name"],
        password_hash=row["password_hash"],
        roles=frozenset(Role(word) for word in row["roles"].split()),
        status=UserStatus(row["status"]),
        created_at=row["created_at"],
        account_id=row["account_id"],
        email_verified_at=row["email_verified_at"],
        password_changed_at=row["password_changed_at"],
        disabled_at=row["disabled_at"],
    )


class SqlUserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, user: User) -> None:
        await insert_row(self._engine, users, _user_row(user))

    async def _one(self, condition: Any) -> User | None:  # noqa: ANN401  # a SQL expression
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(users).where(condition))).mappings().first()
        return None if row is None else _user(row)

    async def get(self, user_id: UserId) -> User | None:
        return await self._one(users.c.user_id == user_id)

    async def by_email(self, email: str) -> User | None:
        return await self._one(users.c.email == email)

    async def save(self, user: User) -> None:
        statement = update(users).where(users.c.user_id == user.user_id).values(_user_row(user))
        try:
            async with self._engine.begin() as connection:
                if (await connection.execute(statement)).rowcount != 1:
                    raise NotFoundError("no such user")
        except IntegrityError:
            raise ConflictError("identity_users: the email or account is taken") from None

    async def list(self) -> Sequence[User]:
        query = select(users).order_by(users.c.created_at, users.c.user_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_user(row) for row in rows]

    async def delete_pending(self, user_id: UserId) -> None:
        await self._delete(users.c.user_id == user_id)

    async def delete_pending_before(self, created_before: int) -> None:
        await self._delete(users.c.created_at < created_before)

    async def _delete(self, condition: Any) -> None:  # noqa: ANN401  # a SQL expression
        pending = users.c.status == UserStatus.PENDING.value
        async with self._engine.begin() as connection:
            await connection.execute(delete(users).where(pending, condition))


class SqlOneTimeTokenRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, token_hash: str, user_id: UserId, purpose: str, expires_at: int) -> None:
        row = {
            "token_hash": token_hash,
            "user_id": user_id,
            "purpose": purpose,
            "expires_at": expires_at,
        }
        await insert_row(self._engine, one_time_tokens, row)

    async def consume(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        table = one_time_tokens
        statement = (
            update(table)
            .where(
                table.c.token_hash == token_hash,
                table.c.purpose == purpose,
                table.c.used_at.is_(None),
                table.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(table.c.user_id)
        )
        async with self._engine.begin() as connection:
            user_id = (await connection.execute(statement)).scalar_one_or_none()
        return None if user_id is None else UserId(user_id)

    async def owner(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        table = one_time_tokens
        query = select(table.c.user_id).where(
            table.c.token_hash == token_hash,
            table.c.purpose == purpose,
            table.c.used_at.is_(None),
            table.c.expires_at > now,
        )
        async with self._engine.connect() as connection:
            user_id = (await connection.execute(query)).scalar_one_or_none()
        return None if user_id is None else UserId(user_id)

    async def void(self, user_id: UserId, purpose: str, now: int) -> None:
        table = one_time_tokens
        statement = (
            update(table)
            .where(
                table.c.user_id == user_id, table.c.purpose == purpose, table.c.used_at.is_(None)
            )
            .values(used_at=now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def delete_expired(self, now: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(one_time_tokens).where(one_time_tokens.c.expires_at <= now)
            )


class SqlMailThrottle:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, recipient_hash: str, now: int, interval: int) -> bool:
        # Forget what the interval no longer covers (this recipient's last mail included),
        # then the primary key lets one concurrent claimant in.
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(mail_throttle).where(mail_throttle.c.sent_at <= now - interval)
            )
        try:
            await insert_row(
                self._engine, mail_throttle, {"recipient_hash": recipient_hash, "sent_at": now}
            )
        except ConflictError:
            return False
        return True


class SqlMfaRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def totp(self, user_id: UserId) -> TotpEnrolment | None:
        query = select(totp_enrolments).where(totp_enrolments.c.user_id == user_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        if row is None:
            return None
        return TotpEnrolment(
            UserId(row["user_id"]),
            bytes(row["encrypted_secret"]),
            row["created_at"],
            row["confirmed_at"],
            row["last_used_step"],
        )

    async def put_totp(self, enrolment: TotpEnrolment) -> None:
        row = {
            "user_id": enrolment.user_id,
            "encrypted_secret": enrolment.encrypted_secret,
            "created_at": enrolment.created_at,
            "confirmed_at": enrolment.confirmed_at,
            "last_used_step": enrolment.last_used_step,
        }
        async with self._engine.begin() as connection:
            table = totp_enrolments
            await connection.execute(delete(table).where(table.c.user_id == enrolment.user_id))
            await connection.execute(insert(table).values(row))

    async def delete_totp(self, user_id: UserId) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(totp_enrolments).where(totp_enrolments.c.user_id == user_id)
            )

    async def use_totp_step(self, user_id: UserId, step: int) -> bool:
        table = totp_enrolments
        statement = (
            update(table)
            .where(
                table.c.user_id == user_id,
                or_(table.c.last_used_step.is_(None), table.c.last_used_step < step),
            )
            .values(last_used_step=step)
        )
        async with self._engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount == 1)

    async def replace_recovery_codes(self, user_id: UserId, digests: Sequence[str]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(recovery_codes).where(recovery_codes.c.user_id == user_id)
            )
            if digests:
                await connection.execute(
                    insert(recovery_codes),
                    [{"code_hash": digest, "user_id": user_id} for digest in digests],
                )

    async def use_recovery_code(self, user_id: UserId, digest: str, now: int) -> bool:
        table = recovery_codes
        statement = (
            update(table)
            .where(
                and_(
                    table.c.code_hash == digest,
                    table.c.user_id == user_id,
                    table.c.used_at.is_(None),
                )
            )
            .values(used_at=now)
        )
        async with self._engine.begin() as connection:
            return bool((await connection.execute(statement)).rowcount == 1)

    async def remaining_recovery_codes(self, user_id: UserId) -> int:
        table = recovery_codes
        query = select(func.count()).where(table.c.user_id == user_id, table.c.used_at.is_(None))
        async with self._engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())


async def highest_referenced_account(engine: AsyncEngine) -> int:
    """The highest trading account id any user or API client refers to; 0 if none does."""
    statement = select(
        func.max(users.c.account_id), select(func.max(api_clients.c.account_id)).scalar_subquery()
    )
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).one()
    return max(int(value or 0) for value in row)
