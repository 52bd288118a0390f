"""Identity's domain rules: scopes, client registration, token claims, key selection."""

from typing import Any

import pytest

from openbell.identity.domain.clients import ApiClient, ClientId, register_client
from openbell.identity.domain.errors import InvalidClientDefinitionError, InvalidScopeError
from openbell.identity.domain.keys import SigningKey, active_key, published_keys
from openbell.identity.domain.scopes import format_scopes, grant_scopes, parse_scopes
from openbell.identity.domain.tokens import client_credentials_claims

SECOND = 1_000_000_000


def client(**changes) -> ApiClient:
    fields: dict[str, Any] = {
        "client_id": ClientId("obc_test"),
        "name": "market maker",
        "secret_hash": "$argon2id$...",
        "scopes": frozenset({"read", "trade"}),
        "account_id": 42,
        "created_at": 1_700_000_000 * SECOND,
    }
    return register_client(**(fields | changes))


def test_no_requested_scope_grants_every_scope_of_the_client():
    assert grant_scopes(frozenset({"read", "trade"}), None) == {"read", "trade"}
    assert grant_scopes(frozenset({"read", "trade"}), "") == {"read", "trade"}


def test_a_subset_of_the_clients_scopes_may_be_requested():
    assert grant_scopes(frozenset({"read", "trade"}), "read") == {"read"}


@pytest.mark.parametrize(
    "requested", ["read withdraw", "admin", "trade  read", 'read "x"', "read\t"]
)
def test_scopes_beyond_the_client_or_malformed_are_refused(requested):
    with pytest.raises(InvalidScopeError):
        grant_scopes(frozenset({"read", "trade"}), requested)


def test_scopes_format_sorted_and_parse_back():
    assert format_scopes(["trade", "read", "trade"]) == "read trade"
    assert parse_scopes("read trade") == {"read", "trade"}


def test_a_client_is_registered_with_a_trimmed_name():
    assert client(name="  desk 7 ").name == "desk 7"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "line\nbreak"])
def test_a_client_needs_a_printable_name(name):
    with pytest.raises(InvalidClientDefinitionError):
        client(name=name)


def test_a_client_needs_known_scopes():
    with pytest.raises(InvalidClientDefinitionError, match="unknown scopes: superuser"):
        client(scopes=frozenset({"read", "superuser"}))
    with pytest.raises(InvalidClientDefinitionError):
        client(scopes=frozenset())


def test_trading_scopes_need_an_account():
    with pytest.raises(InvalidClientDefinitionError, match="account"):
        client(scopes=frozenset({"trade"}), account_id=None)


@pytest.mark.parametrize("account_id", [None, 7])
def test_no_client_credentials_client_may_hold_withdraw(account_id):
    # Moving money out needs a person's fresh second factor, which a program cannot give.
    with pytest.raises(InvalidClientDefinitionError, match="withdraw"):
        client(scopes=frozenset({"read", "withdraw"}), account_id=account_id)


def test_a_reader_or_an_operators_program_may_act_for_no_account():
    assert client(scopes=frozenset({"read"}), account_id=None).account_id is None
    assert client(scopes=frozenset({"ops"}), account_id=None).scopes == {"ops"}


@pytest.mark.parametrize(
    ("scopes", "account_id"),
    [({"read", "ops"}, None), ({"ops", "trade"}, 7), ({"ops"}, 7)],
)
def test_ops_goes_alone_to_a_program_acting_for_no_account(scopes, account_id):
    with pytest.raises(InvalidClientDefinitionError, match="ops goes alone"):
        client(scopes=frozenset(scopes), account_id=account_id)


@pytest.mark.parametrize("scopes", [{"admin"}, {"audit"}, {"read", "admin"}, {"read", "audit"}])
@pytest.mark.parametrize("account_id", [None, 7])
def test_no_client_credentials_client_may_hold_admin_or_audit(scopes, account_id):
    with pytest.raises(InvalidClientDefinitionError, match="admin and audit"):
        client(scopes=frozenset(scopes), account_id=account_id)


def test_a_client_for_a_trading_account_holds_read_and_trade():
    assert client(scopes=frozenset({"read", "trade"}), account_id=7).scopes == {"read", "trade"}


def test_revoking_keeps_the_first_revocation_time():
    revoked = client().revoke(5)
    assert not revoked.active
    assert revoked.revoke(9).revoked_at == 5


def test_the_secret_hash_never_shows_in_repr():
    assert "argon2" not in repr(client())


def test_client_credentials_claims():
    claims = client_credentials_claims(
        client(),
        frozenset({"trade", "read"}),
        issuer="https://id.example",
        audience="openbell",
        now_ns=1_700_000_000 * SECOND + 999_999_999,
        ttl_seconds=600,
        token_id="jti-1",
    )
    assert claims == {
        "iss": "https://id.example",
        "aud": "openbell",
        "sub": "obc_test",
        "client_id": "obc_test",
        "scope": "read trade",
        "acct": 42,
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "exp": 1_700_000_600,
        "jti": "jti-1",
        "iat_ns": 1_700_000_000 * SECOND + 999_999_999,
    }


def test_claims_of_a_client_without_account_have_no_acct():
    claims = client_credentials_claims(
        client(scopes=frozenset({"read"}), account_id=None),
        frozenset({"read"}),
        issuer="i",
        audience="a",
        now_ns=0,
        ttl_seconds=60,
        token_id="j",
    )
    assert "acct" not in claims


def key(kid: str, created: int, retired: int | None = None) -> SigningKey:
    return SigningKey(kid, "EdDSA", b"p" * 32, b"e", created_at=created, retired_at=retired)


def test_the_newest_unretired_key_is_active():
    keys = [key("a", 1), key("b", 3), key("c", 5, retired=6)]
    active = active_key(keys)
    assert active is not None
    assert active.kid == "b"
    assert active_key([key("c", 5, retired=6)]) is None


def test_retired_keys_stay_published_for_the_overlap_only():
    keys = [key("old", 1, retired=10), key("older", 0, retired=2), key("new", 10)]
    published = published_keys(keys, now=15, overlap=10)
    assert [public.kid for public in published] == ["new", "old"]
