"""Where each upstream call goes.

With ``upstream_url`` set (the emulator, tests, the demo, benchmarks) every call goes to that
one base with the real paths. Otherwise the real hosts of the spec are used:

- data plane: ``https://runtime.{api_region}.kiro.dev`` (current; needs a profileArn) or the
  older ``https://q.{api_region}.amazonaws.com`` (``host_style="q"``);
- management (models, profiles): ``https://management.{api_region}.kiro.dev`` for the
  runtime host, the ``q`` host otherwise; usage limits live on the data-plane host;
- Social refresh and login: ``https://prod.{auth_region}.auth.desktop.kiro.dev``;
- SSO-OIDC: ``https://oidc.{auth_region}.amazonaws.com``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kirogate.settings import UpstreamSettings


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs (no trailing slash) for one credential's regions."""

    data: str
    management: str
    social_auth: str
    oidc: str
    host_style: str

    @property
    def needs_profile_arn(self) -> bool:
        return self.host_style == "runtime"

    def generate_assistant_response(self) -> str:
        return f"{self.data}/generateAssistantResponse"

    def mcp(self) -> str:
        return f"{self.data}/mcp"

    def usage_limits(self) -> str:
        return f"{self.data}/getUsageLimits"

    def list_models(self) -> str:
        return f"{self.management}/ListAvailableModels"

    def list_profiles(self) -> str:
        return f"{self.management}/listAvailableProfiles"

    def social_refresh(self) -> str:
        return f"{self.social_auth}/refreshToken"

    def social_token(self) -> str:
        return f"{self.social_auth}/oauth/token"

    def social_login(self) -> str:
        return f"{self.social_auth}/login"

    def oidc_register(self) -> str:
        return f"{self.oidc}/client/register"

    def oidc_device_authorization(self) -> str:
        return f"{self.oidc}/device_authorization"

    def oidc_token(self) -> str:
        return f"{self.oidc}/token"


def resolve_endpoints(
    settings: UpstreamSettings,
    *,
    api_region: str | None = None,
    auth_region: str | None = None,
) -> Endpoints:
    """Endpoints for a credential; its own regions win over the settings' (kiro.rs precedence)."""
    api = api_region or settings.api_region or settings.region
    auth = auth_region or settings.auth_region or settings.region
    if settings.url:
        base = settings.url.rstrip("/")
        return Endpoints(base, base, base, base, settings.host_style)
    if settings.host_style == "q":
        data = f"https://q.{api}.amazonaws.com"
        management = data
    else:
        data = f"https://runtime.{api}.kiro.dev"
        management = f"https://management.{api}.kiro.dev"
    return Endpoints(
        data=data,
        management=management,
        social_auth=f"https://prod.{auth}.auth.desktop.kiro.dev",
        oidc=f"https://oidc.{auth}.amazonaws.com",
        host_style=settings.host_style,
    )
