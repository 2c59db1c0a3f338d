"""``kirogate keys ...``: client keys for people and teams, in the store.

``list``, ``create``, ``limits``, ``disable``, ``enable``, ``revoke`` and ``regenerate`` go through the
service's operations over the store alone, as ``kirogate accounts`` does, so the rules are the
admin API's (``/api/admin/keys``, docs/keys.md) and running gateways apply a change within a
second. A new key is printed once; afterwards only its prefix.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kirogate.cli.command_kit import (
    EXIT_OK,
    OK_MARK,
    WARN_MARK,
    add_json_option,
    console,
    load,
    print_json,
    run,
    say,
    store_action,
)

if TYPE_CHECKING:
    from kirogate.service.keys import ListedKey
    from kirogate.settings import Settings

STORE_FLAGS = {"database_url": "database_url"}
_LIMIT_FLAGS = ("rpm", "requests_per_day", "tokens_per_day", "tokens_per_month", "max_concurrency")


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage the client keys in the store")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        return store_action(actions, name, help_text, handler)

    def limit_options(parser: argparse.ArgumentParser) -> None:
        for name in _LIMIT_FLAGS:
            parser.add_argument(f"--{name.replace('_', '-')}", type=int, metavar="N")
        parser.add_argument(
            "--models", metavar="LIST", help="allowed names or patterns, comma list"
        )

    listing = action("list", "list the client keys with their usage", cmd_list)
    add_json_option(listing)
    create = action("create", "create a key (printed once)", cmd_create)
    create.add_argument("name")
    limit_options(create)
    create.add_argument("--expires", metavar="TIME", help="ISO 8601 (UTC without an offset)")
    create.add_argument("--group", metavar="NAME", help="bind the key to a credential group")
    add_json_option(create)
    limits = action("limits", "replace a key's limits (none given: no limits)", cmd_limits)
    limits.add_argument("id", type=int)
    limit_options(limits)
    for name, help_text in (
        ("disable", "stop a key until it is enabled again"),
        ("enable", "let a disabled key work again"),
        ("revoke", "stop a key for good"),
        ("regenerate", "give a key a new secret (printed once); the old one stops working"),
    ):
        one = action(name, help_text, cmd_change)
        one.add_argument("id", type=int)


def _limits(args: argparse.Namespace) -> dict[str, Any] | None:
    limits: dict[str, Any] = {
        name: getattr(args, name) for name in _LIMIT_FLAGS if getattr(args, name) is not None
    }
    if args.models:
        limits["models"] = [part.strip() for part in args.models.split(",") if part.strip()]
    return limits or None


def public_row(listed: ListedKey, now: datetime) -> dict[str, Any]:
    record, usage = listed.record, listed.usage
    last = usage.last_used_at or record.last_used_at
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "state": "revoked"
        if record.revoked
        else "disabled"
        if record.disabled
        else "expired"
        if record.expires_at is not None and now >= record.expires_at
        else "active",
        "group": record.group,
        "limits": record.limits.to_json(),
        "expiresAt": record.expires_at.isoformat() if record.expires_at else None,
        "lastUsed": last.isoformat(timespec="seconds") if last else None,
        "usage": usage.to_json(),
    }


async def _list(settings: Settings) -> list[dict[str, Any]]:
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as ops:
        listed = await ops.list_keys()
    now = datetime.now(UTC)
    return [public_row(item, now) for item in listed]


def cmd_list(args: argparse.Namespace) -> int:
    rows = run(_list(load(args, STORE_FLAGS).settings))
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        say(WARN_MARK, "no client keys in the store; create one with `kirogate keys create NAME`")
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"{len(rows)} client key{'s' if len(rows) != 1 else ''}")
    for column in ("id", "name", "key", "state", "group", "limits", "today", "month", "last used"):
        table.add_column(column, overflow="fold")
    for row in rows:
        limits = ", ".join(
            f"{name}={value}" for name, value in row["limits"].items() if value not in (None, [])
        )
        usage = row["usage"]
        table.add_row(
            str(row["id"]), row["name"], row["prefix"], row["state"], row["group"] or "-",
            limits or "unlimited",
            f"{usage['today']['requests']} req, {usage['today']['tokens']} tok",
            f"{usage['month']['requests']} req, {usage['month']['tokens']} tok",
            (row["lastUsed"] or "-").replace("T", " "),
        )  # fmt: skip
    console().print(table)
    return EXIT_OK


async def _create(settings: Settings, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    from kirogate.service.keys import KeyUsage, ListedKey
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as ops:
        record, plaintext = await ops.create_key(
            args.name, limits=_limits(args), expires_at=args.expires, group=args.group
        )
    return public_row(ListedKey(record, KeyUsage()), datetime.now(UTC)), plaintext


def cmd_create(args: argparse.Namespace) -> int:
    row, plaintext = run(_create(load(args, STORE_FLAGS).settings, args))
    if args.json:
        print_json(row | {"key": plaintext})
        return EXIT_OK
    say(OK_MARK, f"client key #{row['id']} ({row['name']}) created; it is shown only this once:")
    print(plaintext)
    return EXIT_OK


async def _limits_change(settings: Settings, key_id: int, limits: dict[str, Any] | None) -> None:
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as ops:
        await ops.update_key(key_id, {"limits": limits})


def cmd_limits(args: argparse.Namespace) -> int:
    limits = _limits(args)
    run(_limits_change(load(args, STORE_FLAGS).settings, args.id, limits))
    say(OK_MARK, f"client key #{args.id}: {'limits set' if limits else 'no limits'}")
    return EXIT_OK


async def _change(settings: Settings, command: str, key_id: int) -> str | None:
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as ops:
        if command == "revoke":
            await ops.revoke_key(key_id)
        elif command == "regenerate":
            return (await ops.regenerate_key(key_id))[1]
        else:
            await ops.update_key(key_id, {"enabled": command == "enable"})
    return None


def cmd_change(args: argparse.Namespace) -> int:
    plaintext = run(_change(load(args, STORE_FLAGS).settings, args.keys_command, args.id))
    done = {"disable": "disabled", "enable": "enabled", "revoke": "revoked"}
    if plaintext is not None:
        say(OK_MARK, f"client key #{args.id} has a new secret, shown only this once:")
        print(plaintext)
    else:
        say(OK_MARK, f"client key #{args.id} {done[args.keys_command]}")
    return EXIT_OK
