"""The server's own limits against a real `openbell up`: each attack is refused or cut off as
designed, and another client's order entry goes on while it runs.

Attackers connect from 127.0.0.2 and up (all loopback on Linux), the trader from 127.0.0.1,
as clients from different addresses would.
"""

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

pytestmark = pytest.mark.slow

OPENBELL = [sys.executable, "-m", "openbell.cli"]
HEAD_TIMEOUT = 2
LIMITS = {
    "OPENBELL_MAX_REQUEST_HEAD_BYTES": "16384",
    "OPENBELL_MAX_REQUEST_HEADERS": "100",
    "OPENBELL_REQUEST_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
    "OPENBELL_KEEP_ALIVE_TIMEOUT_SECONDS": "2",
    "OPENBELL_MAX_CONNECTIONS": "300",
    "OPENBELL_MAX_CONNECTIONS_PER_CLIENT": "64",
    "OPENBELL_ARGON2_MEMORY_COST_KIB": "64",
    "OPENBELL_ARGON2_TIME_COST": "1",
}
SECURITY_HEADERS = (
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)
GENEROUS = 20.0  # seconds: a deadline for a loaded machine, not a performance claim


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Trader:
    """Another client, on its own keep-alive connection from 127.0.0.1."""

    client: httpx.Client
    ids: Iterator[int]

    def place_order(self) -> httpx.Response:
        body = {
            "symbol": "ACME",
            "side": "buy",
            "type": "limit",
            "price": "149.00",
            "quantity": "1",
            "client_order_id": f"limits-{next(self.ids)}",
        }
        return self.client.post("/v1/orders", json=body)


@dataclass
class Server:
    port: int
    trader: Trader

    def connect(self, source: str = "127.0.0.2") -> socket.socket:
        return socket.create_connection(
            ("127.0.0.1", self.port), timeout=GENEROUS, source_address=(source, 0)
        )


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not become ready:\n{log.read_text(errors='replace')[-3000:]}")


