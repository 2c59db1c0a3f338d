"""``/`` (landing page), ``/docs`` (Swagger UI, offline) and ``/openapi.json``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.api.pages import landing_html, openapi_schema
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    gateway = Gateway(load_settings({}), [])
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw.test:8990") as client:
        yield client
    await gateway.close()


def urls_in(page: str) -> list[str]:
    return re.findall(r'(?:src|href|url)\s*[=:]\s*"([^"]*)"', page)


async def test_landing_page_names_the_client_base_urls_and_links(http: httpx2.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<code>http://gw.test:8990</code>" in page
    assert "<code>http://gw.test:8990/v1</code>" in page
    assert {"/docs", "/admin", "/health", "/version"} <= set(urls_in(page))


def test_landing_page_escapes_the_host_it_is_given() -> None:
    page = landing_html('http://evil"><script>x()</script>')
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


async def test_docs_page_references_only_local_urls(http: httpx2.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    page = response.text
    urls = urls_in(page)
    assert urls, "the page loads its script, stylesheet and spec"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "http://" not in page and "https://" not in page
    script = (await http.get("/docs/assets/docs.js")).text
    assert "validatorUrl: null" in script  # the page's script is served, not inline


async def test_every_asset_the_docs_page_loads_is_served(http: httpx2.AsyncClient) -> None:
    page = (await http.get("/docs")).text
    for url in urls_in(page):
        response = await http.get(url)
        assert response.status_code == 200, url
    script = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


async def test_only_the_listed_assets_are_served(http: httpx2.AsyncClient) -> None:
    for name in ("index.html", "..%2F__init__.py", "swagger-ui.js.map"):
        response = await http.get(f"/docs/assets/{name}")
        assert response.status_code == 404


async def test_openapi_documents_client_and_admin_apis(http: httpx2.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert paths["/v1/messages"]["post"]["tags"] == ["Anthropic"]
    assert paths["/v1/chat/completions"]["post"]["tags"] == ["OpenAI"]
    assert paths["/api/admin/credentials"]["get"]["tags"] == ["Admin API"]
    assert "requestBody" in paths["/v1/responses"]["post"]
    assert not {"/", "/docs", "/openapi.json"} & set(paths)


def refs_in(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs_in(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs_in(value) for value in node))
    return set()


async def test_openapi_documents_every_body_and_error_answer(http: httpx2.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert "422" not in operation["responses"], where  # no route answers FastAPI's 422
            if path.endswith(("/reset", "/regenerate")):
                assert "requestBody" not in operation, where  # these read no body
            elif method in ("post", "put"):
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert body.get("properties"), where
            if path.startswith(("/v1/", "/cc/", "/api/admin/")):
                errors = {status for status in operation["responses"] if status.startswith("4")}
                assert {"401", "404"} <= errors, where
    assert "$defs" not in str(schema)
    components = schema["components"]["schemas"]
    for ref in refs_in(schema):
        assert ref.removeprefix("#/components/schemas/") in components, ref


async def test_openapi_tags_each_api_by_resource(http: httpx2.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert paths["/v1/responses"]["post"]["tags"] == ["Responses"]
    assert paths["/v1/models"]["get"]["tags"] == ["Models"]
    assert paths["/cc/v1/messages"]["post"]["tags"] == ["Anthropic (buffered for Claude Code)"]


async def test_docs_script_reads_the_openapi_version_fastapi_writes(
    http: httpx2.AsyncClient,
) -> None:
    # Swagger UI 4.x refuses OpenAPI 3.1 ("Unable to render this definition"); 5.x reads it.
    version = (await http.get("/openapi.json")).json()["openapi"]
    script = (await http.get("/docs/assets/swagger-ui-bundle.js")).text
    found = re.search(r'PACKAGE_VERSION:"(\d+)\.', script)
    assert found is not None
    assert version.startswith("3.1") and int(found.group(1)) >= 5


async def test_pages_have_a_csp_allowing_only_their_own_files(http: httpx2.AsyncClient) -> None:
    for path in ("/", "/docs"):
        response = await http.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp


async def test_pages_have_no_inline_script_or_style(http: httpx2.AsyncClient) -> None:
    for path in ("/", "/docs"):
        page = (await http.get(path)).text
        assert "<style" not in page
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []


async def test_landing_page_stylesheet_is_served(http: httpx2.AsyncClient) -> None:
    urls = urls_in((await http.get("/")).text)
    (css,) = [url for url in urls if url.endswith(".css")]
    response = await http.get(css)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_each_app_documents_the_same_components() -> None:
    # The routes' body schemas are shared by every app; building one must not change them.
    documents = []
    for _ in range(2):
        app = create_app(Gateway(load_settings({}), []), metrics=GatewayMetrics(), environ={})
        documents.append(openapi_schema(app.routes))
    assert documents[0]["components"] == documents[1]["components"]
    assert "Message" in documents[1]["components"]["schemas"]
