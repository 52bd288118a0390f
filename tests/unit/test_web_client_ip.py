"""Who the client is behind reverse proxies: forwarding headers count only from trusted peers."""

from ipaddress import ip_network

import pytest
from pydantic import ValidationError

from openbell.platform.settings import Settings
from openbell.platform.web.client_ip import MAX_HOPS, ClientIpMiddleware, resolve_client

PROXIES = (ip_network("10.0.0.0/8"), ip_network("2001:db8:aaaa::/48"))
PROXY = ("10.0.0.5", 41000)
STRANGER = ("203.0.113.9", 52000)


def xff(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", value.encode("latin-1"))]


def forwarded(value: str) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", value.encode("latin-1"))]


@pytest.mark.parametrize(
    "headers",
    [xff("198.51.100.7"), forwarded("for=198.51.100.7"), xff("10.0.0.1, 198.51.100.7")],
)
def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing(headers):
    assert resolve_client(STRANGER, headers, PROXIES) == STRANGER


def test_without_trusted_proxies_every_header_is_ignored():
    assert resolve_client(PROXY, xff("198.51.100.7"), ()) == PROXY


def test_a_trusted_proxy_passes_on_the_client_it_saw():
    assert resolve_client(PROXY, xff("198.51.100.7"), PROXIES) == ("198.51.100.7", 0)


def test_the_rightmost_untrusted_address_wins_over_what_the_client_wrote():
    # The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the address it saw.
    headers = xff("1.1.1.1, 198.51.100.7")
    assert resolve_client(PROXY, headers, PROXIES) == ("198.51.100.7", 0)


def test_several_trusted_proxies_are_skipped():
    headers = xff("1.1.1.1, 198.51.100.7, 10.1.1.1, 10.2.2.2")
    assert resolve_client(PROXY, headers, PROXIES) == ("198.51.100.7", 0)


def test_forwarded_elements_with_ports_and_ipv6_brackets():
    headers = forwarded('for=1.1.1.1, for="[2001:db8::17]:4711";proto=https, for=10.9.9.9:80')
    assert resolve_client(PROXY, headers, PROXIES) == ("2001:db8::17", 4711)


def test_forwarded_is_preferred_to_x_forwarded_for():
    headers = [*xff("192.0.2.1"), *forwarded("for=198.51.100.7")]
    assert resolve_client(PROXY, headers, PROXIES) == ("198.51.100.7", 0)


def test_headers_repeated_on_several_lines_form_one_chain():
    headers = [*xff("1.1.1.1"), *xff("198.51.100.7, 10.3.3.3")]
    assert resolve_client(PROXY, headers, PROXIES) == ("198.51.100.7", 0)


def test_an_ipv6_proxy_and_client():
    peer = ("2001:db8:aaaa::1", 443)
    assert resolve_client(peer, xff("2001:db8:bbbb::9"), PROXIES) == ("2001:db8:bbbb::9", 0)


def test_an_ipv4_mapped_peer_is_matched_as_ipv4():
    peer = ("::ffff:10.0.0.5", 443)
    assert resolve_client(peer, xff("198.51.100.7"), PROXIES) == ("198.51.100.7", 0)


@pytest.mark.parametrize(
    "value",
    [
        "unknown",
        "_hidden",
        "garbage",
        "1.2.3.4:99999",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "999.1.1.1",
        "",
        " , ,",
        "\xff\xfe",
        '"',
    ],
)
def test_a_malformed_nearest_hop_falls_back_to_the_last_trusted_hop(value):
    # The proxy at 10.1.1.1 forwarded something unreadable: it is as far as we can see.
    assert resolve_client(PROXY, xff(f"198.51.100.7, {value}, 10.1.1.1"), PROXIES) == (
        "10.1.1.1",
        0,
    )


@pytest.mark.parametrize("value", ["for=unknown", "for=_hidden", "by=10.0.0.1", "for", ";;;;"])
def test_an_obfuscated_or_missing_forwarded_for_falls_back_to_the_peer(value):
    assert resolve_client(PROXY, forwarded(value), PROXIES) == PROXY


def test_a_chain_of_only_trusted_proxies_yields_the_farthest_one():
    assert resolve_client(PROXY, xff("10.1.1.1, 10.2.2.2"), PROXIES) == ("10.1.1.1", 0)


def test_a_huge_chain_is_read_only_from_the_right_and_never_raises():
    spoofed = ", ".join(["198.51.100.7"] + ["10.4.4.4"] * 10_000)
    assert resolve_client(PROXY, xff(spoofed), PROXIES) == ("10.4.4.4", 0)
    near = ", ".join(["garbage"] * 10_000 + ["198.51.100.7"] + ["10.4.4.4"] * (MAX_HOPS - 2))
    assert resolve_client(PROXY, xff(near), PROXIES) == ("198.51.100.7", 0)


async def passing_through(scope, trusted):
    seen = {}

    async def app(inner, receive, send):
        seen.update(inner)

    await ClientIpMiddleware(app, trusted_proxies=trusted)(scope, None, None)
    return seen


async def test_the_middleware_rewrites_the_client_and_keeps_the_peer():
    scope = {"type": "http", "client": PROXY, "headers": xff("198.51.100.7")}
    seen = await passing_through(scope, PROXIES)
    assert seen["client"] == ("198.51.100.7", 0)
    assert seen["state"]["peer"] == PROXY


async def test_the_middleware_leaves_websockets_from_strangers_and_lifespan_alone():
    ws = {"type": "websocket", "client": STRANGER, "headers": xff("198.51.100.7")}
    assert (await passing_through(ws, PROXIES))["client"] == STRANGER
    assert await passing_through({"type": "lifespan"}, PROXIES) == {"type": "lifespan"}


def test_trusted_proxies_come_from_the_environment_as_comma_separated_cidrs(monkeypatch):
    monkeypatch.setenv("OPENBELL_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32,192.0.2.1")
    assert Settings().trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("2001:db8::/32"),
        ip_network("192.0.2.1/32"),
    )


def test_no_proxy_is_trusted_by_default(monkeypatch):
    monkeypatch.delenv("OPENBELL_TRUSTED_PROXIES", raising=False)
    assert Settings().trusted_proxies == ()


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.0.0.1/8", "proxy.example.com", "*"])
def test_an_invalid_cidr_is_a_settings_error(monkeypatch, value):
    monkeypatch.setenv("OPENBELL_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError):
        Settings()
