"""SQL storage for authorization codes, grants, refresh tokens and revocations.

Codes and refresh tokens are consumed with one conditional UPDATE, so of two processes
racing for the same one exactly one wins, and the loser learns it was a replay.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, FromClause, RowMapping, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.identity.adapters.sql import insert_row
from openbell.identity.adapters.tables import authorization_codes, grants, refresh_tokens
from openbell.identity.adapters.tables import revocations as revocations_table
from openbell.identity.domain.grants import (
    AuthorizationCode,
    Grant,
    GrantId,
    RefreshToken,
)
from openbell.identity.domain.mfa import AuthenticationProof
from openbell.identity.domain.revocation import NANOSECONDS, Revocation
from openbell.identity.domain.users import UserId


def _proof_row(proof: AuthenticationProof) -> dict[str, Any]:
    return {"acr": proof.acr, "amr": " ".join(sorted(proof.amr)), "auth_time": proof.auth_time}


def _proof(row: RowMapping) -> AuthenticationProof:
    return AuthenticationProof(row["acr"], frozenset(row["amr"].split()), row["auth_time"])


def _code(row: RowMapping) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=row["code_hash"],
        grant_id=GrantId(row["grant_id"]),
        client_id=row["client_id"],
        user_id=UserId(row["user_id"]),
        redirect_uri=row["redirect_uri"],
        scopes=frozenset(row["scopes"].split()),
        code_challenge=row["code_challenge"],
        nonce=row["nonce"],
        proof=_proof(row),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


def _grant(row: RowMapping) -> Grant:
    return Grant(
        grant_id=GrantId(row["grant_id"]),
        client_id=row["client_id"],
        user_id=UserId(row["user_id"]),
        scopes=frozenset(row["scopes"].split()),
        proof=_proof(row),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def _refresh(row: RowMapping) -> RefreshToken:
    return RefreshToken(
        token_hash=row["token_hash"],
        grant_id=GrantId(row["grant_id"]),
        client_id=row["client_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


class SqlGrantRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_code(self, code: AuthorizationCode) -> None:
        row = {
            "code_hash": code.code_hash,
            "grant_id": code.grant_id,
            "client_id": code.client_id,
            "user_id": code.user_id,
            "redirect_uri": code.redirect_uri,
            "scopes": " ".join(sorted(code.scopes)),
            "code_challenge": code.code_challenge,
            "nonce": code.nonce,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "used_at": code.used_at,
            **_proof_row(code.proof),
        }
        async with self._engine.begin() as connection:
            # Expired codes are useless to keep; clearing them here bounds the table.
            table = authorization_codes
            horizon = code.created_at - 86_400 * 1_000_000_000
            await connection.execute(delete(table).where(table.c.expires_at < horizon))
            await connection.execute(insert(table).values(row))

    async def _consume(self, table: Table, key: str, now: int) -> tuple[RowMapping, bool] | None:
        column = table.c.code_hash if table is authorization_codes else table.c.token_hash
        claim = update(table).where(column == key, table.c.used_at.is_(None)).values(used_at=now)
        async with self._engine.begin() as connection:
            first = (await connection.execute(claim)).rowcount == 1
            row = (await connection.execute(select(table).where(column == key))).mappings().first()
        return None if row is None else (row, first)

    async def consume_code(self, code_hash: str, now: int) -> tuple[AuthorizationCode, bool] | None:
        found = await self._consume(authorization_codes, code_hash, now)
        return None if found is None else (_code(found[0]), found[1])

    async def add_grant(self, grant: Grant) -> None:
        row = {
            "grant_id": grant.grant_id,
            "client_id": grant.client_id,
            "user_id": grant.user_id,
            "scopes": " ".join(sorted(grant.scopes)),
            "created_at": grant.created_at,
            "expires_at": grant.expires_at,
            "revoked_at": grant.revoked_at,
            **_proof_row(grant.proof),
        }
        await insert_row(self._engine, grants, row)

    async def get_grant(self, grant_id: GrantId) -> Grant | None:
        async with self._engine.connect() as connection:
            query = select(grants).where(grants.c.grant_id == grant_id)
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _grant(row)

    async def revoke_grant(self, grant_id: GrantId, now: int) -> None:
        statement = (
            update(grants)
            .where(grants.c.grant_id == grant_id, grants.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def active_grants_of_user(self, user_id: UserId, now: int) -> Sequence[Grant]:
        query = select(grants).where(
            grants.c.user_id == user_id, grants.c.revoked_at.is_(None), grants.c.expires_at > now
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_grant(row) for row in rows]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        row = {
            "token_hash": token.token_hash,
            "grant_id": token.grant_id,
            "client_id": token.client_id,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "used_at": token.used_at,
        }
        await insert_row(self._engine, refresh_tokens, row)

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _refresh(row)

    async def consume_refresh_token(
        self, token_hash: str, now: int
    ) -> tuple[RefreshToken, bool] | None:
        found = await self._consume(refresh_tokens, token_hash, now)
        return None if found is None else (_refresh(found[0]), found[1])

    async def retire_successors(self, token: RefreshToken, now: int) -> bool:
        # One statement, so of two replays racing, the row lock lets only one retire them.
        table, other = refresh_tokens, refresh_tokens.alias("other")
        since = token.used_at if token.used_at is not None else now

        def successors(of: FromClause) -> tuple[ColumnElement[bool], ...]:
            return (
                of.c.grant_id == token.grant_id,
                of.c.created_at >= since,
                of.c.token_hash != token.token_hash,
            )

        used = select(other.c.token_hash).where(*successors(other), other.c.used_at.is_not(None))
        retire = (
            update(table)
            .where(*successors(table), table.c.used_at.is_(None), ~used.exists())
            .values(used_at=now)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(retire)).rowcount > 0


_REREAD_WINDOW = 256


class SqlRevocationStore:
    """Revocations in the database: durable, and seen by every process that polls it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, revocation: Revocation) -> None:
        table = revocations_table
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(table).where(table.c.expires_at < revocation.revoked_at - 3600 * NANOSECONDS)
            )
            await connection.execute(
                insert(table).values(
                    key=revocation.key,
                    revoked_at=revocation.revoked_at,
                    expires_at=revocation.expires_at,
                )
            )

    async def changes(self, cursor: int, now: int) -> tuple[Sequence[Revocation], int]:
        table = revocations_table
        # Sequence numbers are handed out before commit, so a lower one can appear after a
        # higher one was read: re-reading a window behind the cursor catches it (applying
        # a revocation twice changes nothing).
        query = (
            select(table)
            .where(table.c.seq > max(0, cursor - _REREAD_WINDOW), table.c.expires_at > now)
            .order_by(table.c.seq)
            .limit(10_000)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        entries = [Revocation(row["key"], row["revoked_at"], row["expires_at"]) for row in rows]
        return entries, max([cursor, *(row["seq"] for row in rows)])
