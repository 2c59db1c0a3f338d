"""``json_response``: an orjson body, the status and headers given, JSON's media type."""

from __future__ import annotations

import orjson

from kirogate.api.json_reply import json_response


def test_body_is_compact_orjson_with_the_json_media_type() -> None:
    response = json_response({"a": [1, "é"], "b": None})
    assert response.status_code == 200
    assert response.body == orjson.dumps({"a": [1, "é"], "b": None})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.body))


def test_status_and_extra_headers_are_kept() -> None:
    response = json_response({"error": {}}, status=429, headers={"retry-after": "3"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def test_non_object_bodies_are_serialised_too() -> None:
    assert json_response([1, 2]).body == b"[1,2]"
    assert json_response("text").body == b'"text"'
