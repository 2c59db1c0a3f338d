"""The deployment files: what can be checked without a Docker engine or systemd.

The Dockerfile, compose.yaml, nginx.conf and the systemd unit are parsed for their
invariants; deploy/entrypoint.sh is run for real with a stub ``kirogate``.
"""

from __future__ import annotations

import fnmatch
import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kirogate.settings import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
NGINX = ROOT / "deploy" / "nginx.conf"
UNIT = ROOT / "deploy" / "kirogate.service"
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


# ---------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with line continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            image, _, alias = rest.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
            stages.append(Stage(image.strip(), alias.strip() or None))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))[1]


def test_dockerfile_uses_buildkit_syntax_for_copy_chmod() -> None:
    assert DOCKERFILE.read_text().startswith("# syntax=docker/dockerfile:1\n")


def test_dockerfile_is_multi_stage_on_python_312_slim(stages: list[Stage]) -> None:
    assert len(stages) == 2
    assert [s.base for s in stages] == ["python:3.12-slim", "python:3.12-slim"]
    build, runtime = stages
    assert build.name == "build"
    assert any("pip install" in run for run in build.all("RUN"))
    assert any(c.startswith("--from=build ") for c in runtime.all("COPY"))
    assert not any("pip install" in run for run in runtime.all("RUN"))


def test_runtime_runs_as_a_non_root_user(stages: list[Stage]) -> None:
    runtime = stages[-1]
    users = runtime.all("USER")
    assert users, "no USER in the final stage"
    assert users[-1] not in ("root", "0", "0:0")
    last_user = max(i for i, (kw, _) in enumerate(runtime.instructions) if kw == "USER")
    assert all(kw != "RUN" for kw, _ in runtime.instructions[last_user:])
    assert any("useradd" in run and "kirogate" in run for run in runtime.all("RUN"))


def test_runtime_exposes_the_port_with_a_healthcheck(stages: list[Stage]) -> None:
    runtime = stages[-1]
    assert runtime.all("EXPOSE") == [str(DEFAULT_PORT)]
    [health] = runtime.all("HEALTHCHECK")
    assert "CMD" in health and "healthcheck" in health
    assert '"kirogate-entrypoint"' in runtime.all("ENTRYPOINT")[0]


def test_runtime_sets_the_container_environment(stages: list[Stage]) -> None:
    env = " ".join(stages[-1].all("ENV"))
    assert "KIROGATE_HOST=0.0.0.0" in env
    assert "KIROGATE_DATA_DIR=/data" in env
    assert stages[-1].all("VOLUME") == ['["/data"]']
    # Env-only mode: nothing points at a credential file baked into the image.
    assert "KIROGATE_CREDENTIALS" not in env and "KIRO_FILE" not in env


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        for prefix in prefixes:
            tail_matches = any(
                fnmatch.fnmatchcase(prefix, c)
                or (c != pattern and any(fnmatch.fnmatchcase(p, c) for p in prefix.split("/")))
                for c in candidates
            )
            if tail_matches:
                ignored = not negate
    return ignored


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_everything_the_image_copies_exists_and_is_not_ignored(
    stages: list[Stage], ignore_patterns: list[str]
) -> None:
    sources: list[str] = []
    for stage in stages:
        for copy in stage.all("COPY"):
            words = [w for w in copy.split() if not w.startswith("--")]
            if copy.startswith("--from="):
                continue
            sources += words[:-1]
    assert {"pyproject.toml", "README.md", "src", "deploy/entrypoint.sh"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, ignore_patterns), f"{source} is excluded by .dockerignore"
    assert not _ignored("src/kirogate/store/migrations/script.py.mako", ignore_patterns)


@pytest.mark.parametrize(
    "secret",
    [
        ".env",
        ".git/config",
        "data/kirogate.db",
        "credentials.json",
        "sub/credentials.prod.json",
        "secret.key",
        "kirogate.log",
        "src/kirogate/x.db",
    ],
)
def test_dockerignore_keeps_secrets_and_state_out(secret: str, ignore_patterns: list[str]) -> None:
    assert _ignored(secret, ignore_patterns)


# ---------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def _services(compose: dict[str, object]) -> dict[str, dict[str, object]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def test_compose_default_is_one_kirogate_with_a_data_volume(compose: dict[str, object]) -> None:
    services = _services(compose)
    default = [name for name, svc in services.items() if not svc.get("profiles")]
    assert default == ["kirogate"]
    kirogate = services["kirogate"]
    assert kirogate["build"] == "."
    assert kirogate["volumes"] == ["kirogate-data:/data"]
    [port] = kirogate["ports"]
    assert str(port).endswith(f":{DEFAULT_PORT}")
    assert "127.0.0.1:" in str(port), (
        "published on localhost unless KIROGATE_PUBLISH says otherwise"
    )
    assert kirogate["env_file"] == [{"path": ".env", "required": False}]


