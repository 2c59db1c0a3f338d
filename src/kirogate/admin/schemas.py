"""The admin request bodies and error envelope as JSON Schemas, for ``/openapi.json`` only.

The routes read their bodies themselves (:mod:`~kirogate.admin.fields`,
:func:`~kirogate.upstream.auth.sources.credential_from_object`); these models describe what
those accept: the same required fields and ranges, and additional properties where the route
keeps or ignores unknown ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from kirogate.api.schemas import json_body
from kirogate.service.operations import PoolMode
from kirogate.upstream.credentials import MAX_PRIORITY, MAX_STORED_INT

AuthMethodName = Literal["social", "idc", "builder-id", "iam", "api_key", "apikey", "external_idp"]
_NOT_BLANK = r"\S"

# The path's credential number. The pattern is for the schema only: the route parses the id
# itself (:func:`~kirogate.admin.fields.parse_credential_id`), so anything else is its 400.
CredentialId = Annotated[
    str,
    Path(
        description="the credential's number, as the listing gives it",
        json_schema_extra={"pattern": "^[0-9]{1,19}$"},
    ),
]


class AddCredentialBody(BaseModel):
    """``POST /api/admin/credentials``: one credential, in kiro.rs's camelCase fields.

    A refresh token, or a Kiro API key (``ksk_...``); IdC credentials need ``clientId`` and
    ``clientSecret`` too, external IdP ones ``tokenEndpoint``. An ``id`` is ignored (the
    gateway assigns it); unknown fields are kept with the credential.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"anyOf": [{"required": ["refreshToken"]}, {"required": ["kiroApiKey"]}]},
    )

    refreshToken: Annotated[str | None, Field(pattern=_NOT_BLANK)] = None
    kiroApiKey: Annotated[str | None, Field(pattern=_NOT_BLANK)] = None
    authMethod: AuthMethodName | None = None
    clientId: str | None = None
    clientSecret: str | None = None
    accessToken: str | None = None
    expiresAt: str | float | None = Field(None, description="RFC 3339, or epoch seconds")
    profileArn: str | None = None
    region: str | None = None
    authRegion: str | None = None
    apiRegion: str | None = None
    machineId: str | None = Field(None, description="64 hex characters or a UUID")
    email: str | None = None
    priority: Annotated[int | None, Field(ge=0, le=MAX_STORED_INT)] = None
    proxyUrl: str | None = Field(
        None, description="http://, https://, socks5:// (user:password@ allowed) or 'direct'"
    )
    proxyUsername: str | None = None
    proxyPassword: str | None = None
    disabled: bool | None = None
    endpoint: Literal["ide"] | None = None
    provider: str | None = None
    tokenEndpoint: str | None = None


class DisabledBody(BaseModel):
    """``POST /api/admin/credentials/{id}/disabled``."""

    model_config = ConfigDict(extra="allow")

    disabled: bool


class PriorityBody(BaseModel):
    """``POST /api/admin/credentials/{id}/priority``: lower is tried first."""

    model_config = ConfigDict(extra="allow")

    priority: Annotated[int, Field(ge=0, le=MAX_PRIORITY)]


class LoadBalancingBody(BaseModel):
    """``PUT /api/admin/config/load-balancing``."""

    model_config = ConfigDict(extra="allow")

    mode: PoolMode


class AdminErrorDetail(BaseModel):
    type: Literal[
        "invalid_request",
        "authentication_error",
        "not_found",
        "rate_limit_error",
        "api_error",
        "service_unavailable",
        "internal_error",
    ]
    message: str


class AdminError(BaseModel):
    """kiro.rs's admin error body: ``{"error": {"type", "message"}}``."""

    error: AdminErrorDetail


_REASONS = {
    400: "The body, a field or the credential id is invalid; the message names the field.",
    401: "The admin key is missing or wrong.",
    404: "No such credential, or the admin API is off (no admin key configured).",
    413: "The body is larger than the gateway's limit (`server.max_body_size`).",
    429: "Too many attempts.",
    502: "The upstream (token refresh, balance) failed.",
    503: "The database is not answering.",
}


# What a route that reads a body can answer.
BODY_ERRORS = (400, 401, 404, 413, 503)


def admin_errors(statuses: Iterable[int] = (400, 401, 404, 503)) -> dict[int | str, Any]:
    """FastAPI's ``responses=`` for ``statuses`` in the admin envelope."""
    return {status: {"model": AdminError, "description": _REASONS[status]} for status in statuses}


ADD_CREDENTIAL = json_body(AddCredentialBody)
SET_DISABLED = json_body(DisabledBody)
SET_PRIORITY = json_body(PriorityBody)
SET_LOAD_BALANCING = json_body(LoadBalancingBody)
