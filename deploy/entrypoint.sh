#!/bin/sh
# The container's entrypoint (installed as /usr/local/bin/kirogate-entrypoint).
#
#   kirogate-entrypoint                  -> kirogate serve
#   kirogate-entrypoint --port 9000 ...  -> kirogate serve --port 9000 ...
#   kirogate-entrypoint serve|doctor|... -> kirogate serve|doctor|...
#   kirogate-entrypoint healthcheck      -> exit 0 when GET /health answers 200
#
# Before serving it checks that the data directory is writable, so a volume owned by
# another user fails with a fix instead of a traceback. Settings come from the
# environment (KIROGATE_*, PORT, API_KEY, CREDENTIALS_JSON, REFRESH_TOKEN ...).
set -eu

KIROGATE="${KIROGATE_BIN:-kirogate}"
PYTHON="${KIROGATE_PYTHON:-python}"

health_port() {
    echo "${KIROGATE_PORT:-${PORT:-8990}}"
}

healthcheck() {
    exec "$PYTHON" - "$(health_port)" <<'PY'
import sys
import urllib.request

url = f"http://127.0.0.1:{sys.argv[1]}/health"
try:
    with urllib.request.urlopen(url, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
    print(f"healthcheck: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

check_data_dir() {
    dir="${KIROGATE_DATA_DIR:-$HOME/.kirogate}"
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir" 2>/dev/null && chmod 700 "$dir" 2>/dev/null || true
    fi
    if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
        echo "kirogate: the data directory $dir is not writable by uid $(id -u)." >&2
        echo "  fix: chown $(id -u):$(id -g) the volume mounted there, or run the container" >&2
        echo "  with --user matching its owner, or set KIROGATE_DATA_DIR to a writable path." >&2
        exit 78
    fi
}

if [ "$#" -eq 0 ]; then
    set -- serve
fi
case "$1" in
    healthcheck)
        healthcheck
        ;;
    -*)
        set -- serve "$@"
        ;;
esac
if [ "$1" = serve ]; then
    check_data_dir
fi
exec "$KIROGATE" "$@"
