from __future__ import annotations

from kirogate.settings import UpstreamSettings
from kirogate.upstream.endpoints import resolve_endpoints


def test_the_runtime_host_uses_the_kiro_dev_hosts() -> None:
    ep = resolve_endpoints(UpstreamSettings(region="eu-central-1"))
    assert ep.generate_assistant_response() == (
        "https://runtime.eu-central-1.kiro.dev/generateAssistantResponse"
    )
    assert ep.list_models() == "https://management.eu-central-1.kiro.dev/ListAvailableModels"
    assert ep.list_profiles() == "https://management.eu-central-1.kiro.dev/listAvailableProfiles"
    assert ep.usage_limits() == "https://runtime.eu-central-1.kiro.dev/getUsageLimits"
    assert ep.mcp() == "https://runtime.eu-central-1.kiro.dev/mcp"
    assert ep.needs_profile_arn


def test_the_q_host_serves_data_and_management_and_needs_no_arn() -> None:
    ep = resolve_endpoints(UpstreamSettings(host_style="q"))
    assert ep.generate_assistant_response() == (
        "https://q.us-east-1.amazonaws.com/generateAssistantResponse"
    )
    assert ep.list_models() == "https://q.us-east-1.amazonaws.com/ListAvailableModels"
    assert not ep.needs_profile_arn


def test_auth_hosts_follow_the_auth_region() -> None:
    ep = resolve_endpoints(UpstreamSettings(region="us-east-1", auth_region="eu-west-1"))
    assert ep.social_refresh() == "https://prod.eu-west-1.auth.desktop.kiro.dev/refreshToken"
    assert ep.social_token() == "https://prod.eu-west-1.auth.desktop.kiro.dev/oauth/token"
    assert ep.social_login() == "https://prod.eu-west-1.auth.desktop.kiro.dev/login"
    assert ep.oidc_register() == "https://oidc.eu-west-1.amazonaws.com/client/register"
    assert ep.oidc_device_authorization() == (
        "https://oidc.eu-west-1.amazonaws.com/device_authorization"
    )
    assert ep.oidc_token() == "https://oidc.eu-west-1.amazonaws.com/token"
    assert ep.data == "https://runtime.us-east-1.kiro.dev"


def test_a_credentials_own_regions_win_over_the_settings() -> None:
    settings = UpstreamSettings(region="us-east-1", api_region="us-west-2", auth_region="eu-west-1")
    ep = resolve_endpoints(settings, api_region="ap-south-1", auth_region="ap-east-1")
    assert ep.data == "https://runtime.ap-south-1.kiro.dev"
    assert ep.oidc == "https://oidc.ap-east-1.amazonaws.com"


def test_an_upstream_url_sends_every_call_to_one_base() -> None:
    ep = resolve_endpoints(UpstreamSettings(url="http://127.0.0.1:9000/"))
    assert {ep.data, ep.management, ep.social_auth, ep.oidc} == {"http://127.0.0.1:9000"}
    assert ep.oidc_token() == "http://127.0.0.1:9000/token"
