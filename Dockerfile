# syntax=docker/dockerfile:1
# One image for the API, the worker and migrations (the command picks the role).
# uv is pinned to the version that wrote uv.lock (`uv --version`: 0.13.9).
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.11-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system UV_PROJECT_ENVIRONMENT=/opt/imagegen
WORKDIR /build
COPY pyproject.toml uv.lock README.md .python-version ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
COPY src ./src
# a regular (non-editable) install of the project into the venv, bytecode compiled
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-editable

FROM python:3.11.11-slim-bookworm
RUN groupadd --system --gid 10001 imagegen \
 && useradd --system --uid 10001 --gid imagegen --create-home --home-dir /home/imagegen imagegen
COPY --from=build /opt/imagegen /opt/imagegen
ENV PATH="/opt/imagegen/bin:$PATH" PYTHONUNBUFFERED=1 \
    IMAGEGEN_HOST=0.0.0.0 IMAGEGEN_PORT=8000 IMAGEGEN_HOME=/home/imagegen/data \
    IMAGEGEN_LOG_FORMAT=json
USER imagegen
WORKDIR /home/imagegen
EXPOSE 8000
# liveness of the API role; compose gives the worker its own check (its metrics port)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('IMAGEGEN_PORT', '8000'), timeout=2)"]
CMD ["imagegen", "serve"]
