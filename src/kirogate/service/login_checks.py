"""Checks of what an operator sends to start or finish a login; each failure is an
:class:`InvalidRequest` naming its field."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from kirogate.errors import InvalidRequest
from kirogate.upstream.auth import oidc

PROVIDERS = ("google", "github")
MAX_URL_LENGTH = 4096
BUILDER_ID_START_URL = oidc.BUILDER_ID_START_URL
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
_LOGIN_ID = re.compile(r"login_[0-9a-f]{24}")
_REDIRECT_SCHEMES = ("http", "https", "kiro")


def state_hash(state: str) -> str:
    """How a login's state is kept and looked up: never the state itself."""
    return hashlib.sha256(state.encode("utf-8", errors="replace")).hexdigest()


def valid_login_id(login_id: str) -> bool:
    return _LOGIN_ID.fullmatch(login_id) is not None


def check_region(region: object, default: str) -> str:
    if region is None:
        return default
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise InvalidRequest(
            "field 'region' must be an AWS region such as us-east-1", param="region"
        )
    return region


def check_start_url(start_url: object) -> str:
    """The IAM Identity Center portal URL, or Builder ID's when none is given."""
    if start_url is None:
        return oidc.BUILDER_ID_START_URL
    problem = (
        "field 'start_url' must be an https:// URL such as https://d-1234567890.awsapps.com/start"
    )
    if not isinstance(start_url, str) or len(start_url) > MAX_URL_LENGTH:
        raise InvalidRequest(problem, param="start_url")
    start_url = start_url.strip()
    try:
        parts = urlsplit(start_url)
    except ValueError:
        raise InvalidRequest(problem, param="start_url") from None
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in start_url):
        raise InvalidRequest(problem, param="start_url")
    return start_url


def check_provider(provider: object) -> str:
    if not isinstance(provider, str) or provider.lower() not in PROVIDERS:
        raise InvalidRequest("field 'provider' must be google or github", param="provider")
    return provider.lower()


def check_redirect_uri(redirect_uri: object) -> str:
    """Kiro's own ``kiro://`` address unless another is given (e.g. kirogate's callback)."""
    if redirect_uri is None:
        return oidc.KIRO_REDIRECT_URI
    problem = "field 'redirect_uri' must be an http://, https:// or kiro:// URL without a fragment"
    if not isinstance(redirect_uri, str) or len(redirect_uri) > MAX_URL_LENGTH:
        raise InvalidRequest(problem, param="redirect_uri")
    try:
        parts = urlsplit(redirect_uri)
    except ValueError:
        raise InvalidRequest(problem, param="redirect_uri") from None
    if (
        parts.scheme not in _REDIRECT_SCHEMES
        or not parts.netloc
        or parts.fragment
        or any(c.isspace() for c in redirect_uri)
    ):
        raise InvalidRequest(problem, param="redirect_uri")
    return redirect_uri


def redirect_params(url: object) -> dict[str, str]:
    """The query of the address the browser ended on (or of the bare query string)."""
    problem = "field 'url' must be the address the browser ended on (…?code=…&state=…)"
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(problem, param="url")
    text = url.strip()
    try:
        query = urlsplit(text).query if "?" in text else text
    except ValueError:
        raise InvalidRequest(problem, param="url") from None
    params = {key: values[0] for key, values in parse_qs(query).items() if values}
    if "state" not in params:
        raise InvalidRequest(problem + ": it has no state", param="url")
    return params
