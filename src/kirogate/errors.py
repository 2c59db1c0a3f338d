"""The kirogate error tree.

Every failure the gateway can report is one of these classes. Each knows the HTTP
status and the wire error type a client sees; ``api/errors.py`` renders them as an
Anthropic, an OpenAI or an admin (kiro.rs) envelope. Foreign exceptions (aiohttp, OSError, json) are
translated into this tree at the boundary where they happen.

    KirogateError                      500 api_error
    ├── ClientError                    400 invalid_request_error
    │   ├── InvalidRequest             400 invalid_request_error
    │   ├── AuthenticationFailed       401 authentication_error
    │   ├── PermissionDenied           403 permission_error
    │   ├── NotFound                   404 not_found_error
    │   │   └── RouteNotFound          404 no such path (OpenAI: code null)
    │   ├── MethodNotAllowed           405 the path exists, the method does not
    │   ├── RequestTooLarge            413 request_too_large
    │   │   └── BodyTooLarge           the body is over server.max_body_size
    │   ├── HeadTooLarge               431 the request line and headers are over the bound
    │   └── RateLimited                429 rate_limit_error   (retry_after)
    ├── ConfigError                    500 api_error          (startup/CLI: exit code 2)
    │   ├── CredentialSourceError      a credential file/env value is unusable (names file, field)
    │   ├── SettingsError              a setting is unusable (names source, key, what is allowed)
    │   └── SchemaTooNew               the database was migrated by a newer kirogate
    ├── DaemonError                    starting, finding or stopping the background gateway failed
    ├── StoreUnavailable               503 overloaded_error   (the database stopped answering)
    ├── StoreLockTimeout               503 overloaded_error   (also a TimeoutError: Store.exclusive)
    ├── LockUnavailable                503 overloaded_error   (Redis or the database lock is away)
    ├── LockTimeout                    503 overloaded_error   (also a TimeoutError: lock stayed taken)
    ├── EventStreamError               502 api_error          (the upstream byte stream is bad)
    │   ├── CorruptFrame               a CRC, length or header check failed
    │   │   └── FrameTooLarge          a frame or header block exceeds the configured bound
    │   ├── TruncatedStream            the body ended inside a frame
    │   └── MalformedAnswer            sound frames, unusable content: an empty 200 body, a
    │                                  known event that does not decode, tool arguments that
    │                                  are not a JSON object
    ├── AuthError                      credential refresh / login failures
    │   ├── InvalidGrant               400 invalid_grant: the refresh token is dead (permanent)
    │   ├── RefreshFailed              any other refresh failure (transient, counted, backed off)
    │   ├── CredentialUnusable         no request can be built with it (a field the client refuses)
    │   └── LoginFailed                a device-code or social login did not complete
    ├── UpstreamError                  502 api_error          (an HTTP-level upstream failure)
    │   ├── UpstreamBadRequest         400 invalid_request_error (never retried)
    │   │   ├── UpstreamInputTooLong   400 CONTENT_LENGTH_EXCEEDS_THRESHOLD
    │   │   └── UpstreamInvalidModel   400 INVALID_MODEL_ID
    │   ├── UpstreamAuthRejected       401/403 the bearer token was refused
    │   ├── UpstreamForbidden          403 any other denial (suspended, wrong profile)
    │   ├── QuotaExhausted             402 MONTHLY_REQUEST_COUNT -> 429 to the client
    │   ├── UpstreamThrottled          429 -> 429 to the client (retry_after)
    │   ├── UpstreamUnavailable        5xx -> 529 overloaded_error
    │   ├── UpstreamTimeout            no bytes in time -> 504
    │   ├── UpstreamConnectionError    connect/reset/DNS -> 502
    │   └── UpstreamStreamException    an exception frame inside a 200 stream
    ├── OutputFormatMismatch           502 api_error / server_error (answer is not the JSON asked)
    ├── InternalError                  500 api_error          (an unexpected failure inside the gateway)
    ├── StoreUnavailable               503 overloaded_error   (the database is away; no detail shown)
    ├── ShuttingDown                   503 overloaded_error   (the process is stopping: SIGTERM)
    └── NoCredentialAvailable          503 overloaded_error (pool has nothing usable now)
        ├── NoCredentialConfigured     403 permission_error  (the pool is empty: permanent)
        ├── CredentialsDisabled        403 permission_error  (all out until someone acts)
        ├── ModelNotAllowed            404 not_found_error   (no credential's plan has the model)
        └── GroupUnavailable           503 overloaded_error  (the key's credential group has
                                                              nothing usable, or no member)

The admin API renders the same classes in kiro.rs' envelope (``api/errors.py``'s third
dialect), by the same table.

The two permanent pool conditions answer 4xx, which SDKs and Claude Code do not retry, in the
statuses the official APIs use: a model the account cannot use is Anthropic's and OpenAI's 404
(``model_not_found``); no credential at all is 403 ``permission_error``, since the client's
own key is fine (401 would send the user to fix a key that is not the problem); so is a pool
whose every credential is disabled for a reason nothing heals by itself (a rejected refresh
token, a manual disable).
"""

