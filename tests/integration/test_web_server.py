"""The web platform behind a real uvicorn: what crosses the socket, including chunked bodies."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
import websockets

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    from fastapi import APIRouter, Request

    from openbell.platform.settings import Settings
    from openbell.platform.web import create_app

    router = APIRouter()


    @router.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}


    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2")


    app = create_app(Settings(max_body_bytes=2048), routers=[router])
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("server")
    (directory / "served_app.py").write_text(APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(directory)]
    command += ["served_app:app", "--port", str(port), "--log-level", "warning"]
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=directory, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/livez", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not start")
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def raw_request(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head)
        try:
            for chunk in chunks:
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the body ends
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = connection.recv(65536)
            if not data:
                break
            response += data
        return response


CHUNKED_HEAD = (
    b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n"
)


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(server):
    port, _ = server
    response = raw_request(port, CHUNKED_HEAD, [b"x" * 512] * 8)
    status_line, _, rest = response.partition(b"\r\n")
    assert b" 413 " in status_line
    assert b"content-type: application/problem+json" in rest.lower()
    assert b'"reason":"content_too_large"' in rest


def test_a_chunked_body_under_the_limit_is_read(server):
    port, _ = server
    response = raw_request(port, CHUNKED_HEAD, [b"x" * 500] * 3)
    assert b" 200 " in response.partition(b"\r\n")[0]
    assert response.endswith(b'{"received":1500}')


def test_a_declared_length_over_the_limit_is_refused_before_reading(server):
    port, _ = server
    response = httpx.post(f"http://127.0.0.1:{port}/upload", content=b"x" * 4096)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_livez_and_errors_over_the_wire(server):
    port, _ = server
    live = httpx.get(f"http://127.0.0.1:{port}/livez")
    assert live.json() == {"status": "ok"}
    assert live.headers["x-frame-options"] == "DENY"
    boom = httpx.get(f"http://127.0.0.1:{port}/boom", headers={"X-Request-ID": "drill-1"})
    assert boom.status_code == 500
    assert boom.json()["request_id"] == "drill-1"
    assert "hunter2" not in boom.text


class DevTools:
    """Just enough of the Chrome DevTools Protocol to load a page and watch what it does."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.next_id = 0
        self.events: list[dict] = []

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        call_id = self.next_id
        await self.connection.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.connection.recv())
            if message.get("id") == call_id:
                return message.get("result", {})
            self.events.append(message)

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not await self.evaluate(expression):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {expression}")
            await asyncio.sleep(0.1)


@pytest.fixture
def chromium(tmp_path):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the browser test; .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += ["--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=5).json()
        yield next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")
    finally:
        process.terminate()
        process.wait(timeout=10)


RECORD_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e => "
    "window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


async def test_swagger_ui_runs_under_the_strict_csp_with_no_outside_request(server, chromium):
    port, _ = server
    origin = f"http://127.0.0.1:{port}"
    async with websockets.connect(chromium, max_size=None) as connection:
        browser = DevTools(connection)
        for domain in ("Page", "Runtime", "Log", "Network"):
            await browser.call(f"{domain}.enable")
        await browser.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_VIOLATIONS)
        await browser.call("Page.navigate", url=f"{origin}/docs")
        await browser.wait_for("document.querySelectorAll('.opblock').length >= 2")
        await browser.evaluate(
            "document.querySelectorAll('.opblock-summary-control').forEach(e => e.click())"
        )
        await browser.wait_for("document.querySelectorAll('.opblock-body').length >= 2")
        await browser.evaluate("document.querySelectorAll('.try-out__btn').forEach(e => e.click())")
        await asyncio.sleep(0.5)
        violations = await browser.evaluate("window.__violations")
    assert violations == []
    security_logs = [
        event["params"]["entry"]["text"]
        for event in browser.events
        if event.get("method") == "Log.entryAdded"
        and event["params"]["entry"]["source"] == "security"
    ]
    assert security_logs == []
    exceptions = [
        event for event in browser.events if event.get("method") == "Runtime.exceptionThrown"
    ]
    assert exceptions == []
    requested = {
        event["params"]["request"]["url"]
        for event in browser.events
        if event.get("method") == "Network.requestWillBeSent"
    }
    assert requested
    assert all(url.startswith((origin, "data:")) for url in requested), requested
    assert f"{origin}/openapi.json" in requested
