"""``/`` (a landing page), ``/docs`` (Swagger UI) and ``/openapi.json`` for people with a browser.

Both pages work offline: Swagger UI's script and stylesheet are served by kirogate from
the ``fastapi-offline`` package (Swagger UI 5, which reads the OpenAPI 3.1 that FastAPI
writes; ``swagger-ui-bundle`` ships 4.x, which cannot), never from a CDN, and its online spec
validator is off.
The pages need no key and show none; they name only the URLs a client needs.
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from kirogate import __version__
from kirogate.api.json_reply import json_response
from kirogate.errors import NotFound

router = APIRouter(include_in_schema=False)

DOCS_ASSETS = "/docs/assets"
# The only files of the bundle served, with their media types.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# Our own page files (``static/``): no inline script or style, so the CSP can forbid both.
_OWN_ASSETS = {
    "docs.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
STATIC_DIR = Path(__file__).parent / "static"
# The HTML pages load only this gateway's own files; Swagger UI's stylesheet draws its icons
# from data: URLs. No inline script or style, no framing, no plugins.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_PAGE_HEADERS = {"content-security-policy": PAGE_CSP}
# OpenAPI tags by path prefix, first match wins.
_TAGS = (
    ("/cc/", "Anthropic (buffered for Claude Code)"),
    ("/v1/messages", "Anthropic"),
    ("/v1/chat/", "OpenAI"),
    ("/v1/responses", "Responses"),
    ("/v1/models", "Models"),
    ("/api/admin/", "Admin API"),
)
_PROBES = "Probes and metrics"


@cache
def swagger_dir() -> Path:
    """Where the installed ``fastapi-offline`` keeps Swagger UI's files."""
    spec = importlib.util.find_spec("fastapi_offline")  # located, not imported
    if spec is None or spec.origin is None:
        raise NotFound("the API documentation's assets are not installed (fastapi-offline)")
    return Path(spec.origin).parent / "static"


def base_of(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def root_of(request: Request) -> str:
    """The path prefix the app is mounted at (``""`` at the root), for same-origin links."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def landing_html(base: str, root: str = "") -> str:
    """The landing page for a gateway reached at ``base`` (escaped: it comes from ``Host``).

    Links are root-relative, so they work behind a proxy that changes the scheme or host.
    """
    b = html.escape(base, quote=True)
    r = html.escape(root, quote=True)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>kirogate</title><link rel="stylesheet" href="{r}{DOCS_ASSETS}/page.css"></head>
<body>
<h1>kirogate</h1>
<p class="muted">version {html.escape(__version__)}</p>
<p>An Anthropic- and OpenAI-compatible gateway: Claude Code, the <code>anthropic</code> and
<code>openai</code> SDKs and other clients talk to it, and it answers from Kiro credentials.</p>
<h2>Connect a client</h2>
<table>
<tr><td>Anthropic clients (base URL)</td><td><code>{b}</code></td></tr>
<tr><td>OpenAI clients (base URL)</td><td><code>{b}/v1</code></td></tr>
<tr><td>Claude Code</td><td><code>ANTHROPIC_BASE_URL={b}</code></td></tr>
</table>
<p>Every request needs the client key: <code>x-api-key</code> or
<code>Authorization: Bearer</code>. <code>kirogate serve</code> prints it, and
<code>kirogate config show</code> says where it is kept.</p>
<h2>More</h2>
<ul>
<li><a href="{r}/docs">API documentation</a> (client and admin APIs, OpenAPI)</li>
<li><a href="{r}/admin">Console</a> (sign in with the admin key)</li>
<li><a href="{r}/health">Health</a> and <a href="{r}/version">version</a></li>
</ul>
</body></html>
"""


def docs_html(root: str = "") -> str:
    """Swagger UI for ``/openapi.json``; every URL in it is a root-relative path of this
    gateway's own (behind a proxy that changes the scheme, absolute URLs would break)."""
    b = html.escape(root, quote=True)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>kirogate API</title>
<link rel="icon" type="image/png" href="{b}{DOCS_ASSETS}/favicon.png">
<link rel="stylesheet" href="{b}{DOCS_ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="{b}/openapi.json"></div>
<script src="{b}{DOCS_ASSETS}/swagger-ui-bundle.js"></script>
<script src="{b}{DOCS_ASSETS}/docs.js"></script>
</body></html>
"""


def _tag(path: str) -> str:
    for prefix, tag in _TAGS:
        if path.startswith(prefix):
            return tag
    return _PROBES


def _hoist_defs(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Move the ``$defs`` of the operation's body schema to ``components/schemas`` (where
    :data:`kirogate.api.schemas.REF_TEMPLATE` points)."""
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        # Replaced, not changed: the schema is the route's own (shared) openapi_extra.
        schema = media.get("schema", {})
        for name, definition in schema.get("$defs", {}).items():
            if components.setdefault(name, definition) != definition:
                raise ValueError(f"two different body schemas are named {name!r}")
        media["schema"] = {key: value for key, value in schema.items() if key != "$defs"}


def openapi_schema(routes: list[Any]) -> dict[str, Any]:
    """The OpenAPI document of the client and admin APIs, operations tagged by API.

    The endpoints read their JSON themselves (no pydantic models at the route); each route
    documents its body and error answers (:mod:`kirogate.api.schemas`,
    :mod:`kirogate.admin.schemas`). FastAPI's 422 answer is dropped: no route gives it.
    """
    schema = get_openapi(
        title="kirogate",
        version=__version__,
        description=(
            "Anthropic Messages, OpenAI Chat Completions and Responses on Kiro credentials. "
            "Client routes take the client key (`x-api-key` or `Authorization: Bearer`); "
            "the admin API (`/api/admin`) takes the admin key. Bodies follow the Anthropic "
            "and OpenAI API references."
        ),
        routes=routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            operation["tags"] = [_tag(path)]
            if path.startswith(("/v1/", "/cc/", "/api/admin/")):
                operation["security"] = [{"apiKey": []}, {"bearer": []}]
            operation.get("responses", {}).pop("422", None)
            _hoist_defs(operation, components)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    schema["components"]["securitySchemes"] = {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "bearer": {"type": "http", "scheme": "bearer"},
    }
    return schema


@router.get("/")
async def landing(request: Request) -> Response:
    return HTMLResponse(landing_html(base_of(request), root_of(request)), headers=_PAGE_HEADERS)


@router.get("/docs")
async def docs(request: Request) -> Response:
    return HTMLResponse(docs_html(root_of(request)), headers=_PAGE_HEADERS)


@router.get(DOCS_ASSETS + "/{name}")
async def docs_asset(name: str) -> Response:
    if name in _ASSETS:
        path, media_type = swagger_dir() / name, _ASSETS[name]
    elif name in _OWN_ASSETS:
        path, media_type = STATIC_DIR / name, _OWN_ASSETS[name]
    else:
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(
        path,
        media_type=media_type,
        headers={"cache-control": "public, max-age=86400"},
    )


@router.get("/openapi.json")
async def openapi(request: Request) -> Response:
    state = request.app.state
    schema = getattr(state, "openapi_schema", None)
    if schema is None:
        schema = state.openapi_schema = openapi_schema(request.app.routes)
    return json_response(schema)
