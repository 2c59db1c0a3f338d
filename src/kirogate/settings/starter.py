"""The commented starter ``config.toml`` that ``kirogate config init`` writes.

It is made from :data:`~kirogate.settings.registry.SPECS` and the defaults, so it lists every
setting and cannot drift from them: each one commented out with its default (or an example
when it has none), what it accepts, and its env vars and flag. Uncommenting any line gives a
valid file.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

from kirogate.settings.model import Settings
from kirogate.settings.registry import SPECS, Spec

STARTER_MODE = 0o600  # it is meant to hold keys (api_keys, admin_key, secret_key)

HEADER = """\
# kirogate configuration (TOML), written by `kirogate config init`.
#
# Every setting is listed, commented out, with its default: uncomment a line to change it.
# Precedence per setting: flag > environment variable > this file > default.
# `kirogate config check` validates this file; `kirogate config show` prints the effective
# value of every setting and where it came from. Reference: docs/configuration.md.
#
# This file may hold secrets (api_keys, admin_key, secret_key, a database password): keep it
# private (mode 0600) and out of version control.
"""

# Values shown for settings that have no default (uncommented, each is valid).
EXAMPLES: dict[str, str] = {
    "log_file": '"~/.kirogate/kirogate.log"',
    "database_url": '"postgresql://USER:PASSWORD@HOST/kirogate"',
    "redis_url": '"redis://127.0.0.1:6379/0"',
    "secret_key": '"a-long-random-string"',
    "credentials_files": '["~/credentials.json"]',
    "kiro_files": '["~/.aws/sso/cache/kiro-auth-token.json"]',
    "kiro_cli_dbs": '["~/.local/share/kiro-cli/data.sqlite3"]',
    "server.api_keys": '["my-client-key"]',
    "server.admin_key": '"my-admin-key"',
    "upstream.url": '"http://127.0.0.1:9000"',
    "upstream.auth_region": '"us-east-1"',
    "upstream.api_region": '"us-east-1"',
    "upstream.system_version": '"darwin#24.6.0"',
    "upstream.machine_id": '"' + "0" * 64 + '"',
    "upstream.proxy_url": '"http://127.0.0.1:8080"',
    "models.overrides": '{ "gpt-4*" = "claude-sonnet-4.5" }',
    "models.hidden": '["claude-opus-4-7"]',
    "models.fallback": '"claude-sonnet-4.5"',
    "models.forced": '"claude-sonnet-4.5"',
    "console.announcement": '"Maintenance tonight at 22:00 UTC"',
}
# What an unset value means, where that is more than "not set".
UNSET_MEANS: dict[str, str] = {
    "server.api_keys": "one key generated at first start, kept in <data_dir>/api_key",
    "secret_key": "generated, kept in <data_dir>/secret.key",
    "database_url": "SQLite kirogate.db in the data dir",
    "log_file": "stderr",
    "kiro_files": "the Kiro IDE's ~/.aws/sso/cache/kiro-auth-token.json",
    "kiro_cli_dbs": "kiro-cli's data.sqlite3 when nothing else is configured",
    "credentials_files": "none",
    "upstream.url": "the real Kiro hosts",
    "upstream.proxy_url": "no proxy",
    "models.fallback": "an unknown model name is a 404",
    "models.forced": "each request uses the model it asks for",
    "console.announcement": "none",
}


def toml_value(value: object) -> str | None:
    """``value`` as a TOML literal; ``None`` for an unset value."""
    match value:
        case None:
            return None
        case bool():
            return "true" if value else "false"
        case Enum():
            return toml_value(value.value)
        case float() if value.is_integer():
            return str(int(value))
        case int() | float():
            return repr(value)
        case Path():
            return json.dumps(str(value))
        case str():
            return json.dumps(value)  # a JSON string is a valid TOML basic string
        case tuple() | list():
            return "[" + ", ".join(toml_value(item) or '""' for item in value) + "]"
    return json.dumps(str(value))


def _default(spec: Spec, defaults: Settings) -> object:
    node: object = defaults
    for part in spec.key.split("."):
        node = getattr(node, part)
    return node


def _entry(spec: Spec, defaults: Settings) -> list[str]:
    value = _default(spec, defaults)
    if value == ():
        value = None
    literal = toml_value(value)
    lines = [f"# {spec.help}"] if spec.help else []
    lines.append(f"# value: {spec.kind.allowed}")
    names = []
    if spec.env:
        names.append("env " + " or ".join(spec.env))
    if spec.flag:
        names.append(f"flag {spec.flag}")
    if names:
        lines.append(f"# {'; '.join(names)}")
    if literal is None:
        if "default" not in spec.help:
            lines.append(f"# default: {UNSET_MEANS.get(spec.key, 'not set')}")
        literal = EXAMPLES.get(spec.key, '""')
    lines.append(f"# {spec.name} = {literal}")
    return lines


def starter_config() -> str:
    """The starter file's text: every setting commented out, grouped in its table."""
    defaults = Settings()
    out = [HEADER, "\n"]
    section = ""
    for spec in SPECS:
        if spec.section != section:
            section = spec.section
            out.append(f"[{section}]\n")
        out.append("\n".join(_entry(spec, defaults)) + "\n\n")
    return "".join(out).rstrip("\n") + "\n"
