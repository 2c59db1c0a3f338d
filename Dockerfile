# syntax=docker/dockerfile:1
# kirogate: Anthropic- and OpenAI-compatible gateway for Kiro credentials.
#
#   docker build -t kirogate .
#   docker run -d -p 8990:8990 -v kirogate-data:/data -e REFRESH_TOKEN=... kirogate
#
# This image was not built where kirogate is developed (no Docker engine there);
# tests/test_deploy_files.py checks these instructions and runs deploy/entrypoint.sh.
# See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------- build: a venv in /opt/kirogate
FROM ${PYTHON_IMAGE} AS build
ARG KIROGATE_EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/kirogate
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ -n "$KIROGATE_EXTRAS" ]; then target=".[$KIROGATE_EXTRAS]"; else target="."; fi \
 && /opt/kirogate/bin/pip install "$target" \
 && /opt/kirogate/bin/kirogate --version

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}
# uid 1000: what Hugging Face Spaces runs containers as; any uid works elsewhere.
ARG UID=1000
RUN groupadd --system --gid "$UID" kirogate \
 && useradd --system --uid "$UID" --gid kirogate --create-home --home-dir /home/kirogate \
      --shell /usr/sbin/nologin kirogate \
 && install -d -o kirogate -g kirogate -m 0700 /data
COPY --from=build /opt/kirogate /opt/kirogate
COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/kirogate-entrypoint
ENV PATH="/opt/kirogate/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KIROGATE_HOST=0.0.0.0 \
    KIROGATE_DATA_DIR=/data \
    KIROGATE_LOG_FORMAT=json
USER kirogate
WORKDIR /home/kirogate
VOLUME ["/data"]
EXPOSE 8990
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["kirogate-entrypoint", "healthcheck"]
ENTRYPOINT ["kirogate-entrypoint"]
CMD ["serve"]
