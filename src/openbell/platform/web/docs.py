"""Offline API docs: Swagger UI from files shipped in the installed packages, never a CDN.

The page has no inline script or style, so it runs under `script-src 'self'; style-src 'self'`.
"""

import hashlib
import html
from collections.abc import Awaitable, Callable
from functools import cache
from importlib.resources import files

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_ASSETS: dict[str, tuple[str, str, str]] = {
    # url name: (package, file name, media type)
    "swagger-ui-bundle.js": (
        "fastapi_swagger.resources",
        "swagger-ui-bundle.js",
        "text/javascript",
    ),
    "swagger-ui.css": ("fastapi_swagger.resources", "swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("fastapi_swagger.resources", "favicon-32x32.png", "image/png"),
    "swagger-init.js": ("openbell.platform.web", "static/swagger-init.js", "text/javascript"),
}
ASSET_NAMES = frozenset(_ASSETS)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


@cache
def _asset(name: str) -> tuple[bytes, str, str]:
    """The file's bytes, media type and ETag, read once on first use."""
    package, file_name, media_type = _ASSETS[name]
    content = files(package).joinpath(file_name).read_bytes()
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    return content, media_type, etag


async def _serve_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _ASSETS:
        raise HTTPException(404)
    content, media_type, etag = _asset(name)
    # The files change only with an upgrade; the ETag lets browsers revalidate cheaply.
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


def _page_endpoint(
    title: str, openapi_path: str, docs_path: str
) -> Callable[[Request], Awaitable[Response]]:
    async def swagger_page(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        page = _PAGE.format(
            title=html.escape(f"{title} · API docs"),
            assets=html.escape(f"{root}{docs_path}/assets"),
            openapi_url=html.escape(f"{root}{openapi_path}"),
        )
        return HTMLResponse(page)

    return swagger_page


def docs_routes(
    *, title: str, openapi_path: str = "/openapi.json", docs_path: str = "/docs"
) -> list[Route]:
    return [
        Route(docs_path, _page_endpoint(title, openapi_path, docs_path), include_in_schema=False),
        Route(f"{docs_path}/assets/{{name}}", _serve_asset, include_in_schema=False),
    ]
