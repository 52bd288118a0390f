"""The data directory and every file the platform writes in it are the server user's alone."""

import base64
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from openbell.app import prepare, start_platform
from openbell.demo import seed_demo
from openbell.platform.data_dir import DataDirError
from openbell.platform.settings import Settings

PASSWORD = "a much longer passphrase 2"
KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def common_umask():
    """Start from the usual 022, which leaves new files 0644; restore the test's own after."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(directory: Path) -> dict[str, int]:
    return {
        str(path.relative_to(directory)): stat.S_IMODE(path.stat().st_mode)
        for path in [directory, *directory.rglob("*")]
    }


def assert_private(found: dict[str, int], directory: Path) -> None:
    for name, mode in found.items():
        expected = 0o700 if (directory / name).is_dir() else 0o600
        assert mode == expected, f"{name} is {mode:04o}"


async def test_the_database_its_wal_keys_mail_and_credentials_are_created_private(tmp_path):
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, argon2_memory_cost_kib=64, argon2_time_cost=1)
    platform = await start_platform(settings)
    try:
        await seed_demo(platform.core, platform.identity, data_dir)
        transport = httpx.ASGITransport(app=platform.app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as client:
            body = {"email": "new.trader@example.com", "password": PASSWORD}
            assert (await client.post("/v1/users", json=body)).status_code == 202
        running = modes(data_dir)
    finally:
        await platform.stop()
    assert {".", "openbell.db", "openbell.db-wal", "demo-clients.json", "outbox"} <= set(running)
    assert any(name.startswith("outbox/") for name in running)  # the verification mail
    assert_private(running, data_dir)
    assert_private(modes(data_dir), data_dir)


def production(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPENBELL_ENVIRONMENT": "production",
        "OPENBELL_KEY_ENCRYPTION_KEY": KEY,
        "OPENBELL_DATABASE_URL": database_url,
        "OPENBELL_DATA_DIR": str(data_dir),
    }


def test_production_refuses_to_start_on_a_data_dir_others_can_read(tmp_path):
    data_dir = tmp_path / "shared"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    # The directory is checked before the database is opened, so no server is needed.
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    command = [sys.executable, "-m", "openbell.cli", "up", "--port", "1"]
    result = subprocess.run(
        command, env=production(data_dir, unreachable), capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    error = result.stderr.decode()
    assert "open to other users" in error
    assert f"chmod 700 {data_dir}" in error
    assert "Traceback" not in error


async def test_production_starts_on_a_private_data_dir_and_makes_a_missing_one_private(
    tmp_path, postgres_url
):
    for data_dir in (tmp_path / "private", tmp_path / "new" / "data"):
        if data_dir.name == "private":
            data_dir.mkdir(mode=0o700)
        settings = Settings(
            environment="production",
            key_encryption_key=SecretStr(KEY),
            database_url=postgres_url,
            data_dir=data_dir,
        )
        await prepare(settings)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


async def test_production_refuses_an_open_data_dir_in_process_too(tmp_path):
    data_dir = tmp_path / "open"
    data_dir.mkdir()
    data_dir.chmod(0o750)
    settings = Settings(
        environment="production",
        key_encryption_key=SecretStr(KEY),
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        data_dir=data_dir,
    )
    with pytest.raises(DataDirError, match="open to other users"):
        await prepare(settings)


async def test_development_warns_of_an_open_data_dir_and_starts(tmp_path, caplog):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="openbell"):
        await prepare(Settings(data_dir=data_dir))
    assert "open to other users" in caplog.text
    assert (data_dir / "openbell.db").exists()
    assert stat.S_IMODE((data_dir / "openbell.db").stat().st_mode) == 0o600
