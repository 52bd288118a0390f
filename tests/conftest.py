"""Fixtures shared by every test: real databases, created fresh and dropped after."""

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from openbell.platform.db import asyncpg_dsn

POSTGRES_URL = os.environ.get(
    "OPENBELL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'openbell.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database on the machine's server, dropped after the test.

    In CI a missing server is a failure; elsewhere the test is skipped.
    """
    admin_dsn = asyncpg_dsn(POSTGRES_URL)
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    name = f"openbell_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = POSTGRES_URL.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database backend in turn, for tests every backend must pass."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'openbell.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
