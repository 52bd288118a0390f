"""The client's real address, so throttles and logs behind a reverse proxy see users, not the proxy.

Forwarding headers are anyone's to write, so they are believed only when the socket peer is a
configured trusted proxy. The chain is walked from the right (the hop nearest us) skipping
trusted proxies; the first untrusted address is the client. Anything that is not a plain
address (`unknown`, `_hidden`, garbage) ends the walk at the last trusted hop, and only the
last `MAX_HOPS` entries are ever looked at, so a hostile header costs bounded work and never
raises. Consumers keep reading `scope["client"]`; the socket peer stays in
`scope["state"]["peer"]` when it was replaced.
"""

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["MAX_HOPS", "ClientIpMiddleware", "resolve_client"]

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

MAX_HOPS = 32
"""Entries looked at from the right; a longer chain falls back to the last trusted hop."""

_FORWARDED = b"forwarded"
_X_FORWARDED_FOR = b"x-forwarded-for"


def _address(token: str) -> tuple[Address, int] | None:
    """`1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80` or `::1` -> (address, port); else None."""
    token = token.strip().strip('"').strip()
    port = "0"
    if token.startswith("["):
        host, bracket, rest = token[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] or "0"
    elif token.count(":") == 1:
        host, _, port = token.partition(":")
    else:
        host = token
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return None
    try:
        address = ip_address(host)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, int(port)


def _forwarded_for(element: str) -> str:
    """The `for=` value of one RFC 7239 element, or "" (which no address parses from)."""
    for pair in element.split(";", 8)[:8]:
        name, _, value = pair.partition("=")
        if name.strip().lower() == "for":
            return value
    return ""


def _hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str] | None:
    """The forwarding chain, nearest hop last: Forwarded if present, else X-Forwarded-For."""
    forwarded: list[bytes] = []
    xff: list[bytes] = []
    for name, value in headers:
        if name == _FORWARDED:
            forwarded.append(value)
        elif name == _X_FORWARDED_FOR:
            xff.append(value)
    chosen = forwarded or xff
    if not chosen:
        return None
    entries = b",".join(chosen).decode("latin-1").rsplit(",", MAX_HOPS)
    if forwarded:
        return [_forwarded_for(entry) for entry in entries]
    return entries


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def resolve_client(
    peer: tuple[str, int], headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[Network]
) -> tuple[str, int]:
    """The client for a request from `peer` with `headers` (raw ASGI pairs, lower-case names)."""
    parsed = _address(peer[0])
    if parsed is None or not _trusted(parsed[0], trusted):
        return peer
    hops = _hops(headers)
    if hops is None:
        return peer
    last_trusted = peer
    for position, token in enumerate(reversed(hops)):
        if position >= MAX_HOPS:
            break
        hop = _address(token)
        if hop is None:
            break
        found = (str(hop[0]), hop[1])
        if not _trusted(hop[0], trusted):
            return found
        last_trusted = found
    return last_trusted


class ClientIpMiddleware:
    """Replaces `scope["client"]` with the real client when the peer is a trusted proxy.

    With no trusted proxies configured it passes every request straight through.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer is not None:
                client = resolve_client(peer, scope["headers"], self.trusted)
                if client != peer:
                    scope.setdefault("state", {})["peer"] = peer
                    scope["client"] = client
        await self.app(scope, receive, send)