from __future__ import annotations

from typing import ClassVar


class KirogateError(Exception):
    """Base of every error kirogate reports; carries its client-facing status and type."""

    status: ClassVar[int] = 500
    anthropic_type: ClassVar[str] = "api_error"
    openai_type: ClassVar[str] = "api_error"
    openai_code: ClassVar[str | None] = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------- client errors


class ClientError(KirogateError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"


class InvalidRequest(ClientError):
    """The client's request is malformed; ``param`` names the offending field when known."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class AuthenticationFailed(ClientError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "invalid_request_error"
    openai_code = "invalid_api_key"


class PermissionDenied(ClientError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"


class NotFound(ClientError):
    status = 404
    anthropic_type = "not_found_error"
    openai_type = "invalid_request_error"
    openai_code: ClassVar[str | None] = "model_not_found"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class RouteNotFound(NotFound):
    """No such path (OpenAI answers these with ``code: null``, not ``model_not_found``)."""

    openai_code = None


class MethodNotAllowed(ClientError):
    status = 405


class RequestTooLarge(ClientError):
    status = 413
    anthropic_type = "request_too_large"
    openai_type = "invalid_request_error"
    openai_code = "request_too_large"


class BodyTooLarge(RequestTooLarge):
    """The request body is over ``server.max_body_size``."""


class HeadTooLarge(ClientError):
    """The request line and headers are over the server's bound (answered before routing)."""

    status = 431
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"
    openai_code = "request_header_fields_too_large"


class RateLimited(ClientError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "rate_limit_error"
    openai_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ---------------------------------------------------------------- configuration


class ConfigError(KirogateError):
    """Settings or files are unusable; the CLI prints the message and exits with code 2."""


class CredentialSourceError(ConfigError):
    """A credential source is unusable. The message names the source and the field."""

    def __init__(self, source: str, message: str, *, field: str | None = None) -> None:
        where = f"{source}: field '{field}'" if field else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.field = field


class SettingsError(ConfigError):
    """A setting is unusable: says where it came from, which key, and what is allowed."""

    def __init__(self, source: str, key: str | None, problem: str, allowed: str | None = None):
        where = f"{source}: key '{key}'" if key else source
        message = f"{where}: {problem}"
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)
        self.source = source
        self.key = key
        self.problem = problem
        self.allowed = allowed


class SchemaTooNew(ConfigError):
    """The database carries a schema revision this kirogate does not know."""

    def __init__(self, display_url: str, revision: str, head: str) -> None:
        super().__init__(
            f"the database {display_url} has schema revision {revision!r}, which this kirogate "
            f"does not know (its newest is {head!r}): a newer kirogate has migrated it. "
            "Upgrade kirogate to the version that wrote it, or point --database-url / "
            "KIROGATE_DATABASE_URL at another database"
        )
        self.revision = revision
        self.head = head


class DaemonError(KirogateError):
    """Starting, finding or stopping the background gateway failed; the message says why."""


# ---------------------------------------------------------------- store and locks


# What a client (or anyone reading an error body) is told while the database is away: never
# its URL, host, port, user, name or the driver's text.
STORE_AWAY_MESSAGE = "the gateway's database is unavailable; try again shortly"


class StoreUnavailable(KirogateError):
    """The database is unreachable or refused a query (raised by ``kirogate.store``).

    ``message`` (what error bodies show) is always :data:`STORE_AWAY_MESSAGE`; the database's
    name and the driver's text are kept in ``detail``, which ``str()`` (and so the log) adds.
    """

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"

    def __init__(self, detail: str) -> None:
        super().__init__(STORE_AWAY_MESSAGE)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})"


class StoreLockTimeout(KirogateError, TimeoutError):
    """``Store.exclusive(name)`` could not take the lock within its timeout."""

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"lock {name!r} still held by another holder after {timeout:g}s")
        self.name = name
        self.timeout = timeout


class LockUnavailable(KirogateError):
    """The lock service (Redis, the database) could not be reached."""

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"


class LockTimeout(KirogateError, TimeoutError):
    """The lock stayed taken for longer than the caller was willing to wait."""

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"


# ---------------------------------------------------------------- event stream


class EventStreamError(KirogateError):
    status = 502
    anthropic_type = "api_error"
    openai_type = "api_error"


class CorruptFrame(EventStreamError):
    pass


class FrameTooLarge(CorruptFrame):
    pass


class TruncatedStream(EventStreamError):
    pass


