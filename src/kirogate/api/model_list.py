"""``GET /v1/models``: the OpenAI list shape, or Anthropic's when ``anthropic-version`` is sent.

Only the models some usable credential's plan allows are listed (no Opus when every credential
is on a FREE plan); asking for another one by id is the 404 a request for it would get.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import authorized_gateway, key_allows, model_for
from kirogate.api.schemas import READ_ERRORS, AnthropicError, error_responses
from kirogate.convert.models import ModelInfo, ModelTable, list_public_models
from kirogate.errors import ModelNotAllowed

router = APIRouter()

# Errors here are in Anthropic's shape: /v1/models is not an OpenAI-only path.
_ERRORS = error_responses(AnthropicError, READ_ERRORS)
# ``anthropic-version`` picks Anthropic's list shape over OpenAI's.
_VERSION_HEADER = {
    "parameters": [
        {
            "name": "anthropic-version",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "sent: Anthropic's model shape; absent: OpenAI's",
        }
    ]
}

CREATED = 1_735_689_600  # a fixed, plausible "created" for every model (2025-01-01)


def _public(request: Request) -> list[ModelInfo]:
    table: ModelTable | None = getattr(request.app.state, "models", None)
    return table.list_public() if table is not None else list_public_models()


def _anthropic(info: ModelInfo) -> dict[str, object]:
    return {
        "type": "model",
        "id": info.public_id,
        "display_name": info.public_id,
        "created_at": "2025-01-01T00:00:00Z",
    }


def _openai(info: ModelInfo) -> dict[str, object]:
    return {"id": info.public_id, "object": "model", "created": CREATED, "owned_by": "kirogate"}


@router.get("/v1/models", openapi_extra=_VERSION_HEADER, responses=_ERRORS)
async def list_models(request: Request) -> Response:
    gateway = await authorized_gateway(request)
    models = [
        info
        for info in _public(request)
        if gateway.serves_model(info) and key_allows(request, info)
    ]
    if "anthropic-version" in request.headers:
        data = [_anthropic(info) for info in models]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return json_response({"object": "list", "data": [_openai(info) for info in models]})


@router.get("/v1/models/{model_id:path}", openapi_extra=_VERSION_HEADER, responses=_ERRORS)
async def get_model(request: Request, model_id: str) -> Response:
    gateway = await authorized_gateway(request)
    info = model_for(request, model_id)
    if not gateway.serves_model(info):
        raise ModelNotAllowed(
            f"model {model_id} is not available on this account's plan; "
            "GET /v1/models lists the models it can use"
        )
    if "anthropic-version" in request.headers:
        return json_response(_anthropic(info) | {"id": model_id})
    return json_response(_openai(info) | {"id": model_id})
