"""``/api/admin/proxies``: the proxy pool (HTTP, HTTPS, SOCKS5), its test, and assignments.

Credentials are never shown back whole: the URL comes without them, the username and the
password masked. How credentials without an assigned proxy rotate over the pool is the setting
``proxy.strategy``. Every change reaches every instance within a second (the ``proxies`` topic).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.fields import parse_credential_id
from kirogate.admin.schemas import BODY_ERRORS, CredentialId, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of, read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest, NotFound

router = APIRouter(route_class=AdminRoute, tags=["Proxies"])

MAX_ID = 2**31 - 1
_FIELDS = ("url", "username", "password", "label", "disabled")

ProxyId = Annotated[
    str,
    Path(description="the proxy's number", json_schema_extra={"pattern": "^[0-9]{1,10}$"}),
]


class AddProxyBody(BaseModel):
    """``POST /api/admin/proxies``: ``http://``, ``https://``, ``socks5://`` or ``socks5h://``
    with a host and port; credentials in the URL (``user:pass@``) or as fields."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="e.g. socks5://user:pass@10.0.0.5:1080")
    username: str | None = None
    password: str | None = None
    label: str | None = Field(None, max_length=200)


class EditProxyBody(BaseModel):
    """``PATCH /api/admin/proxies/{id}``: any of the fields; ``null`` clears a credential."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    username: str | None = None
    password: str | None = None
    label: str | None = Field(None, max_length=200)
    disabled: bool | None = None


class AssignBody(BaseModel):
    """``PUT /api/admin/credentials/{id}/proxy``: a proxy's id, or ``null`` for the pool."""

    model_config = ConfigDict(extra="forbid")

    proxy_id: int | None = Field(ge=1, le=MAX_ID)


class ProxyView(BaseModel):
    id: int
    url: str = Field(description="without credentials")
    username: str | None = Field(description="masked")
    password: str | None = Field(description="masked")
    label: str | None
    disabled: bool
    down_for: float | None = Field(description="seconds this instance still rests it")
    failures: int
    uses: int
    credentials: list[int] = Field(description="credentials assigned to it")
    strategy: str | None


class ProxyList(BaseModel):
    total: int
    strategy: str | None
    proxies: list[ProxyView]


class ProbeView(BaseModel):
    ok: bool
    latency_ms: float | None
    status: int | None = Field(description="the upstream's HTTP status through the proxy")
    error: str | None
    proxy: str = Field(description="the proxy, masked")


class Done(BaseModel):
    success: bool
    message: str
    status: Literal["ok"] = "ok"


def _ok(model: type[BaseModel], status: int = 200) -> dict[int | str, Any]:
    return {status: {"model": model, "description": "done"}}


def _proxy_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequest(f"proxy id {raw[:40]!r} is not a number", param="id")
    value = int(raw)
    if value > MAX_ID:
        raise NotFound(f"proxy {value} does not exist")
    return value


def _fields(body: dict[str, Any], *, allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    for name, value in body.items():
        if name == "disabled":
            if not isinstance(value, bool):
                raise InvalidRequest("disabled must be true or false", param="disabled")
        elif value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string", param=name)
    return body


@router.get("/proxies", responses={**_ok(ProxyList), **admin_errors((401, 404, 503))})
async def list_proxies(request: Request) -> Response:
    views = await operations_of(request).proxy_views()
    # With no proxy stored yet, the strategy the first one will be used by.
    strategy = views[0]["strategy"] if views else str(gateway_of(request).settings.proxy.strategy)
    return json_response({"total": len(views), "strategy": strategy, "proxies": views})


@router.post(
    "/proxies",
    status_code=201,
    openapi_extra=json_body(
        AddProxyBody, {"url": "socks5://10.0.0.5:1080", "username": "me", "password": "pw"}
    ),
    responses={**_ok(ProxyView, 201), **admin_errors(BODY_ERRORS)},
)
async def add_proxy(request: Request) -> Response:
    body = _fields(
        await read_json_object(request), allowed=("url", "username", "password", "label")
    )
    url = body.get("url")
    if not isinstance(url, str):
        raise InvalidRequest("give the proxy URL, e.g. http://host:8080", param="url")
    operations = operations_of(request)
    record = await operations.add_proxy(
        url, username=body.get("username"), password=body.get("password"), label=body.get("label")
    )
    return json_response(await operations.proxy_view(record.id), status=201)


@router.get(
    "/proxies/{proxy_id}", responses={**_ok(ProxyView), **admin_errors((400, 401, 404, 503))}
)
async def get_proxy(request: Request, proxy_id: ProxyId) -> Response:
    return json_response(await operations_of(request).proxy_view(_proxy_id(proxy_id)))


@router.patch(
    "/proxies/{proxy_id}",
    openapi_extra=json_body(EditProxyBody, {"label": "office", "disabled": False}),
    responses={**_ok(ProxyView), **admin_errors(BODY_ERRORS)},
)
async def edit_proxy(request: Request, proxy_id: ProxyId) -> Response:
    pid = _proxy_id(proxy_id)
    changes = _fields(await read_json_object(request), allowed=_FIELDS)
    if not changes:
        raise InvalidRequest(f"give at least one of {', '.join(_FIELDS)}", param="body")
    if "url" in changes and changes["url"] is None:
        raise InvalidRequest("url cannot be null", param="url")
    operations = operations_of(request)
    await operations.update_proxy(pid, **changes)
    return json_response(await operations.proxy_view(pid))


@router.delete("/proxies/{proxy_id}", responses={**_ok(Done), **admin_errors((400, 401, 404, 503))})
async def delete_proxy(request: Request, proxy_id: ProxyId) -> Response:
    pid = _proxy_id(proxy_id)
    await operations_of(request).remove_proxy(pid)
    return json_response({"success": True, "message": f"proxy #{pid} deleted", "status": "ok"})


@router.post(
    "/proxies/{proxy_id}/test",
    responses={**_ok(ProbeView), **admin_errors((400, 401, 404, 503))},
)
async def test_proxy(request: Request, proxy_id: ProxyId) -> Response:
    pid = _proxy_id(proxy_id)
    operations = operations_of(request)
    result = await operations.test_proxy(pid)
    view = await operations.proxy_view(pid)
    return json_response(
        {
            "ok": result.ok,
            "latency_ms": result.latency_ms,
            "status": result.status,
            "error": result.error,
            "proxy": view["url"],
        }
    )


@router.put(
    "/credentials/{credential_id}/proxy",
    openapi_extra=json_body(AssignBody, {"proxy_id": 1}),
    responses={**_ok(Done), **admin_errors(BODY_ERRORS)},
)
async def assign_proxy(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    body = _fields_assign(await read_json_object(request))
    await operations_of(request).assign_proxy(cid, body)
    target = f"proxy #{body}" if body is not None else "the proxy pool's strategy"
    return json_response(
        {"success": True, "message": f"credential #{cid} now uses {target}", "status": "ok"}
    )


def _fields_assign(body: dict[str, Any]) -> int | None:
    unknown = sorted(set(body) - {"proxy_id"})
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    if "proxy_id" not in body:
        raise InvalidRequest("give proxy_id (a proxy's number, or null)", param="proxy_id")
    value = body["proxy_id"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidRequest("proxy_id must be a proxy's number or null", param="proxy_id")
    return value
