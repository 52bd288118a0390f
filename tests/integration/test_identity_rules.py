"""Identity's rules enforced by its services, whoever calls them (a route, the CLI, a script):
clients that are revoked or narrowed lose their tokens, disabling a user ends every client
acting for them, and programs hold only the scopes a program may."""

import asyncio

import pytest

from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import build_identity, open_identity
from openbell.identity.domain.errors import InvalidClientDefinitionError
from openbell.identity.domain.users import Role
from openbell.platform.auth import InvalidTokenError
from openbell.platform.db import prepare_database
from openbell.platform.settings import Settings
from openbell.shared.time import FixedClock

SECOND = 1_000_000_000
PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def clock():
    return FixedClock(1_700_000_000 * SECOND)


@pytest.fixture
async def identity(tmp_path, database_url, clock):
    await prepare_database(database_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
    )
    wired = build_identity(settings, database_url, clock=clock)
    await wired.start()
    yield wired
    await wired.close()


async def client_token(identity, client_id: str, secret: str) -> str:
    request = TokenRequest("client_credentials", client_id, secret, None)
    return (await identity.tokens.grant(request)).token


async def test_revoking_a_client_through_its_service_refuses_its_tokens(identity, clock):
    issued = await identity.clients.create_client(name="bot", scopes=["read"])
    token = await client_token(identity, issued.client_id, issued.client_secret)
    clock.advance(SECOND)
    await identity.clients.revoke_client(issued.client_id)
    with pytest.raises(InvalidTokenError):
        await identity.verifier.verify(token)


async def test_narrowing_a_client_through_its_service_refuses_its_tokens(identity, clock):
    issued = await identity.clients.create_client(
        name="bot", scopes=["read", "trade"], account_id=7
    )
    token = await client_token(identity, issued.client_id, issued.client_secret)
    clock.advance(SECOND)
    await identity.clients.change_scopes(issued.client_id, ["read"])
    with pytest.raises(InvalidTokenError):
        await identity.verifier.verify(token)
    clock.advance(SECOND)
    fresh = await client_token(identity, issued.client_id, issued.client_secret)
    assert (await identity.verifier.verify(fresh)).scopes == {"read"}


async def test_disabling_a_user_revokes_operator_made_clients_for_their_account(identity, clock):
    user = await identity.users.create_user(
        email="trader@example.com", password=PASSWORD, roles=[Role.TRADER], account_id=7
    )
    theirs = await identity.clients.create_client(
        name="desk bot", scopes=["read", "trade"], account_id=7
    )
    others = await identity.clients.create_client(
        name="other desk", scopes=["read", "trade"], account_id=8
    )
    token = await client_token(identity, theirs.client_id, theirs.client_secret)
    other_token = await client_token(identity, others.client_id, others.client_secret)
    clock.advance(SECOND)
    await identity.users.disable(user.user_id)
    with pytest.raises(InvalidTokenError):
        await identity.verifier.verify(token)
    assert not (await identity.clients.get(theirs.client_id)).active
    # A client for another account goes on trading.
    assert (await identity.verifier.verify(other_token)).account_id == 8
    assert (await identity.clients.get(others.client_id)).active


async def test_an_operators_program_holds_ops_alone_and_no_program_holds_admin(identity):
    program = await identity.clients.create_client(name="runbook", scopes=["ops"])
    assert program.client.scopes == {"ops"}
    assert program.client.account_id is None
    for scopes, account_id in ((["admin"], None), (["audit"], None), (["ops", "read"], None)):
        with pytest.raises(InvalidClientDefinitionError):
            await identity.clients.create_client(name="x", scopes=scopes, account_id=account_id)
    with pytest.raises(InvalidClientDefinitionError):
        await identity.clients.create_client(name="x", scopes=["ops"], account_id=7)


async def test_a_user_disabled_from_another_process_loses_their_clients_tokens_at_once(
    tmp_path, database_url
):
    """The CLI disables the user; a running server refuses the client's token within a
    second (well inside the deadline here, which allows for a loaded machine)."""
    await prepare_database(database_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
        revocation_poll_seconds=0.05,
    )
    server = build_identity(settings, database_url)
    await server.start()
    try:
        async with open_identity(settings, database_url) as cli:
            user = await cli.users.create_user(
                email="trader@example.com", password=PASSWORD, roles=[Role.TRADER], account_id=7
            )
            bot = await cli.clients.create_client(name="bot", scopes=["trade"], account_id=7)
        token = await client_token(server, bot.client_id, bot.client_secret)
        await server.verifier.verify(token)
        await asyncio.sleep(0.01)  # the disabling comes strictly after the token's issue
        async with open_identity(settings, database_url) as cli:
            await cli.users.disable(user.user_id)
        assert await refused_within(server, token, seconds=10)
    finally:
        await server.close()


async def refused_within(identity, token: str, *, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            await identity.verifier.verify(token)
        except InvalidTokenError:
            return True
        await asyncio.sleep(0.02)
    return False
