"""Emulator settings: one frozen dataclass built by the CLI or a test and handed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from kirogate.emulator.tls import TlsFiles
from kirogate.protocol.validation import ValidationLimits

# The shared profile ARN that social (Kiro desktop) accounts receive (spec auth §1.1).
SOCIAL_PROFILE_ARN: Final = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast streams flow, and the shape of the default reply in benchmark mode.

    With ``chunk_count`` or ``chunk_size`` set, the default reply is ``chunk_count`` text
    events of ``chunk_size`` characters (see :func:`kirogate.emulator.answers.paced_chunks`)
    instead of the echo; the unset one defaults to 16.
    """

    first_event_delay: float = 0.0
    event_delay: float = 0.0
    chunk_count: int | None = None
    chunk_size: int | None = None

    @property
    def benchmark(self) -> bool:
        return self.chunk_count is not None or self.chunk_size is not None


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything the emulator can be told at start; per-credential behaviour is set at runtime."""

    host: str = "127.0.0.1"
    port: int = 9000
    # runtime.kiro.dev behaviour: OAuth tokens must send a profileArn; API keys never may.
    require_profile_arn: bool = True
    max_body_bytes: int = 615_000
    access_token_ttl: int = 3600
    rotate_refresh_tokens: bool = True
    device_poll_interval: int = 1
    device_code_ttl: int = 600
    pacing: Pacing = field(default_factory=Pacing)
    # Split each streamed body into HTTP chunks of 1..N bytes (seeded); None writes per event.
    http_chunk_split: int | None = None
    seed: int = 0
    validation: ValidationLimits = field(default_factory=ValidationLimits)
    record_limit: int = 1000
    social_profile_arn: str = SOCIAL_PROFILE_ARN
    # New accounts' subscription title (usage document). FREE plans are not entitled to Opus
    # (spec data §2.3-10), so the demo runs on a paid title for Claude Code's Opus default.
    plan: str = "KIRO FREE"
    # Serve HTTPS with these files (kirogate.emulator.tls); None serves plain HTTP.
    tls: TlsFiles | None = None

    @property
    def scheme(self) -> str:
        return "http" if self.tls is None else "https"
