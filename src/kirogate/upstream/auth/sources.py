"""Load credentials from every format the peer projects use, and say exactly what is wrong.

Sources (auth spec §1): the Kiro IDE token file and its ``<clientIdHash>.json`` companion,
AIClient-2-API files (same loader), kiro.rs ``credentials.json`` (object or array), kiro2api
``KIRO_AUTH_TOKEN``, Ki2API ``KIRO_ACCESS_TOKEN``/``KIRO_REFRESH_TOKEN``, the kiro.rs HF-Spaces
variables (``REFRESH_TOKEN``…, ``CREDENTIALS_JSON``) and ``KIRO_API_KEY``. Every loader returns
credentials with ``origin`` set and raises :class:`CredentialSourceError` naming the file (or
variable) and the field for bad input.

Decisions where peers differ (kept in the team notes):

- a refresh token containing ``...`` or ``…`` is rejected (truncated by the IDE); one shorter
  than 100 characters is only warned about (kiro.rs refuses to refresh it, but test and
  emulator tokens are short and a real short token fails loudly at refresh anyway), once:
  when it is added or imported, or when ``serve`` first stores it from a source;
- kiro2api ``auth`` is matched case-insensitively (kiro2api is case-sensitive); its entries
  without a refresh token are errors (kiro2api drops them silently); ``disabled`` entries are
  kept, disabled (reason ``Manual``);
- ``authMethod: api_key`` without ``kiroApiKey`` is an error (kiro.rs loads it disabled);
- array order is kept; the pool applies ``priority``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from kirogate.errors import CredentialSourceError, InvalidRequest
from kirogate.settings import KIRO_IDE_TOKEN_FILE
from kirogate.upstream.credentials import (
    MAX_STORED_INT,
    AuthMethod,
    Credential,
    CredentialOrigin,
    check_credential_fields,
    secret_hash,
    unusable_field,
)

log = logging.getLogger(__name__)

MIN_REFRESH_TOKEN_LENGTH = 100
PROXY_DIRECT = "direct"

_AUTH_METHODS = {
    "social": AuthMethod.SOCIAL,
    "idc": AuthMethod.IDC,
    "builder-id": AuthMethod.IDC,
    "iam": AuthMethod.IDC,
    "api_key": AuthMethod.API_KEY,
    "apikey": AuthMethod.API_KEY,
    "external_idp": AuthMethod.EXTERNAL_IDP,
}
# Keys that map onto Credential fields; everything else is kept in Credential.extra.
_KNOWN_KEYS = frozenset(
    [
        "id",
        "accessToken",
        "refreshToken",
        "profileArn",
        "expiresAt",
        "authMethod",
        "auth",
        "clientId",
        "clientSecret",
        "priority",
        "region",
        "authRegion",
        "apiRegion",
        "idcRegion",
        "machineId",
        "email",
        "subscriptionTitle",
        "proxyUrl",
        "proxyUsername",
        "proxyPassword",
        "disabled",
        "kiroApiKey",
        "endpoint",
        "provider",
        "socialProvider",
        "clientIdHash",
        "tokenEndpoint",
    ]
)
# Keys only kiro.rs writes: an object carrying one is a kiro.rs file, not an IDE token file.
_KIRO_RS_KEYS = frozenset(
    [
        "id",
        "priority",
        "authRegion",
        "apiRegion",
        "machineId",
        "proxyUrl",
        "kiroApiKey",
        "endpoint",
        "disabled",
        "subscriptionTitle",
        "email",
    ]
)
_PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://", "socks4://")
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"([Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_CLIENT_ID_HASH = re.compile(r"[A-Za-z0-9_-]{1,128}")
_KIRO2API_DEPRECATED = ("AWS_REFRESHTOKEN", "IDC_REFRESH_TOKEN", "BULK_REFRESH_TOKENS")


def parse_expires_at(value: object) -> datetime:
    """RFC3339 with ``Z`` or an offset and 0–9 fractional digits (no zone = UTC), or epoch numbers.

    Raises ``ValueError`` for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
        for scale in (1e9, 1e6, 1e3):  # ns, µs, ms epochs (kiro-cli writes nanoseconds)
            if seconds > 1e8 * scale:
                seconds /= scale
                break
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp string, got {_type_name(value)}")
    match = _TIMESTAMP.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an RFC3339 timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz: timezone = UTC
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    parsed = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )
    return parsed.astimezone(UTC)


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class _Fields:
    """Typed reads from one JSON object; errors name the source and the field as the user wrote it."""

    def __init__(
        self, data: Mapping[str, Any], source: str, names: Mapping[str, str] | None = None
    ) -> None:
        self.data = data
        self.source = source
        self.names = names or {}

    def error(self, key: str, message: str) -> CredentialSourceError:
        return CredentialSourceError(self.source, message, field=self.names.get(key, key))

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {_type_name(value)}")
        return value.strip() or None

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(key, f"must be a non-negative integer, got {value!r}")
        if value > MAX_STORED_INT:
            raise self.error(key, f"must be at most {MAX_STORED_INT} (what the store holds)")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def timestamp(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_expires_at(value)
        except ValueError as exc:
            raise self.error(key, f"{exc} (use e.g. 2025-12-31T02:32:45.144Z)") from exc


def _auth_method(f: _Fields, api_key: str | None) -> AuthMethod:
    key = "authMethod" if "authMethod" in f.data or "auth" not in f.data else "auth"
    raw = f.text(key)
    if api_key:
        return AuthMethod.API_KEY
    if raw is not None:
        method = _AUTH_METHODS.get(raw.lower())
        if method is None:
            choices = "social, idc, builder-id, iam, api_key, external_idp"
            if key == "auth":
                choices = "Social, IdC"
            raise f.error(key, f"unknown auth method {raw!r} (use one of: {choices})")
        return method
    provider = f.text("provider")
    if provider and provider.lower() == "externalidp":
        return AuthMethod.EXTERNAL_IDP
    has_client = f.text("clientId") and f.text("clientSecret")
    return AuthMethod.IDC if has_client or f.text("clientIdHash") else AuthMethod.SOCIAL


def _check_refresh_token(f: _Fields, method: AuthMethod) -> str | None:
    token = f.text("refreshToken")
    if method is AuthMethod.API_KEY:
        return token
    if token is None:
        raise f.error("refreshToken", "missing; every non-API-key credential needs a refresh token")
    if "..." in token or "…" in token:
        raise f.error(
            "refreshToken",
            "looks truncated (contains '...'); copy the full token from the IDE token file",
        )
    if len(token) < MIN_REFRESH_TOKEN_LENGTH and method is not AuthMethod.EXTERNAL_IDP:
        warn_short_token(f.source, token)
    return token


# Discovery (serve, doctor) re-reads its sources on every start: it stays quiet, and the store
# warns once, when a source's credential first enters it (store.sync). Elsewhere (add, import)
# the warning is said once per process and token.
_QUIET_SHORT: ContextVar[bool] = ContextVar("quiet_short_token", default=False)
_warned_short: set[str] = set()


def short_token_length(credential: Credential) -> int | None:
    """The refresh token's length when it is suspiciously short (see the module docstring)."""
    token = credential.refresh_token
    if credential.is_api_key or credential.auth_method is AuthMethod.EXTERNAL_IDP or not token:
        return None
    return len(token) if len(token) < MIN_REFRESH_TOKEN_LENGTH else None


def warn_short_token(source: str, token: str) -> None:
    """Say once per process, source and token that ``source``'s refresh token looks too short."""
    key = f"{source}\0{secret_hash(token)}"
    if _QUIET_SHORT.get() or key in _warned_short:
        return
    _warned_short.add(key)
    log.warning(
        "%s: refreshToken is only %d characters; real Kiro refresh tokens are longer",
        source,
        len(token),
    )


def _load_companion(directory: Path, client_id_hash: str, f: _Fields) -> tuple[str, str]:
    """clientId and clientSecret from ``<clientIdHash>.json`` next to the token file (auth spec §1.2)."""
    if not _CLIENT_ID_HASH.fullmatch(client_id_hash):
        raise f.error("clientIdHash", f"{client_id_hash!r} is not a file name")
    path = directory / f"{client_id_hash}.json"
    if not path.is_file():
        raise f.error(
            "clientId",
            f"IdC credential has no clientId/clientSecret and the client registration file "
            f"{path} (named by clientIdHash) does not exist",
        )
    data = _parse_json(_read_text(path), str(path))
    if not isinstance(data, dict):
        raise CredentialSourceError(str(path), f"expected a JSON object, got {_type_name(data)}")
    companion = _Fields(data, str(path))
    client_id, client_secret = companion.text("clientId"), companion.text("clientSecret")
    if not client_id:
        raise companion.error("clientId", "missing in the client registration file")
    if not client_secret:
        raise companion.error("clientSecret", "missing in the client registration file")
    return client_id, client_secret


def credential_from_object(
    data: object,
    *,
    source: str,
    origin: CredentialOrigin,
    directory: Path | None = None,
    names: Mapping[str, str] | None = None,
    check: bool = True,
) -> Credential:
    """One credential from a camelCase object in any of the supported shapes.

    ``directory`` is where a ``<clientIdHash>.json`` companion is looked up; ``names`` renames
    fields in error messages (for environment variables). With ``check`` a field no request
    could carry (:func:`check_credential_fields`) raises; files and the environment pass
    ``False`` and skip such entries with :func:`without_unusable` instead.
    """
    if not isinstance(data, dict):
        raise CredentialSourceError(source, f"expected a JSON object, got {_type_name(data)}")
    f = _Fields(data, source, names)
    api_key = f.text("kiroApiKey")
    method = _auth_method(f, api_key)
    if method is AuthMethod.API_KEY and not api_key:
        raise f.error("kiroApiKey", "authMethod api_key needs a kiroApiKey (ksk_...)")
    refresh_token = _check_refresh_token(f, method)
    client_id, client_secret = f.text("clientId"), f.text("clientSecret")
    client_id_hash = f.text("clientIdHash")
    if method is AuthMethod.IDC and not (client_id and client_secret):
        if client_id_hash and directory is not None:
            client_id, client_secret = _load_companion(directory, client_id_hash, f)
        else:
            missing = "clientId" if not client_id else "clientSecret"
            raise f.error(missing, "required for IdC / Builder ID credentials")
    proxy_url = f.text("proxyUrl")
    if proxy_url and proxy_url.lower() == PROXY_DIRECT:
        proxy_url = PROXY_DIRECT
    elif proxy_url and not proxy_url.lower().startswith(_PROXY_SCHEMES):
        raise f.error("proxyUrl", f"{proxy_url!r}: use http://, https://, socks5:// or 'direct'")
    endpoint = f.text("endpoint") or "ide"
    if endpoint != "ide":
        raise f.error("endpoint", f"unknown endpoint {endpoint!r} (only 'ide' exists)")
    if method is AuthMethod.EXTERNAL_IDP and not f.text("tokenEndpoint"):
        raise f.error("tokenEndpoint", "required for external IdP credentials")
    disabled = f.flag("disabled")
    credential = Credential(
        auth_method=method,
        refresh_token=refresh_token,
        access_token=f.text("accessToken"),
        expires_at=f.timestamp("expiresAt"),
        profile_arn=f.text("profileArn"),
        client_id=client_id,
        client_secret=client_secret,
        id=f.integer("id"),
        region=f.text("region"),
        auth_region=f.text("authRegion") or f.text("idcRegion"),
        api_region=f.text("apiRegion"),
        machine_id=f.text("machineId"),
        email=f.text("email"),
        subscription_title=f.text("subscriptionTitle"),
        priority=f.integer("priority") or 0,
        proxy_url=proxy_url,
        proxy_username=f.text("proxyUsername"),
        proxy_password=f.text("proxyPassword"),
        disabled=disabled,
        disabled_reason="Manual" if disabled else None,
        kiro_api_key=api_key,
        endpoint=endpoint,
        provider=f.text("provider") or f.text("socialProvider"),
        client_id_hash=client_id_hash,
        token_endpoint=f.text("tokenEndpoint"),
        origin=origin,
        extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
    )
    found = unusable_field(credential) if check else None
    if found is not None:
        raise f.error(*found)
    return credential


# ---------------------------------------------------------------- files


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CredentialSourceError(str(path), "file not found") from exc
    except IsADirectoryError as exc:
        raise CredentialSourceError(str(path), "is a directory, not a credentials file") from exc
    except PermissionError as exc:
        raise CredentialSourceError(str(path), "permission denied") from exc
    except UnicodeDecodeError as exc:
        raise CredentialSourceError(str(path), f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise CredentialSourceError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialSourceError(
            source, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def _detect_kind(path: Path, data: object) -> str:
    """``kiro-ide`` for IDE/AIClient-2-API token files, ``kiro2api`` for ``auth`` arrays, else ``kiro-rs``."""
    items = data if isinstance(data, list) else [data]
    objects = [item for item in items if isinstance(item, dict)]
    if objects and all("auth" in o and "authMethod" not in o for o in objects):
        return "kiro2api"
    if isinstance(data, list):
        return "kiro-rs"
    obj = objects[0] if objects else {}
    if path.name == KIRO_IDE_TOKEN_FILE.name or "clientIdHash" in obj:
        return "kiro-ide"
    if "socialProvider" in obj or "idcRegion" in obj:
        return "kiro-ide"
    return "kiro-rs" if _KIRO_RS_KEYS & obj.keys() else "kiro-ide"


def _credentials_from_json(
    data: object,
    *,
    source: str,
    kind: str,
    path: Path | None,
    names: Mapping[str, str] | None = None,
) -> list[Credential]:
    directory = path.parent if path else None
    if isinstance(data, list):
        return [
            _with_file_id(
                credential_from_object(
                    item,
                    source=f"{source}[{index}]",
                    origin=CredentialOrigin(kind, path, index, array=True),
                    directory=directory,
                    names=names,
                    check=False,
                )
            )
            for index, item in enumerate(data)
        ]
    if isinstance(data, dict):
        origin = CredentialOrigin(kind, path)
        return [
            _with_file_id(
                credential_from_object(
                    data,
                    source=source,
                    origin=origin,
                    directory=directory,
                    names=names,
                    check=False,
                )
            )
        ]
    raise CredentialSourceError(
        source, f"expected a JSON object or an array of objects, got {_type_name(data)}"
    )


def _with_file_id(credential: Credential) -> Credential:
    """Remember the id the entry has in its file (kiro.rs files number their entries)."""
    if credential.id is not None and credential.origin is not None:
        credential.origin = replace(credential.origin, file_id=credential.id)
    return credential


def without_unusable(credentials: list[Credential], source: str) -> list[Credential]:
    """``credentials`` minus those with a field no request could carry (each skip is logged).

    A line break in a token would otherwise fail every request built with it; the other
    entries of the file still load.
    """
    kept = []
    for credential in credentials:
        try:
            check_credential_fields(credential)
        except InvalidRequest as exc:
            where = credential.origin.describe() if credential.origin else source
            log.warning("skipping the credential at %s: %s", where, exc.message)
            continue
        kept.append(credential)
    return kept


def check_unique_ids(credentials: Iterable[Credential]) -> None:
    """Raise when two credentials share an ``id`` (kiro.rs aborts startup on that too)."""
    seen: dict[int, Credential] = {}
    for credential in credentials:
        if credential.id is None:
            continue
        first = seen.setdefault(credential.id, credential)
        if first is not credential:
            where = credential.origin.describe() if credential.origin else credential.label
            other = first.origin.describe() if first.origin else first.label
            raise CredentialSourceError(
                where, f"duplicate id {credential.id} (also used by {other})", field="id"
            )


def assign_ids(credentials: list[Credential]) -> None:
    """Give credentials without an ``id`` the next free ones (``max + 1``…), in order."""
    check_unique_ids(credentials)
    next_id = max((c.id for c in credentials if c.id is not None), default=0) + 1
    for credential in credentials:
        if credential.id is None:
            credential.id = next_id
            next_id += 1


def load_credentials_file(path: Path, *, ids: bool = True) -> list[Credential]:
    """Credentials from one file: kiro.rs object/array, IDE or AIClient-2-API token file, kiro2api.

    An empty file gives ``[]`` (kiro.rs). With ``ids`` missing ids are assigned ``max + 1``.
    """
    text = _read_text(path)
    if not text.strip():
        return []
    data = _parse_json(text, str(path))
    credentials = _credentials_from_json(
        data, source=str(path), kind=_detect_kind(path, data), path=path
    )
    credentials = without_unusable(credentials, str(path))
    if ids:
        assign_ids(credentials)
    return credentials


# ---------------------------------------------------------------- environment

_HF_NAMES = {
    "refreshToken": "REFRESH_TOKEN",
    "authMethod": "AUTH_METHOD",
    "clientId": "CLIENT_ID",
    "clientSecret": "CLIENT_SECRET",
    "expiresAt": "EXPIRES_AT",
    "region": "REGION",
}


def load_kiro2api_token(value: str) -> list[Credential]:
    """kiro2api ``KIRO_AUTH_TOKEN``: a path to a JSON file if one exists there, else inline JSON."""
    candidate = Path(value.strip())
    try:
        is_file = len(value) < 4096 and candidate.is_file()
    except OSError:
        is_file = False
    if is_file:
        data = _parse_json(_read_text(candidate), f"{candidate} (KIRO_AUTH_TOKEN)")
        return _credentials_from_json(
            data, source=f"{candidate} (KIRO_AUTH_TOKEN)", kind="kiro2api", path=candidate
        )
    if not value.lstrip().startswith(("[", "{")):
        raise CredentialSourceError(
            "env KIRO_AUTH_TOKEN", "is neither an existing file nor JSON (an array or an object)"
        )
    data = _parse_json(value, "env KIRO_AUTH_TOKEN")
    return _credentials_from_json(data, source="env KIRO_AUTH_TOKEN", kind="env", path=None)


def _apply_global_region(credentials: list[Credential], region: str | None) -> None:
    # kiro.rs HF REGION is config.region: the fallback for both the auth and the API region.
    if not region:
        return
    for credential in credentials:
        if not credential.auth_region and not credential.region:
            credential.region = region
        if not credential.api_region:
            credential.api_region = region


def _env_sources(environ: Mapping[str, str]) -> list[tuple[str, list[Credential]]]:
    """(place, credentials) for every credential variable that is set, in precedence order."""
    places: list[tuple[str, list[Credential]]] = []
    env = CredentialOrigin("env")
    region = environ.get("REGION", "").strip() or None
    api_key = environ.get("KIRO_API_KEY", "").strip()
    if api_key:
        places.append(
            ("env KIRO_API_KEY", [Credential(AuthMethod.API_KEY, kiro_api_key=api_key, origin=env)])
        )
    raw = environ.get("CREDENTIALS_JSON", "").strip()
    if raw:
        data = _parse_json(raw, "env CREDENTIALS_JSON")
        creds = _credentials_from_json(data, source="env CREDENTIALS_JSON", kind="env", path=None)
        _apply_global_region(creds, region)
        places.append(("env CREDENTIALS_JSON", creds))
    if environ.get("REFRESH_TOKEN", "").strip():
        obj = {key: environ.get(name) for key, name in _HF_NAMES.items() if environ.get(name)}
        cred = credential_from_object(obj, source="env", origin=env, names=_HF_NAMES, check=False)
        _apply_global_region([cred], region)
        places.append(("env REFRESH_TOKEN", [cred]))
    raw = environ.get("KIRO_AUTH_TOKEN", "").strip()
    if raw:
        places.append(("env KIRO_AUTH_TOKEN", load_kiro2api_token(raw)))
    access, refresh = environ.get("KIRO_ACCESS_TOKEN"), environ.get("KIRO_REFRESH_TOKEN")
    if (access or "").strip() or (refresh or "").strip():
        # Ki2API: social only; the access token's expiry is unknown, so it is refreshed first.
        obj = {"authMethod": "social", "accessToken": access, "refreshToken": refresh}
        names = {"refreshToken": "KIRO_REFRESH_TOKEN", "accessToken": "KIRO_ACCESS_TOKEN"}
        cred = credential_from_object(obj, source="env", origin=env, names=names, check=False)
        places.append(("env KIRO_REFRESH_TOKEN", [cred]))
    for name in _KIRO2API_DEPRECATED:
        if environ.get(name):
            log.warning("%s is a deprecated kiro2api variable and is ignored", name)
    return places


def load_env_credentials(environ: Mapping[str, str], *, ids: bool = True) -> list[Credential]:
    """Credentials from environment variables; a ``KIRO_API_KEY`` one comes first."""
    credentials = [c for _, creds in _env_sources(environ) for c in creds]
    credentials = without_unusable(credentials, "env")
    if ids:
        assign_ids(credentials)
    return credentials


# ---------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class Probe:
    """One place discovery looked at, and what it found there."""

    place: str
    found: int
    note: str | None = None

    def describe(self) -> str:
        detail = self.note or f"{self.found} credential{'s' if self.found != 1 else ''}"
        return f"{self.place}: {detail}"


@dataclass(slots=True)
class DiscoveryResult:
    credentials: list[Credential] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    @property
    def looked_at(self) -> list[str]:
        """One line per place looked at, for the CLI's "no credentials found" message."""
        return [probe.describe() for probe in self.probes]


def home_dir(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def expand_home(path: Path, environ: Mapping[str, str]) -> Path:
    parts = path.parts
    if parts and parts[0] == "~":
        return home_dir(environ).joinpath(*parts[1:])
    return path


def default_ide_token_file(environ: Mapping[str, str]) -> Path:
    return expand_home(KIRO_IDE_TOKEN_FILE, environ)


def discover_credentials(
    credential_files: Iterable[Path],
    kiro_files: Iterable[Path],
    environ: Mapping[str, str],
    *,
    default_ide_file: bool = True,
    kiro_cli_dbs: Iterable[Path] = (),
) -> DiscoveryResult:
    """Credentials from all configured sources, deduplicated by refresh token / API key.

    Order: ``KIRO_API_KEY``, credentials files, Kiro token files, kiro-cli databases, other
    variables. The IDE's own token file, else the kiro-cli / Amazon Q CLI database, is read
    only when nothing else is configured. Ids must be unique across sources; missing ones are
    then assigned ``max + 1``.
    """
    quiet = _QUIET_SHORT.set(True)
    try:
        return _discover(
            credential_files,
            kiro_files,
            environ,
            default_ide_file=default_ide_file,
            kiro_cli_dbs=kiro_cli_dbs,
        )
    finally:
        _QUIET_SHORT.reset(quiet)


def _discover(
    credential_files: Iterable[Path],
    kiro_files: Iterable[Path],
    environ: Mapping[str, str],
    *,
    default_ide_file: bool,
    kiro_cli_dbs: Iterable[Path] = (),
) -> DiscoveryResult:
    from kirogate.upstream.auth.kiro_cli import default_kiro_cli_dbs, load_kiro_cli_db

    result = DiscoveryResult()
    env_places = _env_sources(environ)
    api_key_places = [p for p in env_places if p[0] == "env KIRO_API_KEY"]
    other_env = [p for p in env_places if p[0] != "env KIRO_API_KEY"]
    places: list[tuple[str, list[Credential]]] = list(api_key_places)
    seen_paths: set[Path] = set()
    files = [expand_home(Path(p), environ) for p in credential_files]
    files += [expand_home(Path(p), environ) for p in kiro_files]
    for path in files:
        key = path.resolve()
        if key in seen_paths:
            continue
        seen_paths.add(key)
        places.append((str(path), load_credentials_file(path, ids=False)))
    for path in [expand_home(Path(p), environ) for p in kiro_cli_dbs]:
        key = path.resolve()
        if key not in seen_paths:
            seen_paths.add(key)
            places.append((str(path), load_kiro_cli_db(path)))
    places += other_env
    if default_ide_file and not places:
        path = default_ide_token_file(environ)
        if path.is_file():
            places.append((str(path), load_credentials_file(path, ids=False)))
        else:
            result.probes.append(Probe(str(path), 0, "not found"))
            # The command line's login, when it is there (kiro-cli, then the Amazon Q CLI).
            for db in default_kiro_cli_dbs(home_dir(environ))[:1]:
                places.append((str(db), load_kiro_cli_db(db)))
    if not env_places:
        names = "KIRO_API_KEY, CREDENTIALS_JSON, REFRESH_TOKEN, KIRO_AUTH_TOKEN, KIRO_REFRESH_TOKEN"
        result.probes.append(Probe(f"env {names}", 0, "not set"))
    by_fingerprint: dict[str, Credential] = {}
    for place, creds in places:
        kept = 0
        for credential in without_unusable(creds, place):
            first = by_fingerprint.setdefault(credential.fingerprint(), credential)
            if first is not credential:
                log.warning(
                    "%s: same credential as %s; keeping the first",
                    credential.origin.describe() if credential.origin else place,
                    first.origin.describe() if first.origin else first.label,
                )
                continue
            result.credentials.append(credential)
            kept += 1
        result.probes.append(Probe(place, kept, None if creds else "empty"))
    assign_ids(result.credentials)
    return result
