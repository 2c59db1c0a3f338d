"""``kirogate accounts ...``: the credentials in the store.

``list``, ``add``, ``import``, ``export``, ``enable``, ``disable`` and ``remove`` live here;
``verify`` and ``balance`` (which call the upstream) in :mod:`kirogate.cli.account_checks`.
Every change goes through the service's operations, opened over the store alone
(:meth:`kirogate.service.operations.Operations.open`), so the rules are the admin API's.
Secrets are never printed whole; ``export`` writes them to a 0600 file unless ``--redact``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kirogate.cli import account_checks
from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    OK_MARK,
    WARN_MARK,
    CliError,
    add_json_option,
    console,
    err_console,
    load,
    mask,
    print_json,
    run,
    say,
    store_action,
)
from kirogate.cli.confirm import add_yes_option, confirm

if TYPE_CHECKING:
    from kirogate.service.operations import CredentialState, ImportReport, Operations
    from kirogate.settings import Settings
    from kirogate.upstream.credentials import Credential

STORE_FLAGS = {"database_url": "database_url", "upstream_url": "upstream.url"}


def add_parser(commands: Any) -> None:
    accounts = commands.add_parser("accounts", help="manage the credentials in the store")
    actions = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        return store_action(actions, name, help_text, handler)

    listing = action("list", "list the stored credentials and their state", cmd_list)
    add_json_option(listing)

    add = action("add", "add one credential (prompts for the refresh token)", cmd_add)
    add.add_argument("--refresh-token", metavar="TOKEN", help="'-' reads it from stdin")
    add.add_argument("--auth-method", default=None, help="social (default), idc or api_key")
    add.add_argument("--client-id", help="IdC / Builder ID client id")
    add.add_argument("--client-secret", help="IdC / Builder ID client secret")
    add.add_argument("--kiro-api-key", metavar="KEY", help="a ksk_... Kiro API key instead")
    for name in ("region", "auth-region", "api-region", "email", "profile-arn", "proxy-url"):
        add.add_argument(f"--{name}")
    add.add_argument("--priority", type=int, default=0, help="lower is used first (default 0)")
    add_json_option(add)

    imp = action("import", "import credentials from files (any supported format)", cmd_import)
    imp.add_argument("files", nargs="*", type=Path, metavar="FILE",
                     help="kiro.rs credentials.json, Kiro IDE token file, kiro2api JSON ...")  # fmt: skip
    imp.add_argument("--from-env", action="store_true",
                     help="also import CREDENTIALS_JSON, REFRESH_TOKEN, KIRO_AUTH_TOKEN ...")  # fmt: skip
    add_json_option(imp)

    exp = action("export", "write the credentials as a kiro.rs credentials.json", cmd_export)
    exp.add_argument("file", type=Path, metavar="FILE", help="output file ('-' for stdout)")
    exp.add_argument("--redact", action="store_true", help="mask every secret (not re-importable)")
    exp.add_argument("--force", action="store_true", help="replace FILE if it exists")

    for name, help_text, handler in (
        ("verify", "refresh each token against the upstream", account_checks.cmd_verify),
        (
            "balance",
            "show each credential's usage and remaining credits",
            account_checks.cmd_balance,
        ),
    ):
        check = action(name, help_text, handler)
        check.add_argument("ids", nargs="*", type=int, metavar="ID", help="default: all")
        check.add_argument("--upstream-url", metavar="URL", help="call this base URL instead")
        add_json_option(check)

    enable = action("enable", "put a disabled credential back into rotation", cmd_enable)
    enable.add_argument("id", type=int)
    disable = action("disable", "take a credential out of rotation", cmd_disable)
    disable.add_argument("id", type=int)
    disable.add_argument("--reason", help="a note kept with the credential")
    remove = action("remove", "delete a credential from the store", cmd_remove)
    remove.add_argument("id", type=int)
    add_yes_option(remove)


def operations(settings: Settings) -> AbstractAsyncContextManager[Operations]:
    """The service's operations over the store alone (no gateway needs to run)."""
    from kirogate.service.operations import Operations

    return Operations.open(settings)


def describe_state(state: CredentialState | None, now: datetime) -> str:
    if state is None:
        return "active"
    if state.disabled_reason is not None:
        detail = f": {state.disabled_detail}" if state.disabled_detail else ""
        return f"disabled ({state.disabled_reason.value}{detail})"
    if state.cooling(now) and state.cooldown_until is not None:
        reason = state.cooldown_reason.value if state.cooldown_reason else "cooldown"
        return f"cooling until {state.cooldown_until:%Y-%m-%d %H:%M} UTC ({reason})"
    return "active"


