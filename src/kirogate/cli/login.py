"""``kirogate login``: create a credential with the device flow or a social (PKCE) login.

Device flow (AWS Builder ID, or IAM Identity Center with ``--start-url``): the URL and code are
shown, a spinner runs while the token endpoint is polled. Social (``--social google|github``):
the user signs in in a browser, which ends on a ``kiro://`` link the browser cannot open; the
user pastes that link here (or passes ``--redirect-url``). The credential goes into the store,
or with ``--output FILE`` into a kiro.rs ``credentials.json`` (0600).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kirogate.cli.command_kit import (
    EXIT_FAILURE,
    EXIT_OK,
    FAIL_MARK,
    OK_MARK,
    CliError,
    add_config_options,
    console,
    load,
    mask,
    run,
    say,
)

if TYPE_CHECKING:
    from kirogate.settings import Settings
    from kirogate.upstream.credentials import Credential
    from kirogate.upstream.http import HttpPool

LOGIN_FLAGS = {"upstream_url": "upstream.url", "database_url": "database_url"}


def add_parser(commands: Any) -> None:
    login = commands.add_parser(
        "login",
        help="log in to Kiro (Builder ID / Identity Center device flow, or Google / GitHub)",
        description="Log in and save the new credential in the store (or a credentials file).",
    )
    add_config_options(login)
    login.add_argument("--start-url", metavar="URL",
                       help="IAM Identity Center start URL (default: AWS Builder ID)")  # fmt: skip
    login.add_argument("--region", help="region of the login service (default us-east-1)")
    login.add_argument("--social", choices=["google", "github"], type=str.lower,
                       help="log in with Google or GitHub instead of the device flow")  # fmt: skip
    login.add_argument("--redirect-url", metavar="URL",
                       help="social login: the kiro:// URL the browser ended on (else asked for)")  # fmt: skip
    login.add_argument("-o", "--output", type=Path, metavar="FILE",
                       help="add the credential to this kiro.rs credentials.json instead")  # fmt: skip
    login.add_argument("--priority", type=int, default=0, help="pool priority (lower = first)")
    login.add_argument("--browser", action="store_true", help="open the URL in a browser")
    login.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="stop waiting for the approval after this long")  # fmt: skip
    login.add_argument("--upstream-url", metavar="URL", help="log in against this base URL")
    login.add_argument("--database-url", metavar="URL", help="the store to save into")
    login.set_defaults(handler=cmd_login)


def _open(url: str, browser: bool) -> None:
    if browser:
        try:
            webbrowser.open(url, new=2)
        except webbrowser.Error:
            say(FAIL_MARK, "could not open a browser; open the URL yourself")


async def device_login(
    pool: HttpPool, settings: Settings, *, start_url: str | None, region: str, args: Any
) -> Credential:
    from rich.markup import escape

    from kirogate.upstream.auth import oidc
    from kirogate.upstream.endpoints import resolve_endpoints

    endpoints = resolve_endpoints(settings.upstream, auth_region=region)
    session, proxy = pool.session_for(None)
    start = start_url or oidc.BUILDER_ID_START_URL
    registration = await oidc.register_client(
        session, endpoints, settings.upstream, proxy=str(proxy) if proxy else None
    )
    authorization = await oidc.start_device_authorization(
        session, endpoints, settings.upstream, registration, start_url=start,
        proxy=str(proxy) if proxy else None,
    )  # fmt: skip
    url = authorization.verification_uri_complete or authorization.verification_uri
    who = "AWS Builder ID" if start == oidc.BUILDER_ID_START_URL else start
    out = console()
    out.print(f"\nSign in with [bold]{escape(who)}[/bold]:", highlight=False)
    out.print(f"  1. Open  {url}", markup=False)
    code = escape(authorization.user_code)
    out.print(f"  2. Check that the page shows the code  [bold cyan]{code}[/]")
    out.print("     and approve the request.\n")
    _open(url, args.browser)
    with out.status("Waiting for the approval…", spinner="dots") as status:

        def pending(state: str, remaining: float) -> None:
            minutes, seconds = divmod(int(remaining), 60)
            extra = " (the server asked to slow down)" if state == "slow_down" else ""
            status.update(f"Waiting for the approval… {minutes}:{seconds:02d} left{extra}")

        return await oidc.poll_device_token(
            session, endpoints, settings.upstream, registration, authorization,
            region=region, start_url=start, on_pending=pending, max_wait=args.timeout,
            proxy=str(proxy) if proxy else None,
        )  # fmt: skip


async def _read_redirect(prompt: str) -> str:
    console().print(prompt, end="", markup=False)
    sys.stdout.flush()
    line: str = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise CliError("no redirect URL given (stdin closed); pass --redirect-url URL")
    return line.strip()


async def social_login(pool: HttpPool, settings: Settings, *, idp: str, region: str,
                       args: Any) -> Credential:  # fmt: skip
    from kirogate.upstream.auth import oidc
    from kirogate.upstream.endpoints import resolve_endpoints

    endpoints = resolve_endpoints(settings.upstream, auth_region=region)
    session, proxy = pool.session_for(None)
    pkce = oidc.make_pkce()
    redirect_uri = oidc.KIRO_REDIRECT_URI
    url = oidc.social_login_url(endpoints, idp, redirect_uri, pkce.challenge, pkce.state)
    name = "GitHub" if idp == "github" else "Google"
    out = console()
    out.print(f"\nSign in with [bold]{name}[/bold]:", highlight=False)
    out.print(f"  1. Open  {url}", markup=False)
    out.print("  2. After signing in, the browser tries to open a kiro:// link and may say it")
    out.print("     cannot. Copy that link (it starts with", markup=False)
    out.print(f"     {redirect_uri}?code=...) and paste it below.\n", markup=False)
    _open(url, args.browser)
    redirect = args.redirect_url or await _read_redirect("Redirect URL: ")
    code = oidc.code_from_redirect(redirect, state=pkce.state)
    with out.status("Exchanging the login code…", spinner="dots"):
        return await oidc.exchange_social_code(
            session, endpoints, code, pkce.verifier, redirect_uri, settings=settings.upstream,
            idp=idp, region=region, proxy=str(proxy) if proxy else None,
        )  # fmt: skip


async def save(credential: Credential, settings: Settings, output: Path | None) -> str:
    """Store (or write) the credential; the line that says where it went."""
    if output is not None:
        from kirogate.cli.credfile import append_credential

        index, added = append_credential(output, credential)
        verb = "added to" if added else "already in"
        return f"credential {verb} {output} (entry {index}, mode 0600)"
    from kirogate.service.operations import Operations

    async with Operations.open(settings) as operations:
        stored, created = await operations.add(credential)
        where = operations.store_url
    verb = "saved as" if created else "already stored as"
    return f"credential {verb} #{stored.id} in {where}"


async def _login(args: argparse.Namespace, settings: Settings) -> Credential:
    from kirogate.upstream.http import HttpPool

    region = args.region or settings.upstream.auth_region or settings.upstream.region
    async with HttpPool(settings.upstream) as pool:
        if args.social:
            if args.start_url:
                raise CliError("--start-url is for the device flow; drop it or --social", 2)
            return await social_login(pool, settings, idp=args.social, region=region, args=args)
        return await device_login(
            pool, settings, start_url=args.start_url, region=region, args=args
        )


def cmd_login(args: argparse.Namespace) -> int:
    from kirogate.errors import LoginFailed
    from kirogate.upstream.credentials import MAX_PRIORITY

    if not 0 <= args.priority <= MAX_PRIORITY:  # before the browser, not after it
        raise CliError(f"--priority must be between 0 and {MAX_PRIORITY}", 2)
    settings = load(args, LOGIN_FLAGS).settings
    try:
        credential = run(_login(args, settings))
    except LoginFailed as exc:
        say(FAIL_MARK, f"login failed: {exc}", err=True)
        return EXIT_FAILURE
    credential.priority = args.priority
    where = run(save(credential, settings, args.output))
    expiry = f"{credential.expires_at:%Y-%m-%d %H:%M} UTC" if credential.expires_at else "unknown"
    say(
        OK_MARK,
        f"logged in ({credential.auth_method.value}, {credential.provider or 'Kiro'}); {where}",
    )
    say("", f"  refresh token {mask(credential.refresh_token)}, access token valid until {expiry}")
    from kirogate import daemon

    if daemon.find_running(settings.data_path).pid is not None:
        say("", "  a gateway is running: `kirogate restart` makes it use the new credential now")
    return EXIT_OK
