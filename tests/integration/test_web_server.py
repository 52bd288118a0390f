"""The web platform behind a real uvicorn: what crosses the socket, including chunked bodies."""

import socket
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from playwright.async_api import expect

from browser import watched_page

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
        port: int = probe.getsockname()[1]
        return port


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


async def test_swagger_ui_runs_under_the_strict_csp_with_no_outside_request(server):
    port, _ = server
    origin = f"http://127.0.0.1:{port}"
    async with watched_page() as browser:
        page = browser.page
        await page.goto(f"{origin}/docs")
        operations = page.locator(".opblock")
        await expect(operations).to_have_count(2)
        for index in range(2):
            operation = operations.nth(index)
            await operation.locator(".opblock-summary-control").click()
            await operation.locator(".try-out__btn").click()
            await expect(operation.locator(".execute")).to_be_visible()
        # Executing a call proves the page's CSP lets Swagger UI reach its own server.
        upload = page.locator(".opblock-post")
        await upload.locator(".execute").click()
        status = upload.locator(".live-responses-table tbody .response-col_status")
        await expect(status).to_have_text("200")
    assert browser.violations == []
    assert browser.console_errors == []
    assert browser.page_errors == []
    assert browser.requested
    outside = [url for url in browser.requested if not url.startswith((origin + "/", "data:"))]
    assert outside == []
    assert f"{origin}/openapi.json" in browser.requested