def public_row(cred: Credential, state: CredentialState | None, now: datetime) -> dict[str, Any]:
    """One credential as ``--json`` shows it: no secret whole."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value else None

    return {
        "id": cred.id,
        "label": cred.label,
        "email": cred.email,
        "authMethod": cred.auth_method.value,
        "provider": cred.provider,
        "priority": cred.priority,
        "state": describe_state(state, now),
        "disabledReason": state.disabled_reason.value if state and state.disabled_reason else None,
        "cooldownUntil": when(state.cooldown_until) if state else None,
        "expiresAt": when(cred.expires_at),
        "region": cred.region or cred.auth_region,
        "source": cred.origin.describe() if cred.origin else "store",
        "refreshToken": mask(cred.refresh_token or cred.kiro_api_key),
        "hasProfileArn": bool(cred.profile_arn),
        "successCount": state.success_count if state else 0,
        "errorCount": state.error_count if state else 0,
        "lastUsed": when(state.last_used) if state else None,
    }


async def _list(settings: Settings) -> list[dict[str, Any]]:
    async with operations(settings) as ops:
        creds = await ops.stored_credentials()
        states = await ops.stored_states()
    now = datetime.now(UTC)
    return [public_row(cred, states.get(cred.id or -1), now) for cred in creds]


def cmd_list(args: argparse.Namespace) -> int:
    settings = load(args, STORE_FLAGS).settings
    rows = run(_list(settings))
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        say(WARN_MARK, "no credentials in the store; add one with `kirogate login`, "
            "`kirogate accounts add` or `kirogate accounts import FILE`")  # fmt: skip
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(rows)} credential{'s' if len(rows) != 1 else ''}")
    for column in ("id", "account", "auth", "prio", "state", "expires", "token", "ok/err"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = "red" if row["state"].startswith("disabled") else ""
        table.add_row(
            str(row["id"]), row["email"] or "-", row["authMethod"], str(row["priority"]), row["state"],
            (row["expiresAt"] or "-").replace("T", " ")[:16], row["refreshToken"],
            f"{row['successCount']}/{row['errorCount']}", style=style,
        )  # fmt: skip
    console().print(table)
    if any(not row["email"] for row in rows):
        say("", "an account's email shows once the usage data names it: `kirogate accounts "
            "balance` (a running gateway learns it by itself)")  # fmt: skip
    return EXIT_OK


# ---------------------------------------------------------------- add / import


def _secret_input(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt).strip()
    return sys.stdin.readline().strip()


def credential_from_flags(args: argparse.Namespace) -> Credential:
    from kirogate.upstream.auth.sources import credential_from_object
    from kirogate.upstream.credentials import CredentialOrigin

    token = args.refresh_token
    if token == "-" or (token is None and not args.kiro_api_key):
        token = _secret_input("Refresh token: ")
    data: dict[str, Any] = {
        "refreshToken": token or None,
        "authMethod": args.auth_method,
        "clientId": args.client_id,
        "clientSecret": args.client_secret,
        "kiroApiKey": args.kiro_api_key,
        "region": args.region,
        "authRegion": args.auth_region,
        "apiRegion": args.api_region,
        "email": args.email,
        "profileArn": args.profile_arn,
        "proxyUrl": args.proxy_url,
        "priority": args.priority,
    }
    names = {key: "--" + "".join("-" + c.lower() if c.isupper() else c for c in key)
             for key in data}  # fmt: skip
    return credential_from_object(
        {key: value for key, value in data.items() if value is not None},
        source="accounts add",
        origin=CredentialOrigin("store"),
        names=names,
    )


async def _add_one(settings: Settings, cred: Credential) -> Any:
    async with operations(settings) as ops:
        return await ops.add(cred)


def cmd_add(args: argparse.Namespace) -> int:
    settings = load(args, STORE_FLAGS).settings
    credential = credential_from_flags(args)
    stored, created = run(_add_one(settings, credential))
    if args.json:
        print_json({"id": stored.id, "created": created, "label": stored.label})
    elif created:
        say(OK_MARK, f"added credential #{stored.id} ({stored.auth_method.value}, "
            f"token {mask(stored.refresh_token or stored.kiro_api_key)})")  # fmt: skip
    else:
        say(WARN_MARK, f"already stored as #{stored.id}; nothing added")
    return EXIT_OK


def _linked_to_file(cred: Credential) -> bool:
    """The Kiro IDE token file: the IDE keeps rotating its token, so the row follows the file
    (as when ``serve`` reads it) instead of being a copy that dies at the next rotation."""
    from kirogate.settings import KIRO_IDE_TOKEN_FILE

    origin = cred.origin
    return (
        origin is not None
        and origin.kind == "kiro-ide"
        and origin.path is not None
        and origin.path.name == KIRO_IDE_TOKEN_FILE.name
    )


async def _import_all(
    settings: Settings, creds: list[Credential], *, progress: bool
) -> ImportReport:
    async with operations(settings) as ops:
        if not progress:
            return await ops.import_credentials(creds)
        from rich.progress import Progress

        with Progress(console=err_console(), transient=True) as bar:
            task = bar.add_task("importing", total=len(creds))
            return await ops.import_credentials(creds, each=lambda: bar.advance(task))


def cmd_import(args: argparse.Namespace) -> int:
    from kirogate.upstream.auth.sources import load_credentials_file, load_env_credentials

    if not args.files and not args.from_env:
        raise CliError("give one or more FILEs, or --from-env", EXIT_USAGE)
    settings = load(args, STORE_FLAGS).settings
    creds: list[Credential] = []
    for path in args.files:
        creds += load_credentials_file(path, ids=False)
    if args.from_env:
        creds += load_env_credentials(os.environ, ids=False)
    for cred in creds:
        cred.id = None  # the store assigns the ids
        if not _linked_to_file(cred):
            cred.origin = None  # a copy: the store owns it now
    report = run(_import_all(settings, creds, progress=len(creds) > 1 and not args.json))
    added, updated, already, merged = report.added, report.updated, report.already, report.merged
    if args.json:
        print_json({"found": len(creds), "added": [c.id for c in added],
                    "updated": [c.id for c in updated], "already": [c.id for c in already],
                    "merged": [{"id": cid, "into": into} for cid, into in merged]})  # fmt: skip
        return EXIT_OK
    more = f", {len(already)} already stored" if already else ""
    if updated:
        more += f", {len(updated)} stored already and given the newer tokens"
    say(OK_MARK if creds else WARN_MARK, f"imported {len(added)} of {len(creds)} credentials{more}")
    for cid, into in merged:
        say("", f"  #{cid} was the same account with a rejected refresh token: merged into #{into}")
    return EXIT_OK


# ---------------------------------------------------------------- export


async def _export(settings: Settings) -> list[Credential]:
    async with operations(settings) as ops:
        return await ops.stored_credentials()


def cmd_export(args: argparse.Namespace) -> int:
    from kirogate.cli.credfile import credential_entry, write_entries

    to_stdout = str(args.file) == "-"
    if not to_stdout and args.file.exists() and not args.force:
        raise CliError(f"{args.file} exists; pass --force to replace it")
    settings = load(args, STORE_FLAGS).settings
    creds = run(_export(settings))
    entries = [credential_entry(cred, redact=args.redact) for cred in creds]
    if to_stdout:
        print_json(entries)
    else:
        write_entries(args.file, entries)
    where = "stdout" if to_stdout else f"{args.file} (mode 0600)"
    say(OK_MARK, f"exported {len(entries)} credentials to {where}", err=to_stdout)
    if args.redact:
        say("", "  secrets are masked: this file documents the accounts but cannot log in",
            err=to_stdout)  # fmt: skip
    else:
        say(WARN_MARK, "it holds refresh tokens and client secrets: keep it private",
            err=to_stdout)  # fmt: skip
    return EXIT_OK


# ---------------------------------------------------------------- enable / disable / remove


async def _set_disabled(settings: Settings, cred_id: int, reason: str | None, on: bool) -> str:
    async with operations(settings) as ops:
        return (await ops.set_disabled(cred_id, on, reason=reason)).label


def cmd_enable(args: argparse.Namespace) -> int:
    label = run(_set_disabled(load(args, STORE_FLAGS).settings, args.id, None, False))
    say(OK_MARK, f"credential #{args.id} ({label}) is enabled")
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    label = run(_set_disabled(load(args, STORE_FLAGS).settings, args.id, args.reason, True))
    say(OK_MARK, f"credential #{args.id} ({label}) is disabled")
    return EXIT_OK


async def _label(settings: Settings, cred_id: int) -> str:
    async with operations(settings) as ops:
        return (await ops.stored_credential(cred_id)).label


async def _remove(settings: Settings, cred_id: int) -> str:
    # Confirmed by the operator (asked, or --yes): an enabled credential may go too.
    async with operations(settings) as ops:
        return (await ops.remove(cred_id, confirmed=True)).label


def cmd_remove(args: argparse.Namespace) -> int:
    settings = load(args, STORE_FLAGS).settings
    what = f"deleting credential #{args.id}"
    if not args.yes and sys.stdin.isatty():
        label = run(_label(settings, args.id))  # an unknown id fails before the question
        if not confirm(args, f"Delete credential #{args.id} ({label})?", what=what):
            say(WARN_MARK, "nothing deleted")
            return EXIT_FAILURE
    else:
        confirm(args, "", what=what)  # --yes, or a refusal: nobody to ask
    label = run(_remove(settings, args.id))
    say(OK_MARK, f"deleted credential #{args.id} ({label})")
    return EXIT_OK
