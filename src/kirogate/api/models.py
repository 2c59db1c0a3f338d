"""``GET /v1/models``: the OpenAI list shape, or Anthropic's when ``anthropic-version`` is sent."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.api.common import authorized_gateway, model_for
from kirogate.api.responses import json_response
from kirogate.convert.models import ModelInfo, ModelTable, list_public_models

router = APIRouter()

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


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    await authorized_gateway(request)
    models = _public(request)
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


@router.get("/v1/models/{model_id:path}")
async def get_model(request: Request, model_id: str) -> Response:
    await authorized_gateway(request)
    info = model_for(request, model_id)
    if "anthropic-version" in request.headers:
        return json_response(_anthropic(info) | {"id": model_id})
    return json_response(_openai(info) | {"id": model_id})
