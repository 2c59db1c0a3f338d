"""Data-plane routes: ``generateAssistantResponse`` (both forms), ``/mcp``, usage, models, profiles.

Checks on ``generateAssistantResponse``, in this order:

1. bearer token (issued, unexpired access token; or ``ksk_`` key + ``tokentype: API_KEY``)
   → 403 invalid bearer;
2. body size over ``max_body_bytes`` → 400 CONTENT_LENGTH_EXCEEDS_THRESHOLD;
3. JSON object → else 400 Improperly formed;
4. profileArn: API keys must not send one (403, as for a foreign ARN); OAuth tokens must
   when ``require_profile_arn`` (400 "profileArn is required for this request."); a
   malformed ARN is 400 "Invalid profileArn", another account's ARN is 403;
5. the credential's HTTP-error scenario, then an enforced, exhausted quota → 402;
6. :func:`validate_request` → 400 Improperly formed (the first rule broken is named in
   the ``x-kirogate-emulator-violation`` header, for test diagnostics);
7. ``modelId`` outside ``KNOWN_MODEL_IDS`` → 400 INVALID_MODEL_ID;
8. the scenario's reply.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Final

import orjson
from aiohttp import web

from kirogate.emulator import replies, websearch
from kirogate.emulator.accounts import Account
from kirogate.emulator.catalogue import model_entries
from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.context import Context
from kirogate.emulator.replies import HttpReply
from kirogate.emulator.responses import json_response, read_json, send_reply, state_of
from kirogate.emulator.scenarios import select
from kirogate.emulator.streaming import send_stream
from kirogate.emulator.usage import usage_document
from kirogate.protocol.events import event_frame
from kirogate.protocol.validation import KNOWN_MODEL_IDS, validate_request

log = logging.getLogger(__name__)

GENERATE_TARGET: Final = "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
# kiro-gateway's check for profile ARNs (spec auth §4.4).
ARN_RE: Final = re.compile(r"^arn:aws:codewhisperer:[a-z0-9-]+:\d+:profile/[A-Za-z0-9._-]+$")


def authenticate(request: web.Request) -> Account | None:
    state = state_of(request)
    account = state.authenticate(
        request.headers.get("Authorization"), request.headers.get("tokentype")
    )
    if account is not None:
        account.requests += 1
    return account


def check_profile(config: EmulatorConfig, account: Account, arn: Any) -> HttpReply | None:
    if account.auth_method == "api_key":
        # kiro-cli capture: API-key calls carry no profileArn; treat one like a foreign ARN.
        return None if arn is None else replies.profile_denied()
    if arn is None or arn == "":
        return replies.profile_required() if config.require_profile_arn else None
    if not isinstance(arn, str) or not ARN_RE.match(arn):
        return replies.profile_malformed()
    if arn != account.profile_arn:
        return replies.profile_denied()
    return None


async def generate_assistant_response(request: web.Request) -> web.StreamResponse:
    return await _generate(request, amz_json=False)


async def amz_target(request: web.Request) -> web.StreamResponse:
    """``POST /`` with ``X-Amz-Target`` (the awsJson1.0 form, spec data §1.3)."""
    target = request.headers.get("X-Amz-Target", "")
    if target == GENERATE_TARGET:
        return await _generate(request, amz_json=True)
    body = {"__type": "UnknownOperationException", "message": f"Unknown operation {target!r}"}
    return send_reply(request, HttpReply(400, body))


async def _generate(request: web.Request, *, amz_json: bool) -> web.StreamResponse:
    state = state_of(request)
    config = state.config
    raw = await request.read()
    account = authenticate(request)
    if account is None:
        return send_reply(request, replies.invalid_bearer())
    if len(raw) > config.max_body_bytes:
        return send_reply(request, replies.input_too_long())
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return send_reply(request, replies.improperly_formed())
    if denied := check_profile(config, account, body.get("profileArn")):
        return send_reply(request, denied)
    ctx = Context(body, len(raw), {}, config.pacing, state.new_tool_use_id)
    planned = state.take_plan(account)
    if planned is not None and planned[0].kind == "http":
        planned_reply = _build(planned[0].build, ctx.with_args(planned[1]))
        if isinstance(planned_reply, HttpReply):
            return send_reply(request, planned_reply)
    if account.usage.enforce and account.usage.remaining() <= 0:
        return send_reply(request, replies.monthly_quota())
    violations = validate_request(body, config.validation)
    if violations:
        log.debug("emulator rejects request: %s", "; ".join(v.message for v in violations))
        reply = replies.improperly_formed()
        headers = {**reply.headers, "x-kirogate-emulator-violation": violations[0].rule}
        return send_reply(request, dataclasses.replace(reply, headers=headers))
    if ctx.model_id not in KNOWN_MODEL_IDS:
        return send_reply(request, replies.invalid_model())
    chosen, args = planned or select(ctx)
    reply_or_stream = _build(chosen.build, ctx.with_args(args))
    if isinstance(reply_or_stream, HttpReply):
        return send_reply(request, reply_or_stream)
    prefix: tuple[bytes, ...] = ()
    if amz_json:
        initial = {"conversationId": ctx.conversation_id} if ctx.conversation_id else {}
        prefix = (event_frame("initial-response", initial),)
    response, completed = await send_stream(
        request,
        reply_or_stream,
        config,
        request_id=state.new_request_id(),
        seq=state.requests.next_seq(),
        prefix=prefix,
    )
    if completed and reply_or_stream.credits:
        account.usage.charge(reply_or_stream.credits)
    return response


def _build(build: Any, ctx: Context) -> replies.Reply:
    try:
        reply: replies.Reply = build(ctx)
    except ValueError as exc:
        return replies.bad_request(f"kirogate emulator: {exc}")
    return reply


async def mcp(request: web.Request) -> web.Response:
    state = state_of(request)
    account = authenticate(request)
    if account is None:
        return send_reply(request, replies.invalid_bearer())
    arn = request.headers.get("x-amzn-kiro-profile-arn")
    if arn and account.auth_method != "api_key" and arn != account.profile_arn:
        return send_reply(request, replies.profile_denied())
    planned = state.take_plan(account, http_only=True)
    if planned is not None:
        reply = _build(planned[0].build, Context({}).with_args(planned[1]))
        if isinstance(reply, HttpReply):
            return send_reply(request, reply)
    return json_response(websearch.answer(await read_json(request)))


async def get_usage_limits(request: web.Request) -> web.Response:
    state = state_of(request)
    account = authenticate(request)
    if account is None:
        return send_reply(request, replies.invalid_bearer())
    plan = state.peek_plan(account)
    usage = account.usage
    if plan is not None and plan.name == "suspended":
        return send_reply(request, replies.suspended())
    if plan is not None and plan.name == "quota":
        usage = dataclasses.replace(usage, bonuses=[dict(b) for b in usage.bonuses])
        usage.exhaust()
    wants_email = request.query.get("isEmailRequired", "").lower() == "true"
    document = usage_document(
        usage,
        now=state.now(),
        email=account.email if wants_email else None,
        user_id=account.user_id,
    )
    return json_response(document)


async def list_available_models(request: web.Request) -> web.Response:
    if authenticate(request) is None:
        return send_reply(request, replies.invalid_bearer())
    return json_response({"models": model_entries()})


async def list_available_profiles(request: web.Request) -> web.Response:
    account = authenticate(request)
    if account is None:
        return send_reply(request, replies.invalid_bearer())
    region = account.profile_arn.split(":")[3] if account.profile_arn.count(":") >= 5 else ""
    profile = {
        "arn": account.profile_arn,
        "profileName": f"KiroProfile-{region or 'us-east-1'}",
        "profileType": "Q_DEVELOPER",
        "status": "ACTIVE",
    }
    return json_response({"profiles": [profile]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/generateAssistantResponse", generate_assistant_response)
    app.router.add_post("/", amz_target)
    app.router.add_post("/mcp", mcp)
    app.router.add_get("/getUsageLimits", get_usage_limits)
    app.router.add_get("/ListAvailableModels", list_available_models)
    app.router.add_post("/listAvailableProfiles", list_available_profiles)