def test_compose_scaled_profile_has_postgres_redis_replicas_and_nginx(
    compose: dict[str, object],
) -> None:
    services = _services(compose)
    scaled = {name for name, svc in services.items() if svc.get("profiles") == ["scaled"]}
    assert scaled == {"kirogate-scaled", "postgres", "redis", "nginx"}
    replicas = services["kirogate-scaled"]
    assert replicas["deploy"] == {"replicas": 2}
    env = replicas["environment"]
    assert isinstance(env, dict)
    assert env["KIROGATE_DATABASE_URL"].startswith("postgresql://kirogate:")
    assert "@postgres:5432/kirogate" in env["KIROGATE_DATABASE_URL"]
    assert env["KIROGATE_REDIS_URL"] == "redis://redis:6379/0"
    assert "ports" not in replicas, "replicas are reached through nginx only"
    assert replicas["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    password = "${POSTGRES_PASSWORD:-kirogate}"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    assert password in env["KIROGATE_DATABASE_URL"]
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]
    nginx = services["nginx"]
    assert nginx["depends_on"] == {"kirogate-scaled": {"condition": "service_healthy"}}
    [mount] = nginx["volumes"]
    assert mount.startswith("./deploy/nginx.conf:")
    assert "volumes" in compose and set(compose["volumes"]) >= {"kirogate-data", "postgres-data"}


def test_nginx_config_streams_without_buffering() -> None:
    text = NGINX.read_text(encoding="utf-8")
    assert "server kirogate-scaled:8990" in text
    assert "proxy_buffering off;" in text
    assert "proxy_http_version 1.1;" in text
    timeout = re.search(r"proxy_read_timeout (\d+)s;", text)
    assert timeout and int(timeout.group(1)) >= 300
    assert "X-Forwarded-For" in text
    assert "listen 8980;" in text
    if shutil.which("nginx"):  # pragma: no cover - not installed where this was written
        pytest.skip("nginx -t needs the compose network's DNS names")


# ---------------------------------------------------------------- systemd


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"line outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit_runs_kirogate_unprivileged_and_hardened() -> None:
    unit = parse_unit(UNIT.read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["User"] == "kirogate"
    assert service["ExecStart"].endswith("kirogate serve")
    assert service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "kirogate"
    assert service["StateDirectoryMode"] == "0700"
    assert service["UMask"] == "0077"
    assert service["EnvironmentFile"].startswith("-")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    assert "KIROGATE_DATA_DIR=/var/lib/kirogate" in unit["Service"]["Environment"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_rates_the_unit_as_well_confined(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for kirogate\.service: ([\d.]+)", proc.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze cannot rate unit files offline: {proc.stderr[:200]}")
    assert float(match.group(1)) <= 2.5, proc.stdout[-500:]


# ---------------------------------------------------------------- entrypoint


@pytest.fixture
def stub(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``kirogate`` records its arguments instead of running."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "kirogate"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$*" > "$STUB_OUT"\n', encoding="utf-8")
    script.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "STUB_OUT": str(tmp_path / "args"),
        "KIROGATE_DATA_DIR": str(tmp_path / "data"),
        "KIROGATE_PYTHON": sys.executable,
    }
    return env


def run_entrypoint(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30
    )


def stub_args(env: dict[str, str]) -> str:
    return Path(env["STUB_OUT"]).read_text(encoding="utf-8").strip()


def test_entrypoint_is_an_executable_posix_script() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)], timeout=10).returncode == 0


def test_entrypoint_serves_by_default_and_creates_the_data_dir(stub: dict[str, str]) -> None:
    proc = run_entrypoint(stub)
    assert proc.returncode == 0, proc.stderr
    assert stub_args(stub) == "serve"
    data = Path(stub["KIROGATE_DATA_DIR"])
    assert data.is_dir()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_entrypoint_passes_flags_to_serve(stub: dict[str, str]) -> None:
    assert run_entrypoint(stub, "--port", "9000", "--log-level", "debug").returncode == 0
    assert stub_args(stub) == "serve --port 9000 --log-level debug"


def test_entrypoint_passes_other_commands_through(stub: dict[str, str]) -> None:
    stub["KIROGATE_DATA_DIR"] = "/nonexistent/not/checked"
    assert run_entrypoint(stub, "doctor", "--json").returncode == 0
    assert stub_args(stub) == "doctor --json"


def test_entrypoint_explains_an_unusable_data_dir(stub: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    stub["KIROGATE_DATA_DIR"] = str(blocker)
    proc = run_entrypoint(stub, "serve")
    assert proc.returncode == 78
    assert f"the data directory {blocker} is not writable" in proc.stderr
    assert "chown" in proc.stderr
    assert not Path(stub["STUB_OUT"]).exists()


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthcheck_uses_kirogate_port_then_port(
    stub: dict[str, str], health_server: http.server.HTTPServer
) -> None:
    port = str(health_server.server_address[1])
    assert run_entrypoint(stub | {"PORT": port}, "healthcheck").returncode == 0
    both = stub | {"KIROGATE_PORT": port, "PORT": "1"}
    assert run_entrypoint(both, "healthcheck").returncode == 0
    wrong = stub | {"KIROGATE_PORT": "1", "PORT": port}
    proc = run_entrypoint(wrong, "healthcheck")
    assert proc.returncode == 1
    assert "127.0.0.1:1/health" in proc.stderr


def test_healthcheck_fails_on_an_unhealthy_answer(
    stub: dict[str, str], health_server: http.server.HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Health, "status", 503)
    proc = run_entrypoint(stub | {"PORT": str(health_server.server_address[1])}, "healthcheck")
    assert proc.returncode == 1
