"""The API docs work offline: every asset comes from the server, none inline, none from a CDN."""

from html.parser import HTMLParser

import httpx
import pytest

from openbell.platform.settings import Settings
from openbell.platform.web import create_app


class AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.style_attributes = 0
        self.event_handlers = 0
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(attributes[name])
        if "style" in attributes:
            self.style_attributes += 1
        self.event_handlers += sum(1 for name in attributes if name.startswith("on"))
        if tag == "style":
            self.inline_styles += 1
        self._in_script = tag == "script"
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1

    def handle_endtag(self, _tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.fixture
async def client(tmp_path):
    app = create_app(Settings(data_dir=tmp_path), title="openbell <test>")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def docs_page(client) -> AssetCollector:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    collector = AssetCollector()
    collector.feed(response.text)
    return collector


async def test_docs_page_references_only_local_assets(client):
    page = await docs_page(client)
    assert len(page.urls) >= 4
    for url in page.urls:
        assert url.startswith("/docs/assets/"), url
        assert "//" not in url


async def test_docs_page_has_nothing_inline(client):
    page = await docs_page(client)
    assert page.inline_scripts == 0
    assert page.inline_styles == 0
    assert page.style_attributes == 0
    assert page.event_handlers == 0


async def test_every_asset_the_docs_page_references_is_served(client):
    page = await docs_page(client)
    expected_types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in page.urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0
        suffix = url[url.rindex(".") :]
        assert response.headers["content-type"].startswith(expected_types[suffix])
        assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_swagger_init_script_points_at_the_local_openapi_document(client):
    page = await docs_page(client)
    response = await client.get("/docs")
    assert 'data-openapi-url="/openapi.json"' in response.text
    script = (await client.get("/docs/assets/swagger-init.js")).text
    assert "SwaggerUIBundle(" in script
    assert "validatorUrl: null" in script
    assert "http://" not in script
    assert "https://" not in script
    assert "/docs/assets/swagger-init.js" in page.urls


async def test_the_bundled_swagger_ui_loads_nothing_from_a_cdn(client):
    css = (await client.get("/docs/assets/swagger-ui.css")).text
    # The stylesheet embeds its images; an external url() would break offline use.
    for reference in css.split("url(")[1:]:
        assert reference.lstrip("\"'").startswith("data:"), reference[:40]


async def test_docs_title_is_escaped(client):
    response = await client.get("/docs")
    assert "openbell &lt;test&gt;" in response.text
    assert "<test>" not in response.text


async def test_unknown_asset_is_a_404_problem(client):
    response = await client.get("/docs/assets/../../etc/passwd")
    assert response.status_code == 404
    response = await client.get("/docs/assets/evil.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_assets_revalidate_with_their_etag(client):
    first = await client.get("/docs/assets/swagger-ui.css")
    etag = first.headers["etag"]
    again = await client.get("/docs/assets/swagger-ui.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_docs_can_be_switched_off(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, api_docs_enabled=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 404


async def test_docs_respect_the_root_path(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/docs")
    assert 'src="/api/docs/assets/swagger-ui-bundle.js"' in response.text
    assert 'data-openapi-url="/api/openapi.json"' in response.text
