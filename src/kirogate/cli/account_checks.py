"""``accounts verify`` and ``accounts balance``: the stored credentials against the upstream.

``verify`` forces a token refresh per credential and saves the new tokens (a refresh may rotate
the refresh token; not saving it would lose the credential). A refresh token the upstream
rejects (``invalid_grant``) disables the credential, as the pool would. ``balance`` refreshes
only tokens that are due, then asks ``getUsageLimits``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_OK,
    FAIL_MARK,
    OK_MARK,
    WARN_MARK,
    CliError,
    console,
    err_console,
    load,
    print_json,
    run,
    say,
)

if TYPE_CHECKING:
    from kirogate.service.operations import Operations
    from kirogate.settings import Settings
    from kirogate.upstream.credentials import Credential

CHECK_FLAGS = {"database_url": "database_url", "upstream_url": "upstream.url"}


@dataclass(slots=True)
class Outcome:
    id: int | None
    label: str
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


Check = Callable[["Operations", "Credential"], Awaitable[Outcome]]


def _select(creds: list[Credential], ids: list[int]) -> list[Credential]:
    if not ids:
        return creds
    known = {cred.id for cred in creds}
    missing = [str(i) for i in ids if i not in known]
    if missing:
        raise CliError(f"no credential with id {', '.join(missing)} in the store")
    return [cred for cred in creds if cred.id in ids]


async def _each(settings: Settings, ids: list[int], check: Check, *, bar: bool) -> list[Outcome]:
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as ops:
        creds = _select(await ops.stored_credentials(), ids)
        outcomes: list[Outcome] = []
        if not bar or len(creds) < 2:
            for cred in creds:
                outcomes.append(await check(ops, cred))
            return outcomes
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err_console(), transient=True) as progress:
            task = progress.add_task("checking", total=len(creds))
            for cred in creds:
                progress.update(task, description=f"checking {cred.label}")
                outcomes.append(await check(ops, cred))
                progress.advance(task)
        return outcomes


async def verify_one(ops: Operations, cred: Credential) -> Outcome:
    """A forced refresh, saved (a refresh may rotate the refresh token; a row linked to a file,
    the Kiro IDE's, must not leave the file with the dead one)."""
    from kirogate.errors import InvalidGrant, KirogateError

    if cred.is_api_key:
        return Outcome(cred.id, cred.label, True, "API key: nothing to refresh")
    try:
        await ops.verify(cred)
    except InvalidGrant as exc:
        return Outcome(cred.id, cred.label, False, f"refresh token rejected, disabled: {exc}")
    except (KirogateError, ValueError) as exc:
        return Outcome(cred.id, cred.label, False, f"refresh failed: {exc}")
    expiry = f"{cred.expires_at:%Y-%m-%d %H:%M} UTC" if cred.expires_at else "unknown"
    return Outcome(cred.id, cred.label, True, f"refreshed, valid until {expiry}",
                   {"expiresAt": cred.expires_at.isoformat() if cred.expires_at else None})  # fmt: skip


async def balance_one(ops: Operations, cred: Credential) -> Outcome:
    from kirogate.errors import KirogateError

    try:
        # Tokens refreshed on the way, and what the usage data tells about the account (the
        # email `accounts list` shows), are saved by the operation.
        balance = await ops.fetch_balance(cred)
    except (KirogateError, ValueError) as exc:
        return Outcome(cred.id, cred.label, False, str(exc))
    public = balance.to_public()
    detail = (f"{public['remaining']:g} of {public['usageLimit']:g} left "
              f"({public['usagePercentage']:g}% used)")  # fmt: skip
    return Outcome(cred.id, cred.label, True, detail, public)


def _report(outcomes: list[Outcome], *, json_output: bool, title: str) -> int:
    failed = [o for o in outcomes if not o.ok]
    if json_output:
        print_json([{"id": o.id, "label": o.label, "ok": o.ok, "detail": o.detail, **o.data}
                    for o in outcomes])  # fmt: skip
    elif not outcomes:
        say(WARN_MARK, "no credentials in the store")
    else:
        for o in outcomes:
            name = f"#{o.id}" if o.label == f"#{o.id}" else f"#{o.id} {o.label}"
            say(OK_MARK if o.ok else FAIL_MARK, f"{name}: {o.detail}")
        console().print(f"{title}: {len(outcomes) - len(failed)} ok, {len(failed)} failed",
                        markup=False)  # fmt: skip
    return EXIT_FAILURE if failed else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    settings = load(args, CHECK_FLAGS).settings
    from kirogate import daemon

    if daemon.find_running(settings.data_path).pid is not None:
        say(WARN_MARK, "a gateway is running on this data dir; tokens refreshed here are "
            "saved to the store, restart it if it does not pick them up", err=True)  # fmt: skip
    outcomes = run(_each(settings, args.ids, verify_one, bar=not args.json))
    return _report(outcomes, json_output=args.json, title="verified")


def cmd_balance(args: argparse.Namespace) -> int:
    settings = load(args, CHECK_FLAGS).settings
    outcomes = run(_each(settings, args.ids, balance_one, bar=not args.json))
    if args.json or not outcomes or any(not o.ok for o in outcomes):
        return _report(outcomes, json_output=args.json, title="balance")
    from rich.table import Table

    table = Table(title="usage")
    for column in ("id", "account", "plan", "used", "limit", "remaining", "% used", "resets"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        d = o.data
        reset = d.get("daysUntilReset")
        table.add_row(
            str(o.id), o.label, str(d.get("subscriptionTitle") or "-"), f"{d['currentUsage']:g}",
            f"{d['usageLimit']:g}", f"{d['remaining']:g}", f"{d['usagePercentage']:g}",
            f"in {reset} days" if reset is not None else "-",
        )  # fmt: skip
    console().print(table)
    return EXIT_OK