class MalformedAnswer(EventStreamError):
    """The frames are sound but what they say is not: the upstream answered 200 with no
    event at all, sent a known event whose payload does not decode, or a tool call whose
    arguments are not a JSON object (and do not look cut off). Never a silent empty answer."""


# ---------------------------------------------------------------- credential auth


class AuthError(KirogateError):
    status = 502


class InvalidGrant(AuthError):
    """The refresh token was revoked or is unknown; the credential cannot be used again."""


class RefreshFailed(AuthError):
    """A refresh attempt failed for a reason that may pass (network, 5xx, throttling).

    ``retry_after`` is how long the credential's refresh backs off (seconds), when known.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.upstream_status = status
        self.retry_after = retry_after


class CredentialUnusable(AuthError):
    """No request can be built with this credential (the HTTP client refuses one of its
    fields, e.g. a header with a line break): its fault, not the request's nor the upstream's."""


class LoginFailed(AuthError):
    """``outcome`` says how: ``expired`` (not approved in time), ``denied`` (refused in the
    browser) or ``failed`` (anything else)."""

    def __init__(self, message: str, *, outcome: str = "failed") -> None:
        super().__init__(message)
        self.outcome = outcome


# ---------------------------------------------------------------- upstream


class UpstreamError(KirogateError):
    """An HTTP-level failure from the upstream; keeps its status, reason and body."""

    status = 502
    anthropic_type = "api_error"
    openai_type = "api_error"

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        reason: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.reason = reason
        self.body = body


class UpstreamBadRequest(UpstreamError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"


class UpstreamInputTooLong(UpstreamBadRequest):
    openai_code = "context_length_exceeded"


class UpstreamInvalidModel(UpstreamBadRequest):
    openai_code = "model_not_found"


class UpstreamAuthRejected(UpstreamError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "invalid_request_error"


class UpstreamForbidden(UpstreamError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"


class QuotaExhausted(UpstreamError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "insufficient_quota"
    openai_code = "insufficient_quota"
    # Seconds until a credential is usable again, once every credential is out of quota.
    retry_after: float | None = None


class UpstreamThrottled(UpstreamError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "rate_limit_error"
    openai_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        upstream_status: int | None = None,
        reason: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message, upstream_status=upstream_status, reason=reason, body=body)
        self.retry_after = retry_after


class UpstreamUnavailable(UpstreamError):
    status = 529
    anthropic_type = "overloaded_error"
    openai_type = "server_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    anthropic_type = "api_error"
    openai_type = "timeout"


class UpstreamConnectionError(UpstreamError):
    pass


class UpstreamStreamException(UpstreamError):
    """An exception or error frame arrived inside a 200 event stream."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(f"{exception_type}: {message}", reason=exception_type)
        self.exception_type = exception_type


class OutputFormatMismatch(KirogateError):
    """The model's final answer is not the JSON the request's output format asked for.

    A 5xx so that SDKs retry on their own: the next sample may well match.
    """

    status = 502
    anthropic_type = "api_error"
    openai_type = "server_error"
    openai_code = "output_format_mismatch"


class InternalError(KirogateError):
    """An unexpected failure inside the gateway (a bug), told to the client without details:
    the exception's class, text and traceback go to the log only."""

    PLAIN: ClassVar[str] = "internal error: the gateway's log has the details"

    def __init__(self, message: str = PLAIN) -> None:
        super().__init__(message)


class ShuttingDown(KirogateError):
    """The process is stopping: a request that came too late, or an answer still open at the
    end of the grace period (``server.shutdown_grace``). Retrying reaches another instance
    or the restarted one."""

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"
    openai_code = "shutting_down"


class NoCredentialAvailable(KirogateError):
    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        # Seconds until the first cooling credential is back, when that is what is missing.
        self.retry_after = retry_after


class NoCredentialConfigured(NoCredentialAvailable):
    """The pool holds no credential at all: nothing will change until an operator adds one."""

    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"
    openai_code = "no_credential_configured"


class CredentialsDisabled(NoCredentialAvailable):
    """Every credential is disabled and none comes back by itself (rejected token, manual)."""

    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"
    openai_code = "credentials_disabled"


class ModelNotAllowed(NoCredentialAvailable):
    """No credential's subscription may use the model (Opus on a FREE plan): retrying is vain."""

    status = 404
    anthropic_type = "not_found_error"
    openai_type = "invalid_request_error"
    openai_code = "model_not_found"


class GroupUnavailable(NoCredentialAvailable):
    """The client key is bound to a credential group and none of the group's credentials can
    serve the request (an unknown or empty group included). The rest of the pool is never
    used for it: the group is the key's whole pool. Cooling credentials give ``retry_after``
    (a 429 for the client, as for the pool); anything else is a 503 naming the group."""

    openai_code = "credential_group_unavailable"

    def __init__(self, message: str, *, group: str, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.group = group
