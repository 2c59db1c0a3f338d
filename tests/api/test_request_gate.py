"""``endpoint_path``: ``request.url.path`` without building the URL."""

import pytest
from starlette.requests import Request

from kirogate.api.request_gate import endpoint_path


def request_for(path: str) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "query_string": b"a=1",
        "headers": [(b"host", b"example.test:8080")],
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
    }
    return Request(scope)


@pytest.mark.parametrize(
    "path", ["/v1/messages", "/cc/v1/messages", "/v1/chat/completions", "/odd?#\\path", "/é"]
)
def test_endpoint_path_is_the_url_path(path: str) -> None:
    assert endpoint_path(request_for(path)) == request_for(path).url.path
