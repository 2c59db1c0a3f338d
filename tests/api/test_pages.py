"""``/`` (landing page), ``/docs`` (Swagger UI, offline) and ``/openapi.json``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.api.pages import landing_html
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
    assert "validatorUrl: null" in page


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


async def test_docs_script_reads_the_openapi_version_fastapi_writes(
    http: httpx2.AsyncClient,
) -> None:
    # Swagger UI 4.x refuses OpenAPI 3.1 ("Unable to render this definition"); 5.x reads it.
    version = (await http.get("/openapi.json")).json()["openapi"]
    script = (await http.get("/docs/assets/swagger-ui-bundle.js")).text
    found = re.search(r'PACKAGE_VERSION:"(\d+)\.', script)
    assert found is not None
    assert version.startswith("3.1") and int(found.group(1)) >= 5
