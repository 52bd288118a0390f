"""A real browser signs in on the login page of a real server, under its CSP.

Chromium (Debian's) loads /oauth/authorize from `openbell up`, types the credentials and
submits; the test asserts the page raised no CSP violation, requested nothing but itself,
and that the browser was redirected to the client with a code the client can exchange.
"""

import asyncio
import base64
import hashlib
import http.server
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import expect

from openbell.identity.bootstrap import open_identity
from openbell.identity.domain.users import Role
from openbell.migrations import upgrade_database
from openbell.platform.settings import Settings

from browser import watched_page

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def callback():
    """The client's redirect URI: a tiny server that remembers the query it was sent."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's naming
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"signed in")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/callback", received
    server.shutdown()


@pytest.fixture
def platform(tmp_path, callback):
    port = free_port()
    env = {
        **os.environ,
        "OPENBELL_ISSUER": f"http://127.0.0.1:{port}",
        "OPENBELL_ARGON2_TIME_COST": "1",
        "OPENBELL_ARGON2_MEMORY_COST_KIB": "1024",
    }
    settings = Settings(
        data_dir=tmp_path / "data",
        issuer=env["OPENBELL_ISSUER"],
        argon2_time_cost=1,
        argon2_memory_cost_kib=1024,
    )

    async def seed():
        settings.data_dir.mkdir(parents=True)
        await upgrade_database(settings.resolved_database_url)
        async with open_identity(settings) as identity:
            await identity.users.create_user(
                email="dana@example.com", password=PASSWORD, roles=[Role.TRADER]
            )
            issued = await identity.clients.create_client(
                name="openbell console",
                scopes=["openid", "read", "trade"],
                grant_types=["authorization_code", "refresh_token"],
                redirect_uris=[callback[0]],
                public=True,
            )
        return issued.client_id

    client_id = asyncio.run(seed())
    command = [sys.executable, "-m", "openbell.cli", "up", "--port", str(port)]
    command += ["--data-dir", str(settings.data_dir)]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the platform did not start: " + (tmp_path / "server.log").read_text())
        yield base, client_id, tmp_path / "server.log"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def test_a_browser_signs_in_under_the_csp_and_lands_on_the_client(platform, callback):
    base, client_id, _ = platform
    redirect_uri, received = callback
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid read trade",
        "state": "browser-state",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    async with watched_page() as browser:
        page = browser.page
        await page.goto(f"{base}/oauth/authorize?{urlencode(query)}")
        await page.get_by_label("Email").fill("dana@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(lambda url: url.startswith(redirect_uri + "?"))
        await expect(page.locator("body")).to_have_text("signed in")
    assert browser.violations == []
    assert browser.console_errors == []
    assert browser.page_errors == []
    client_origin = redirect_uri.removesuffix("/callback")
    allowed = (base + "/", client_origin + "/")
    outside = [url for url in browser.requested if not url.startswith(allowed)]
    assert outside == []
    assert any(url.startswith(redirect_uri + "?") for url in browser.requested)
    # The browser may also ask the client's server for a favicon.
    (path,) = [path for path in received if path.startswith("/callback?")]
    params = parse_qs(urlsplit(path).query)
    assert params["state"] == ["browser-state"]
    assert params["iss"] == [base]
    exchanged = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    token = exchanged.json()["access_token"]
    balances = httpx.get(f"{base}/v1/balances", headers={"Authorization": f"Bearer {token}"})
    assert balances.status_code == 200
