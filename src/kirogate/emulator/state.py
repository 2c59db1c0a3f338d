"""Everything the emulator remembers: accounts, tokens, OIDC clients, pending logins, requests.

Token rules (the faithful part):

- Access tokens are ones this emulator issued (or a test registered) and not yet expired.
- API keys: any ``ksk_…`` key not revoked, only with the ``tokentype: API_KEY`` header.
- Refresh tokens: unknown ones are accepted on first sight (an account is created), unless
  revoked or containing ``revoked``. With rotation, a used token dies and a new one replaces
  it. A token belongs to one auth method (social or IdC) and, for IdC, to one client.

Python methods here mirror the ``/_emulator`` control endpoints for in-process tests.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
from collections.abc import Callable, Mapping
from typing import Any

from kirogate.emulator.accounts import AccessGrant, Account, DeviceAuth, LoginGrant, ScenarioPlan
from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.context import parse_spec
from kirogate.emulator.recorder import RequestLog
from kirogate.emulator.scenarios import SCENARIOS, Scenario
from kirogate.emulator.usage import UsagePlan, plan_type, update_plan

_BASE62 = string.digits + string.ascii_letters
_USER_CODE = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels, as AWS avoids words in user codes


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self.requests = RequestLog(config.record_limit)
        self.reset()

    def reset(self) -> None:
        """Forget every account, token, client, login and recorded request."""
        self._rng = random.Random(self.config.seed)
        self._offset = 0.0
        self._account_seq = 0
        self.accounts: dict[str, Account] = {}
        self.access_tokens: dict[str, AccessGrant] = {}
        self.refresh_tokens: dict[str, Account] = {}
        self.dead_refresh_tokens: set[str] = set()
        self.api_keys: dict[str, Account] = {}
        self.revoked_api_keys: set[str] = set()
        self.clients: dict[str, str] = {}
        self.devices: dict[str, DeviceAuth] = {}
        self.user_codes: dict[str, str] = {}
        self.logins: dict[str, LoginGrant] = {}
        # An HTTP status every token refresh answers (an auth service outage); None: none.
        self.refresh_outage: int | None = None
        # The next N device-code polls answer slow_down (and raise that code's interval by
        # 5 s, as RFC 8628 asks the client to): how a test sees the client honour it.
        self.device_slow_downs = 0
        self.requests.clear()

    # ------------------------------------------------------------ clock and ids

    def now(self) -> float:
        return self._clock() + self._offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's notion of time forward (token and device-code expiry)."""
        self._offset += seconds

    def _random(self, length: int, alphabet: str = _BASE62) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def new_tool_use_id(self) -> str:
        return "tooluse_" + self._random(22)

    def new_request_id(self) -> str:
        raw = self._random(32, "0123456789abcdef")
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    # ------------------------------------------------------------ accounts

    def create_account(self, auth_method: str, *, profile_arn: str | None = None) -> Account:
        self._account_seq += 1
        number = self._account_seq
        if profile_arn is None:
            if auth_method == "social":
                profile_arn = self.config.social_profile_arn
            else:
                account_no = "".join(self._rng.choice(string.digits) for _ in range(12))
                profile_id = self._random(12, string.ascii_uppercase + string.digits)
                profile_arn = f"arn:aws:codewhisperer:us-east-1:{account_no}:profile/{profile_id}"
        account = Account(
            id=f"acct-{number:04d}",
            auth_method=auth_method,
            profile_arn=profile_arn,
            user_id=f"d-9067642ac7.{hashlib.sha256(str(number).encode()).hexdigest()[:32]}",
            email=f"user{number}@example.com",
            usage=UsagePlan(
                subscription_title=self.config.plan,
                subscription_type=plan_type(self.config.plan),
            ),
        )
        self.accounts[account.id] = account
        return account

    def issue_access_token(
        self, account: Account, *, token: str | None = None, ttl: float | None = None
    ) -> str:
        token = token or "aoaAAAAAG" + self._random(110)
        lifetime = self.config.access_token_ttl if ttl is None else ttl
        self.access_tokens[token] = AccessGrant(account, self.now() + lifetime)
        return token

    def issue_refresh_token(self, account: Account, *, token: str | None = None) -> str:
        token = token or "aorAAAAAG" + self._random(110)
        if account.refresh_token and account.refresh_token != token:
            self.refresh_tokens.pop(account.refresh_token, None)
        account.refresh_token = token
        self.refresh_tokens[token] = account
        return token

    def authenticate(self, authorization: str | None, token_type: str | None) -> Account | None:
        """The account behind a data-plane ``Authorization`` header, or None (→ 403)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if (token_type or "").upper() == "API_KEY":
            if not token.startswith("ksk_") or "revoked" in token:
                return None
            if token in self.revoked_api_keys:
                return None
            account = self.api_keys.get(token)
            if account is None:
                account = self.create_account("api_key")
                account.api_key = token
                self.api_keys[token] = account
            return account
        grant = self.access_tokens.get(token)
        if grant is None or grant.expires_at <= self.now():
            return None
        return grant.account

    # ------------------------------------------------------------ refresh

    def refresh(
        self, refresh_token: str, *, auth_method: str, client_id: str | None = None
    ) -> tuple[Account, str, str] | None:
        """Spend a refresh token: ``(account, access, refresh)``, or None for invalid_grant."""
        if not refresh_token or "revoked" in refresh_token:
            return None
        if refresh_token in self.dead_refresh_tokens:
            return None
        account = self.refresh_tokens.get(refresh_token)
        if account is None:
            account = self.create_account(auth_method)
            account.client_id = client_id if auth_method == "idc" else None
            self.issue_refresh_token(account, token=refresh_token)
        if account.auth_method != auth_method:
            return None
        if auth_method == "idc":
            if account.client_id is None:
                account.client_id = client_id
            elif account.client_id != client_id:
                return None
        if self.config.rotate_refresh_tokens:
            self.dead_refresh_tokens.add(refresh_token)
            new_refresh = self.issue_refresh_token(account)
        else:
            new_refresh = refresh_token
        return account, self.issue_access_token(account), new_refresh

    # ------------------------------------------------------------ OIDC clients and devices

    def register_client(
        self, client_id: str | None = None, client_secret: str | None = None
    ) -> tuple[str, str]:
        client_id = client_id or self._random(22, _BASE62 + "-_")
        client_secret = client_secret or "eyJraWQiOiJrZXktM" + self._random(120)
        self.clients[client_id] = client_secret
        return client_id, client_secret

    def client_valid(self, client_id: Any, client_secret: Any) -> bool:
        if not isinstance(client_id, str) or not client_id:
            return False
        if client_id.startswith("emu-"):
            return True
        return client_secret is not None and self.clients.get(client_id) == client_secret

    def start_device(self, client_id: str) -> DeviceAuth:
        user_code = f"{self._random(4, _USER_CODE)}-{self._random(4, _USER_CODE)}"
        device = DeviceAuth(
            device_code=self._random(86, _BASE62 + "-_"),
            user_code=user_code,
            client_id=client_id,
            expires_at=self.now() + self.config.device_code_ttl,
            interval=self.config.device_poll_interval,
        )
        self.devices[device.device_code] = device
        self.user_codes[user_code] = device.device_code
        return device

    def approve_device(self, user_code: str, *, approve: bool = True) -> bool:
        """What opening the verification URL does; False for an unknown or finished code."""
        device = self.devices.get(self.user_codes.get(user_code.strip().upper(), ""))
        if device is None or device.status not in ("pending", "approved", "denied"):
            return False
        if device.expires_at <= self.now():
            return False
        device.status = "approved" if approve else "denied"
        return True

    # ------------------------------------------------------------ social PKCE login

    def start_login(self, *, challenge: str, redirect_uri: str, idp: str) -> str:
        code = self._random(48)
        self.logins[code] = LoginGrant(code, challenge, redirect_uri, idp, self.now() + 600)
        return code

    def take_login(self, code: str) -> LoginGrant | None:
        grant = self.logins.pop(code, None)
        if grant is None or grant.expires_at <= self.now():
            return None
        return grant

    # ------------------------------------------------------------ control (tests, /_emulator)

    def register_credential(
        self,
        *,
        account_id: str | None = None,
        refresh_token: str | None = None,
        access_token: str | None = None,
        api_key: str | None = None,
        auth_method: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        profile_arn: str | None = None,
        email: str | None = None,
        expires_in: float | None = None,
        scenario: str | None = None,
        count: int | None = None,
        usage: Mapping[str, Any] | None = None,
    ) -> Account:
        """Create, or update (found by ``account_id`` or a known token), an account.

        ``scenario`` is a name with optional arguments (``"throttle retry_after=2"``);
        ``count`` limits it to the account's next N data-plane requests; ``""`` clears it.
        """
        account = self.find_account(
            account_id=account_id,
            refresh_token=refresh_token,
            access_token=access_token,
            api_key=api_key,
        )
        if account is None and account_id:
            raise ValueError(f"unknown account id {account_id!r}")
        if account is None:
            method = (auth_method or "").lower() or (
                "api_key" if api_key else "idc" if client_id else "social"
            )
            if method in ("builder-id", "iam"):
                method = "idc"
            if method not in ("social", "idc", "api_key"):
                raise ValueError(f"unknown authMethod {auth_method!r}")
            account = self.create_account(method, profile_arn=profile_arn)
        elif profile_arn:
            account.profile_arn = profile_arn
        if client_id:
            account.client_id = client_id
            if client_secret:
                self.register_client(client_id, client_secret)
        if refresh_token:
            self.dead_refresh_tokens.discard(refresh_token)
            self.issue_refresh_token(account, token=refresh_token)
        if access_token:
            self.issue_access_token(account, token=access_token, ttl=expires_in)
        if api_key:
            self.revoked_api_keys.discard(api_key)
            account.api_key = api_key
            self.api_keys[api_key] = account
        if email:
            account.email = email
        if scenario is not None:
            self.set_scenario(account, scenario, count)
        if usage:
            update_plan(account.usage, usage)
        return account

    def set_scenario(self, account: Account, spec: str, count: int | None = None) -> None:
        if not spec:
            account.plan = None
            return
        name, args = parse_spec(spec)
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}")
        account.plan = ScenarioPlan(name, args, count)

    def find_account(
        self,
        *,
        refresh_token: str | None = None,
        access_token: str | None = None,
        api_key: str | None = None,
        account_id: str | None = None,
    ) -> Account | None:
        if account_id and account_id in self.accounts:
            return self.accounts[account_id]
        if refresh_token and refresh_token in self.refresh_tokens:
            return self.refresh_tokens[refresh_token]
        if access_token and access_token in self.access_tokens:
            return self.access_tokens[access_token].account
        if api_key and api_key in self.api_keys:
            return self.api_keys[api_key]
        return None

    def expire_access_token(self, token: str) -> bool:
        grant = self.access_tokens.get(token)
        if grant is None:
            return False
        grant.expires_at = self.now() - 1
        return True

    def revoke(
        self,
        *,
        refresh_token: str | None = None,
        api_key: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        """Kill a token at once; issued access tokens of a revoked refresh token stay valid."""
        done = False
        if refresh_token:
            account = self.refresh_tokens.pop(refresh_token, None)
            if account is not None and account.refresh_token == refresh_token:
                account.refresh_token = None
            self.dead_refresh_tokens.add(refresh_token)
            done = True
        if api_key:
            self.revoked_api_keys.add(api_key)
            self.api_keys.pop(api_key, None)
            done = True
        if access_token:
            done = self.access_tokens.pop(access_token, None) is not None or done
        return done

    def peek_plan(self, account: Account) -> ScenarioPlan | None:
        plan = account.plan
        if plan is None or (plan.remaining is not None and plan.remaining <= 0):
            return None
        return plan

    def take_plan(
        self, account: Account, *, http_only: bool = False
    ) -> tuple[Scenario, dict[str, str]] | None:
        """The account's scenario for this request (one use spent), or None."""
        plan = self.peek_plan(account)
        if plan is None:
            return None
        chosen = SCENARIOS[plan.name]
        if http_only and chosen.kind != "http":
            return None
        if plan.remaining is not None:
            plan.remaining -= 1
        return chosen, dict(plan.args)