def _token(base: str, data_dir: Path) -> str:
    alice = json.loads((data_dir / "demo-clients.json").read_text())[0]
    response = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(alice["client_id"], alice["client_secret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir.parent / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*OPENBELL, "up", "--demo", "--data-dir", str(data_dir), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **LIMITS, "PYTHONUNBUFFERED": "1"},
        )
    try:
        _wait_ready(base, process, log)
        headers = {"Authorization": f"Bearer {_token(base, data_dir)}"}
        with httpx.Client(base_url=base, headers=headers, timeout=GENEROUS) as client:
            trader = Trader(client, count())
            placed = trader.place_order()  # the connection is open before any attack
            assert placed.status_code == 201, placed.text
            yield Server(port, trader)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse(response: bytes) -> Answer:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = dict(field.lower().split(": ", 1) for field in fields)
    return Answer(int(status_line.split()[1]), headers, body)


def read_all(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer included)."""
    received = b""
    while True:
        try:
            data = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return received
        if not data:
            return received
        received += data


def send_until_refused(connection: socket.socket, chunks: Iterable[bytes]) -> int:
    """Send the chunks until the server stops reading; the number of bytes sent."""
    sent = 0
    try:
        for chunk in chunks:
            connection.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def assert_answered_by_the_server(answer: Answer, status: int, reason: str) -> None:
    assert answer.status == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert json.loads(answer.body)["reason"] == reason
    for name in SECURITY_HEADERS:
        assert name in answer.headers
    assert "server" not in answer.headers
    assert answer.headers["connection"] == "close"


T = TypeVar("T")


def in_background(work: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    return thread, result


HUGE = 64 * 1024 * 1024


def test_a_64_mb_header_is_refused_with_431_before_most_of_it_is_read(server):
    def attack() -> tuple[int, bytes]:
        with server.connect() as connection:
            connection.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ")
            piece = b"a" * 65536
            sent = send_until_refused(connection, (piece for _ in range(HUGE // len(piece))))
            sent += send_until_refused(connection, [b"\r\n\r\n"])
            return sent, read_all(connection)

    thread, result = in_background(attack)
    assert server.trader.place_order().status_code == 201
    thread.join(GENEROUS * 3)
    sent, response = result[0]
    assert_answered_by_the_server(parse(response), 431, "request_head_too_large")
    assert sent < HUGE  # the server stopped reading long before the end
    assert server.trader.place_order().status_code == 201


def test_ten_thousand_headers_are_refused_with_431(server):
    head = b"GET /livez HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: v\r\n" % number for number in range(10_000)
    )
    with server.connect() as connection:
        send_until_refused(connection, [head, b"\r\n"])
        answer = parse(read_all(connection))
    assert_answered_by_the_server(answer, 431, "request_head_too_large")
    assert server.trader.place_order().status_code == 201


def test_more_header_fields_than_allowed_are_refused_even_within_the_byte_limit(server):
    head = b"GET /livez HTTP/1.1\r\nHost: x\r\n" + b"X: v\r\n" * 150 + b"\r\n"
    assert len(head) < 16384
    with server.connect() as connection:
        send_until_refused(connection, [head])
        answer = parse(read_all(connection))
    assert_answered_by_the_server(answer, 431, "request_head_too_large")


def test_heads_within_the_limits_are_served_one_after_another_on_a_connection(server):
    padding = b"X-Padding: " + b"p" * 15_000 + b"\r\n"
    request = b"GET /livez HTTP/1.1\r\nHost: x\r\n" + padding + b"X-N: 1\r\n" * 90 + b"\r\n"
    assert len(request) < 16384
    with server.connect() as connection:
        received = b""
        # Each request's head gets the whole allowance again; the last two are pipelined.
        for sent, payload in ((1, request), (2, request), (3, request), (5, request + request)):
            connection.sendall(payload)
            while received.count(b'{"status":"ok"}') < sent:
                data = connection.recv(65536)
                assert data, received
                received += data
        assert received.count(b"HTTP/1.1 200 ") == 5


def test_a_head_trickled_a_byte_at_a_time_is_cut_off_with_408_at_the_deadline(server):
    request = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000 + b"\r\n\r\n"

    def attack() -> tuple[float, bytes]:
        started = time.monotonic()
        with server.connect() as connection:
            connection.settimeout(0.1)
            for byte in request:
                if send_until_refused(connection, [bytes([byte])]) == 0:
                    break
                try:
                    if connection.recv(65536, socket.MSG_PEEK):
                        break  # answered
                except TimeoutError:
                    continue
            connection.settimeout(GENEROUS)
            return time.monotonic() - started, read_all(connection)

    thread, result = in_background(attack)
    assert server.trader.place_order().status_code == 201
    thread.join(GENEROUS * 3)
    elapsed, response = result[0]
    assert_answered_by_the_server(parse(response), 408, "request_head_timeout")
    assert elapsed < len(request) * 0.1  # cut off long before the head could end


def wait_until_closed(connections: list[socket.socket], seconds: float) -> dict[int, bytes]:
    """What each connection received before the server closed it, for those it closed."""
    received: dict[int, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for index, connection in enumerate(connections):
            connection.setblocking(False)  # noqa: FBT003  # the socket API's own flag
            selector.register(connection, selectors.EVENT_READ, index)
        deadline = time.monotonic() + seconds
        while len(received) < len(connections) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                data = b""
                with contextlib.suppress(ConnectionResetError):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if data:
                    received[key.data] = received.get(key.data, b"") + data
                    continue
                selector.unregister(key.fileobj)
                received.setdefault(key.data, b"")
                received[key.data] += b"<closed>"
    return {index: data for index, data in received.items() if data.endswith(b"<closed>")}


def test_a_thousand_idle_sockets_are_refused_past_the_address_cap_then_closed(server):
    connections = [server.connect() for _ in range(1_000)]
    try:
        assert server.trader.place_order().status_code == 201
        closed = wait_until_closed(connections, HEAD_TIMEOUT + GENEROUS)
    finally:
        for connection in connections:
            connection.close()
    assert len(closed) == 1_000
    refused = [data for data in closed.values() if data.startswith(b"HTTP/1.1 503 ")]
    assert len(refused) >= 1_000 - 64
    assert_answered_by_the_server(
        parse(refused[0].removesuffix(b"<closed>")), 503, "too_many_connections"
    )
    held = [data for data in closed.values() if data == b"<closed>"]
    assert len(held) + len(refused) == 1_000  # the held ones closed silently at the deadline
    assert server.trader.place_order().status_code == 201


def test_the_process_cap_refuses_connections_past_it_and_serves_the_ones_it_holds(server):
    sources = [f"127.0.0.{host}" for host in range(3, 8)]
    connections = [server.connect(source) for source in sources for _ in range(60)]
    try:
        assert server.trader.place_order().status_code == 201
        closed = wait_until_closed(connections, 2.0)
        refused = [data for data in closed.values() if data.startswith(b"HTTP/1.1 503 ")]
        assert len(refused) >= len(connections) + 1 - 300  # the trader holds one more
    finally:
        for connection in connections:
            connection.close()


def test_an_idle_keep_alive_connection_is_closed(server):
    with server.connect() as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        response = read_all(connection)  # returns once the server closes the idle connection
    assert response.startswith(b"HTTP/1.1 200 ")


def test_a_malformed_request_gets_a_400_with_the_security_headers_and_no_banner(server):
    with server.connect() as connection:
        connection.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = parse(read_all(connection))
    assert_answered_by_the_server(answer, 400, "malformed_request")
