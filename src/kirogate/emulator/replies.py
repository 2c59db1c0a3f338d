"""What a scenario answers: a plain HTTP error, or a scripted event stream.

The error bodies are the exact upstream ones of spec data §7.1 / TV9 and spec auth §2.3;
where the spec gives only a marker string (suspension, 503, profile errors) the body is
the team's best guess and is flagged as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

UNEXPECTED_ERROR: Final = (
    "Encountered an unexpected error when processing the request, please try again."
)
INVALID_BEARER: Final = "The bearer token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A JSON answer sent before any stream bytes."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Frame:
    """One event; pacing delays apply before it."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Chunks:
    """Bytes sent as exactly these HTTP chunks (bypassing random splitting); one pacing step."""

    parts: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Stall:
    """Send nothing for a while (the connection stays open)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection at once, without the terminating zero-length chunk."""


Step: TypeAlias = Frame | Chunks | Stall | Drop


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A 200 event stream. ``credits`` is what the account is charged when it completes."""

    steps: tuple[Step, ...]
    credits: float = 0.0
    stall_before_headers: float = 0.0


Reply: TypeAlias = HttpReply | StreamReply


def frames(*data: bytes) -> tuple[Step, ...]:
    return tuple(Frame(item) for item in data)


# ---------------------------------------------------------------- data-plane errors (TV9)


def improperly_formed() -> HttpReply:
    return HttpReply(400, {"message": "Improperly formed request.", "reason": None})


def input_too_long() -> HttpReply:
    return HttpReply(
        400, {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}
    )


def invalid_model() -> HttpReply:
    return HttpReply(
        400,
        {
            "message": "Invalid model. Please select a different model to continue.",
            "reason": "INVALID_MODEL_ID",
        },
    )


def monthly_quota() -> HttpReply:
    return HttpReply(
        402, {"message": "You have reached the limit.", "reason": "MONTHLY_REQUEST_COUNT"}
    )


def invalid_bearer() -> HttpReply:
    return HttpReply(403, {"message": INVALID_BEARER})


def suspended() -> HttpReply:
    # Spec gives only the markers TEMPORARILY_SUSPENDED / "temporarily is suspended".
    return HttpReply(
        403,
        {
            "message": "Your User ID temporarily is suspended. Please contact support.",
            "reason": "TEMPORARILY_SUSPENDED",
        },
    )


def throttled(
    *,
    retry_after: str | None = None,
    reason: str | None = None,
    quota_reset_timestamp: float | None = None,
) -> HttpReply:
    body: dict[str, Any] = {"message": "Rate exceeded", "__type": "ThrottlingException"}
    if reason:
        body["reason"] = reason
    # The spec names quota_reset_timestamp without saying where it goes; we put it in the body.
    if quota_reset_timestamp is not None:
        body["quota_reset_timestamp"] = quota_reset_timestamp
    headers = {"x-amzn-ErrorType": "ThrottlingException"}
    if retry_after:
        headers["Retry-After"] = retry_after
    return HttpReply(429, body, headers)


def internal_error() -> HttpReply:
    return HttpReply(500, {"message": UNEXPECTED_ERROR})


def unavailable() -> HttpReply:
    # Not in the spec's list: modelled on the 5xx InternalServerException family.
    return HttpReply(
        503,
        {"message": "Service is temporarily unavailable.", "__type": "ServiceUnavailableException"},
        {"x-amzn-ErrorType": "ServiceUnavailableException"},
    )


def profile_required() -> HttpReply:
    return HttpReply(400, {"message": "profileArn is required for this request.", "reason": None})


def profile_malformed() -> HttpReply:
    return HttpReply(400, {"message": "Invalid profileArn", "reason": None})


def profile_denied() -> HttpReply:
    # "A profileArn from a different account gave 403" (spec data §1.1); the body is a guess
    # that deliberately does not contain the invalid-bearer sentence.
    return HttpReply(
        403,
        {"message": "User is not authorized to access this profile.", "reason": None},
        {"x-amzn-ErrorType": "AccessDeniedException"},
    )


# ---------------------------------------------------------------- auth errors


def oauth_error(error: str, description: str, status: int = 400) -> HttpReply:
    """The SSO-OIDC error shape, also used by the social auth service."""
    return HttpReply(status, {"error": error, "error_description": description})


def invalid_grant() -> HttpReply:
    # kiro.rs treats a refresh failure as permanent only for exactly this body (spec auth §2.3).
    return oauth_error("invalid_grant", "Invalid refresh token provided")


def refresh_outage(status: int) -> HttpReply:
    """What the auth service answers every refresh during an outage (no invalid_grant)."""
    return oauth_error("service_unavailable", "The service is temporarily unavailable", status)


def invalid_client() -> HttpReply:
    return oauth_error("invalid_client", "Invalid client provided", status=401)


def bad_request(message: str) -> HttpReply:
    return HttpReply(400, {"message": message, "reason": None})
